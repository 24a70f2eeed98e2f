"""The owner's one 办理 form (status, percent, evidence files and a note in one submit), 撤回 of a
submission not yet reviewed, and the reviewer's review bar (通过 / 退回, 标记受阻 / 取消 in a
secondary menu with one reason field)."""

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Evidence, JournalEntry

HX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def task(make_task):
    section = make_task("P11", ref="一", title="总体要求")
    return make_task("P11-QC", parent=section, ref="一.(一)", title="制定工作计划", deliverable="工作计划（盖章版）")


@pytest.fixture
def reporter(auth, make_user):
    return auth.login(make_user("reporter", "P11-QC"))


@pytest.fixture
def reviewer(make_user):
    return make_user("coordinator", "P11")


def handle(client, task, headers=HX, files=(), version=None, **data):
    form = {"version": str(task.version if version is None else version), **data}
    if files:
        form["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/tasks/{task.id}/handle", headers=headers, content_type="multipart/form-data", data=form)


def journal(task, action=None):
    query = select(JournalEntry).where(JournalEntry.task_id == task.id)
    if action:
        query = query.where(JournalEntry.action == action)
    return list(db.session.scalars(query.order_by(JournalEntry.id)))


def evidence_count(task) -> int:
    return db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id))


def stored_files(app) -> set[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return set(folder.iterdir()) if folder.exists() else set()


def test_the_task_page_has_one_handle_form_instead_of_separate_ones(client, reporter, task):
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert page.count('id="handle-form"') == 1
    form = page[page.index('id="handle-form"') : page.index("</form>", page.index('id="handle-form"'))]
    for name in ('name="target"', 'name="percent"', 'name="files"', "multiple", 'name="note"'):
        assert name in form
    assert "提交审核" in form and "开始办理" in form
    assert 'id="percent-form"' not in page and 'id="evidence-form"' not in page
    assert 'class="status-form' not in page  # the owner has no separate status buttons


def test_files_note_percent_and_submission_in_one_request(client, reporter, task, app):
    response = handle(
        client,
        task,
        target="submitted",
        percent="100",
        note="已按要求盖章",
        files=[("工作计划（盖章版）.pdf", PDF), ("签到表.png", PNG)],
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#task-panel"
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="work-count"' in body
    db.session.refresh(task)
    assert task.status == "submitted" and task.percent == 100
    items = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id).order_by(Evidence.id)).all()
    assert [(i.kind, i.original_name or i.note) for i in items] == [
        ("file", "工作计划（盖章版）.pdf"),
        ("file", "签到表.png"),
        ("note", "已按要求盖章"),
    ]
    for item in items[:2]:
        assert (Path(app.config["UPLOAD_DIR"]) / item.stored_name).exists()
    statuses = [(e.old_value, e.new_value) for e in journal(task, "status")]
    assert statuses == [("not_started", "in_progress"), ("in_progress", "submitted")]
    assert len(journal(task, "evidence")) == 3 and len(journal(task, "percent")) == 1
    assert all(e.user_id == reporter.id for e in journal(task))


def test_submitting_a_deliverable_without_evidence_or_note_is_refused_next_to_the_field(client, reporter, task, app):
    before = stored_files(app)
    response = handle(client, task, target="submitted", percent="80")
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#handle-form"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith("<form") and "<html" not in body and 'id="task-history"' not in body
    error = re.search(
        r'id="handle-files-\d+" class="[^"]*is-invalid[^"]*".*?<div class="invalid-feedback d-block"[^>]*>([^<]+)<',
        body,
        re.S,
    )
    assert error is not None and "工作计划（盖章版）" in error.group(1) and "佐证文件" in error.group(1)
    db.session.refresh(task)
    assert task.status == "not_started" and task.percent == 0
    assert journal(task) == [] and evidence_count(task) == 0
    assert stored_files(app) == before


def test_a_refused_file_among_several_leaves_nothing_behind(client, reporter, task, app):
    before = stored_files(app)
    response = handle(
        client,
        task,
        target="submitted",
        note="说明",
        files=[("好的.pdf", PDF), ("坏的.pdf", b"MZ\x90\x00" + b"\x00" * 40)],
    )
    assert response.status_code == 422
    assert "坏的.pdf" in response.get_data(as_text=True) and "文件内容不是 PDF 文件" in response.get_data(as_text=True)
    db.session.refresh(task)
    assert task.status == "not_started" and evidence_count(task) == 0 and journal(task) == []
    assert stored_files(app) == before


def test_a_note_alone_or_existing_evidence_is_enough_to_submit(client, reporter, task, make_task):
    assert handle(client, task, target="submitted", note="纸质材料已报送").status_code == 200
    db.session.refresh(task)
    assert task.status == "submitted"
    other = make_task("P11-QC", title="另一任务", deliverable="报告", status="in_progress")
    db.session.add(Evidence(task=other, user=reporter, kind="note", note="此前已上传"))
    db.session.commit()
    assert handle(client, other, target="submitted").status_code == 200
    db.session.refresh(other)
    assert other.status == "submitted"


def test_a_task_without_deliverable_submits_without_evidence(client, reporter, make_task):
    plain = make_task("P11-QC", title="无成果要求", status="in_progress")
    assert handle(client, plain, target="submitted").status_code == 200
    db.session.refresh(plain)
    assert plain.status == "submitted"


@pytest.mark.parametrize("percent", ["-1", "101", "abc", "5.5"])
def test_percent_is_validated(client, reporter, task, percent):
    response = handle(client, task, percent=percent, note="进展")
    assert response.status_code == 422
    assert "0 到 100" in response.get_data(as_text=True)
    db.session.refresh(task)
    assert task.percent == 0 and evidence_count(task) == 0 and journal(task) == []


def test_percent_alone_starts_the_task(client, reporter, task):
    assert handle(client, task, percent="40").status_code == 200
    db.session.refresh(task)
    assert task.status == "in_progress" and task.percent == 40


def test_without_htmx_the_form_redirects_with_303(client, reporter, task):
    response = handle(client, task, headers={}, target="in_progress", percent="20", files=[("计划.pdf", PDF)])
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/tasks/{task.id}")
    db.session.refresh(task)
    assert task.status == "in_progress" and task.percent == 20 and evidence_count(task) == 1


def test_without_htmx_a_refusal_shows_the_whole_page_with_the_error(client, reporter, task):
    response = handle(client, task, headers={}, target="submitted")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" in body and "is-invalid" in body and "佐证文件" in body


def test_out_of_scope_users_are_refused(client, auth, make_user, task):
    auth.login(make_user("reporter", "P31-QC"))
    assert handle(client, task, target="in_progress").status_code == 404
    auth.login(make_user("leader", "NHC"))
    assert handle(client, task, target="in_progress").status_code == 403
    db.session.refresh(task)
    assert task.status == "not_started" and journal(task) == []


def test_a_stale_version_gets_the_conflict_message_and_writes_nothing(client, reporter, task):
    stale = task.version
    assert handle(client, task, percent="30").status_code == 200
    db.session.refresh(task)
    response = handle(client, task, version=stale, percent="90", note="旧页面上的说明", target="submitted")
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#task-panel"
    assert "已被他人修改" in response.get_data(as_text=True)
    db.session.refresh(task)
    assert task.percent == 30 and task.status == "in_progress" and evidence_count(task) == 0


def test_a_status_the_owner_may_not_choose_is_refused(client, reporter, task):
    response = handle(client, task, target="accepted")
    assert response.status_code == 422
    db.session.refresh(task)
    assert task.status == "not_started"


# --- 撤回: the submitter's unit takes back a submission not yet reviewed -------------------------


def withdraw(client, task, version=None, headers=HX):
    return client.post(
        f"/tasks/{task.id}/withdraw",
        headers=headers,
        data={"version": str(task.version if version is None else version)},
    )


@pytest.fixture
def submitted(client, reporter, task):
    assert handle(client, task, target="submitted", note="材料见附件").status_code == 200
    db.session.refresh(task)
    assert task.status == "submitted"
    return task


def test_the_submitter_withdraws_a_submission_not_yet_reviewed(client, reporter, submitted):
    page = client.get(f"/tasks/{submitted.id}").get_data(as_text=True)
    assert 'id="withdraw-form"' in page and 'id="handle-form"' not in page
    response = withdraw(client, submitted)
    assert response.status_code == 200
    db.session.refresh(submitted)
    assert submitted.status == "in_progress"
    recall = journal(submitted, "recall")
    assert [(e.field, e.old_value, e.new_value, e.user_id) for e in recall] == [
        ("status", "submitted", "in_progress", reporter.id)
    ]
    body = response.get_data(as_text=True)
    assert "撤回了提交" in body and 'id="handle-form"' in body


def test_a_colleague_of_the_submitters_unit_may_withdraw(client, auth, make_user, submitted):
    auth.login(make_user("reporter", "P11-QC"))
    assert withdraw(client, submitted, headers={}).status_code == 303
    db.session.refresh(submitted)
    assert submitted.status == "in_progress"


def test_the_reviewer_cannot_withdraw_and_sees_no_button(client, auth, reviewer, submitted):
    auth.login(reviewer)
    assert 'id="withdraw-form"' not in client.get(f"/tasks/{submitted.id}").get_data(as_text=True)
    response = withdraw(client, submitted)
    assert response.status_code == 422 and "只有提交单位" in response.get_data(as_text=True)
    db.session.refresh(submitted)
    assert submitted.status == "submitted" and journal(submitted, "recall") == []


@pytest.mark.parametrize("decision", ["returned", "accepted"])
def test_withdrawal_is_refused_once_reviewed(client, auth, reporter, reviewer, submitted, decision):
    auth.login(reviewer)
    response = client.post(
        f"/tasks/{submitted.id}/status",
        headers=HX,
        data={"target": decision, "version": submitted.version, "comment": "请补充签章页"},
    )
    assert response.status_code == 200
    db.session.refresh(submitted)
    auth.login(reporter)
    assert 'id="withdraw-form"' not in client.get(f"/tasks/{submitted.id}").get_data(as_text=True)
    response = withdraw(client, submitted)
    assert response.status_code == 422 and "不能再撤回" in response.get_data(as_text=True)
    db.session.refresh(submitted)
    assert submitted.status == decision and journal(submitted, "recall") == []


def test_a_stale_withdrawal_is_refused(client, reporter, submitted):
    response = withdraw(client, submitted, version=submitted.version - 1)
    assert response.status_code == 409
    db.session.refresh(submitted)
    assert submitted.status == "submitted"


def test_out_of_scope_users_cannot_withdraw(client, auth, make_user, submitted):
    auth.login(make_user("reporter", "P31-QC"))
    assert withdraw(client, submitted).status_code == 404
    auth.login(make_user("leader", "NHC"))
    assert withdraw(client, submitted).status_code == 403
    db.session.refresh(submitted)
    assert submitted.status == "submitted"


# --- the review bar: 通过 / 退回 as the main actions, 标记受阻 / 取消 behind one reason field ----------


def review(client, task, target, comment="", headers=HX):
    return client.post(
        f"/tasks/{task.id}/status",
        headers=headers,
        data={"target": target, "version": task.version, "comment": comment},
    )


def review_bar(page: str) -> str:
    start = page.index('id="review-bar"')
    return page[start : page.index("</details>", start)]


def test_the_review_bar_has_two_main_actions_and_a_secondary_menu(client, auth, reviewer, submitted):
    auth.login(reviewer)
    page = client.get(f"/tasks/{submitted.id}").get_data(as_text=True)
    bar = review_bar(page)
    main, more = bar.split('<details class="review-more"')
    assert 'data-target="accepted"' in main and 'data-target="returned"' in main
    assert "通过" in main and "退回" in main and "退回原因（必填）" in main and "意见（选填）" in main
    assert "blocked" not in main and "cancelled" not in main
    assert "<summary" in more and "更多操作" in more
    assert more.count('name="comment"') == 1  # one reason field for both secondary actions
    assert 'value="blocked"' in more and 'value="cancelled"' in more and "标记受阻" in more and "取消任务" in more
    assert 'id="handle-form"' not in page  # the owner's form is not the reviewer's


def test_a_return_without_reason_answers_with_the_review_bar_fragment_only(client, auth, reviewer, submitted):
    auth.login(reviewer)
    before = len(journal(submitted))
    response = review(client, submitted, "returned", comment="  ")
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#review-bar" and response.headers["HX-Reswap"] == "outerHTML"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="review-bar"')
    assert "<html" not in body and 'id="task-history"' not in body and 'id="task-panel"' not in body
    field = re.search(r'id="review-returned-\d+" name="comment" class="[^"]*is-invalid', body)
    assert field is not None and "请填写原因" in body[field.end() :].split("</form>")[0]
    db.session.refresh(submitted)
    assert submitted.status == "submitted" and len(journal(submitted)) == before


def test_a_secondary_action_without_reason_opens_the_menu_with_the_error(client, auth, reviewer, submitted):
    auth.login(reviewer)
    body = review(client, submitted, "blocked").get_data(as_text=True)
    assert '<details class="review-more" open>' in body and "请填写原因" in body and "is-invalid" in body
    db.session.refresh(submitted)
    assert submitted.status == "submitted"


def test_without_htmx_a_missing_reason_shows_the_page_with_the_error(client, auth, reviewer, submitted):
    auth.login(reviewer)
    response = review(client, submitted, "returned", headers={})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "<html" in body and "请填写原因" in body


def test_blocking_from_the_menu_and_accepting_with_a_comment_are_journaled(
    client, auth, reviewer, submitted, make_task
):
    auth.login(reviewer)
    response = review(client, submitted, "accepted", comment="材料齐全")
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    db.session.refresh(submitted)
    assert submitted.status == "accepted"
    assert journal(submitted, "status")[-1].comment == "材料齐全"
    other = make_task("P11-QC", title="另一任务", status="in_progress")
    assert review(client, other, "blocked", comment="等待上级文件").status_code == 200
    db.session.refresh(other)
    assert other.status == "blocked" and journal(other, "status")[-1].comment == "等待上级文件"


def test_accept_is_hidden_with_its_reason_when_the_reviewer_is_not_independent(client, auth, make_user, task):
    # a coordinator of P11 submits the P11-QC task (as a unit above its owner): another coordinator
    # of P11 may return it, but not accept a submission of their own unit
    auth.login(make_user("coordinator", "P11"))
    assert handle(client, task, target="submitted", note="由省卫健委代为提交").status_code == 200
    auth.login(make_user("coordinator", "P11"))
    page = client.get(f"/tasks/{task.id}", headers=HX).get_data(as_text=True)
    assert "<html" not in page and 'id="review-bar"' in page
    assert 'data-target="accepted"' not in page and 'data-target="returned"' in page
    assert 'id="review-conflict"' in page and "本次报送来自您的单位" in page


def test_on_the_task_page_no_tree_rows_are_sent_out_of_band(client, reporter, task):
    # the standalone task page has no tree: out-of-band rows would have no target (an htmx error)
    on_page = handle(client, task, headers={**HX, "X-Task-Panel": "page"}, percent="10").get_data(as_text=True)
    assert "row-progress-" not in on_page and 'id="work-count"' in on_page
    db.session.refresh(task)
    in_tree = handle(client, task, percent="20").get_data(as_text=True)
    assert f'id="row-progress-{task.id}" hx-swap-oob="true"' in in_tree
    assert f'id="row-progress-{task.parent_id}"' not in in_tree  # P11's heading: a context row for P11-QC
