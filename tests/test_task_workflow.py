"""The task page and its actions: status workflow, percent, comments, edits with optimistic
locking; each HTMX endpoint with and without HX-Request; permission refusals."""

import re

import pytest
from sqlalchemy import select

from tests.conftest import unit
from tracker.extensions import db
from tracker.models import JournalEntry, Task

HX = {"HX-Request": "true"}


@pytest.fixture
def tree(make_task):
    section = make_task("P11", ref="一", title="总体要求")
    leaf = make_task("P11-QC", parent=section, ref="一.(一)", title="制定死亡病例抽查工作计划", weight=1.0)
    other = make_task("P11-QC", parent=section, ref="一.(二)", title="月度抽查", weight=3.0)
    return section, leaf, other


@pytest.fixture
def reporter(make_user):
    return make_user("reporter", "P11-QC")


@pytest.fixture
def reviewer(make_user):
    return make_user("coordinator", "P11")


def post_status(client, task, target, comment="", headers=None):
    return client.post(
        f"/tasks/{task.id}/status",
        data={"target": target, "version": task.version, "comment": comment},
        headers=headers or {},
    )


def journal(task, action=None):
    query = select(JournalEntry).where(JournalEntry.task_id == task.id)
    if action:
        query = query.where(JournalEntry.action == action)
    return list(db.session.scalars(query.order_by(JournalEntry.id)))


def test_task_page_full_and_fragment(client, auth, reporter, tree):
    _, leaf, _ = tree
    auth.login(reporter)
    full = client.get(f"/tasks/{leaf.id}")
    fragment = client.get(f"/tasks/{leaf.id}", headers=HX)
    assert "<html" in full.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    for response in (full, fragment):
        text = response.get_data(as_text=True)
        assert "制定死亡病例抽查工作计划" in text and "开始办理" in text
        assert "HX-Request" in response.headers["Vary"]


def test_the_whole_review_cycle(client, auth, reporter, reviewer, tree):
    section, leaf, other = tree
    auth.login(reporter)
    assert post_status(client, leaf, "in_progress", headers=HX).status_code == 200
    assert post_status(client, leaf, "submitted", headers=HX).status_code == 200
    auth.login(reviewer)
    response = post_status(client, leaf, "returned", comment="材料不全，请补充签章页", headers=HX)
    assert response.status_code == 200
    assert "材料不全，请补充签章页" in response.get_data(as_text=True)
    auth.login(reporter)
    page = client.get(f"/tasks/{leaf.id}").get_data(as_text=True)
    assert "材料不全，请补充签章页" in page and "已退回" in page
    post_status(client, leaf, "in_progress", headers=HX)
    post_status(client, leaf, "submitted", headers=HX)
    auth.login(reviewer)
    response = post_status(client, leaf, "accepted", headers=HX)
    db.session.refresh(leaf)
    db.session.refresh(section)
    assert leaf.status == "accepted" and leaf.progress == 100
    assert section.progress == pytest.approx(25.0)  # weights 1 and 3: (1*100 + 3*0) / 4
    body = response.get_data(as_text=True)
    assert f'id="row-progress-{section.id}" hx-swap-oob="true"' in body
    assert 'id="work-count"' in body and 'hx-swap-oob="true"' in body
    statuses = [(e.old_value, e.new_value) for e in journal(leaf, "status")]
    assert statuses == [
        ("not_started", "in_progress"),
        ("in_progress", "submitted"),
        ("submitted", "returned"),
        ("returned", "in_progress"),
        ("in_progress", "submitted"),
        ("submitted", "accepted"),
    ]
    assert all(e.user_id for e in journal(leaf, "status"))


def test_without_htmx_an_action_redirects_to_the_task_page(client, auth, reporter, tree):
    _, leaf, _ = tree
    auth.login(reporter)
    response = post_status(client, leaf, "in_progress")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/tasks/{leaf.id}")


def test_return_needs_a_reason(client, auth, reporter, reviewer, tree):
    _, leaf, _ = tree
    leaf.status = "submitted"
    db.session.commit()
    auth.login(reviewer)
    response = post_status(client, leaf, "returned", comment="  ", headers=HX)
    assert response.status_code == 422
    assert "请填写原因" in response.get_data(as_text=True)
    db.session.refresh(leaf)
    assert leaf.status == "submitted"


def test_a_reporter_cannot_accept_their_own_submission(client, auth, reporter, tree):
    _, leaf, _ = tree
    leaf.status = "submitted"
    db.session.commit()
    auth.login(reporter)
    response = post_status(client, leaf, "accepted", headers=HX)
    assert response.status_code == 422
    assert "无权" in response.get_data(as_text=True)
    db.session.refresh(leaf)
    assert leaf.status == "submitted"


def test_a_coordinator_of_the_owner_unit_itself_cannot_accept(client, auth, make_user, tree):
    _, leaf, _ = tree
    leaf.status = "submitted"
    db.session.commit()
    auth.login(make_user("coordinator", "P11-QC"))
    assert post_status(client, leaf, "accepted", headers=HX).status_code == 422


def test_a_reporter_cannot_act_on_another_units_task(client, auth, make_user, make_task):
    shanghai = make_task("P31-QC")
    auth.login(make_user("reporter", "P11-QC"))
    assert client.get(f"/tasks/{shanghai.id}").status_code == 404
    assert post_status(client, shanghai, "in_progress").status_code == 404
    db.session.refresh(shanghai)
    assert shanghai.status == "not_started"


def test_a_leader_sees_but_cannot_change_anything(client, auth, make_user, tree):
    _, leaf, _ = tree
    auth.login(make_user("leader", "NHC"))
    page = client.get(f"/tasks/{leaf.id}").get_data(as_text=True)
    assert "制定死亡病例抽查工作计划" in page and "开始办理" not in page
    assert post_status(client, leaf, "in_progress", headers=HX).status_code == 403
    assert client.post(f"/tasks/{leaf.id}/percent", data={"percent": 50, "version": leaf.version}).status_code == 403
    assert client.post(f"/tasks/{leaf.id}/comments", data={"text": "好"}).status_code == 403
    assert client.get(f"/tasks/{leaf.id}/edit").status_code == 403
    db.session.refresh(leaf)
    assert leaf.status == "not_started" and leaf.percent == 0


def test_percent_update_starts_the_task_and_rolls_up(client, auth, reporter, tree):
    section, leaf, other = tree
    auth.login(reporter)
    response = client.post(f"/tasks/{other.id}/percent", data={"percent": 40, "version": other.version}, headers=HX)
    assert response.status_code == 200
    db.session.refresh(other)
    db.session.refresh(section)
    assert other.status == "in_progress" and other.percent == 40
    assert section.progress == pytest.approx(30.0)  # (1*0 + 3*40) / 4


@pytest.mark.parametrize("percent", ["-1", "101", "abc", ""])
def test_percent_refuses_bad_values(client, auth, reporter, tree, percent):
    _, leaf, _ = tree
    auth.login(reporter)
    response = client.post(f"/tasks/{leaf.id}/percent", data={"percent": percent, "version": leaf.version}, headers=HX)
    assert response.status_code == 422
    db.session.refresh(leaf)
    assert leaf.percent == 0


def test_comment_is_journaled(client, auth, reporter, tree):
    _, leaf, _ = tree
    auth.login(reporter)
    response = client.post(f"/tasks/{leaf.id}/comments", data={"text": "已召开专题会"}, headers=HX)
    assert "已召开专题会" in response.get_data(as_text=True)
    assert [e.comment for e in journal(leaf, "comment")] == ["已召开专题会"]


def test_a_coordinator_edits_and_every_field_is_journaled(client, auth, reviewer, tree):
    _, leaf, _ = tree
    auth.login(reviewer)
    form = client.get(f"/tasks/{leaf.id}/edit", headers=HX).get_data(as_text=True)
    assert 'id="edit-form"' in form
    response = client.post(
        f"/tasks/{leaf.id}/edit",
        headers=HX,
        data={
            "version": leaf.version,
            "title": "制定并上交死亡病例抽查工作计划",
            "description": "",
            "owner": unit("P11-QC").id,
            "co_owners": "P11",
            "due_on": "2024-04-22",
            "deliverable": "工作计划",
            "weight": "2",
            "comment": "按通知要求",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.refresh(leaf)
    assert leaf.title == "制定并上交死亡病例抽查工作计划" and str(leaf.due_on) == "2024-04-22" and leaf.weight == 2
    assert [u.code for u in leaf.co_owners] == ["P11"]
    fields = {e.field for e in journal(leaf, "edit")}
    assert fields == {"title", "due_on", "deliverable", "weight", "co_owners"}
    assert all(e.comment == "按通知要求" for e in journal(leaf, "edit"))


def test_a_stale_edit_is_refused_with_409_and_overwrites_nothing(client, auth, reviewer, make_user, tree):
    _, leaf, _ = tree
    stale_version = leaf.version
    auth.login(make_user("reporter", "P11-QC"))
    client.post(f"/tasks/{leaf.id}/percent", data={"percent": 60, "version": leaf.version}, headers=HX)
    auth.login(reviewer)
    response = client.post(
        f"/tasks/{leaf.id}/edit",
        headers=HX,
        data={
            "version": stale_version,
            "title": "旧版本上的修改",
            "owner": unit("P11-QC").id,
            "weight": "1",
        },
    )
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "已被他人修改" in text and "60%" in text
    db.session.refresh(leaf)
    assert leaf.title == "制定死亡病例抽查工作计划"


def test_a_stale_status_change_is_refused(client, auth, reporter, tree):
    _, leaf, _ = tree
    auth.login(reporter)
    stale = leaf.version
    post_status(client, leaf, "in_progress", headers=HX)
    response = client.post(f"/tasks/{leaf.id}/status", data={"target": "submitted", "version": stale}, headers=HX)
    assert response.status_code == 409
    db.session.refresh(leaf)
    assert leaf.status == "in_progress"


def test_edit_refuses_an_owner_outside_the_coordinators_scope(client, auth, reviewer, tree):
    _, leaf, _ = tree
    auth.login(reviewer)
    response = client.post(
        f"/tasks/{leaf.id}/edit",
        headers=HX,
        data={"version": leaf.version, "title": leaf.title, "owner": unit("P31-QC").id, "weight": "1"},
    )
    assert response.status_code == 422
    db.session.refresh(leaf)
    assert leaf.owner_unit.code == "P11-QC"


def test_edit_refuses_unknown_co_owner_codes(client, auth, reviewer, tree):
    _, leaf, _ = tree
    auth.login(reviewer)
    response = client.post(
        f"/tasks/{leaf.id}/edit",
        headers=HX,
        data={
            "version": leaf.version,
            "title": leaf.title,
            "owner": unit("P11-QC").id,
            "weight": "1",
            "co_owners": "P11, NOPE",
        },
    )
    assert response.status_code == 422 and "NOPE" in response.get_data(as_text=True)


def test_my_work_lists_overdue_due_soon_returned_and_review(client, auth, make_user, make_task, make_unit):
    from datetime import timedelta

    from tracker.timeutil import local_today

    today = local_today()
    # A unit of its own, so that the seed plans' (long overdue) tasks do not count here.
    make_unit("P11-TEST", "P11", kind="qc_center", level="provincial")
    make_task("P11-TEST", title="逾期任务", due_on=today - timedelta(days=3))
    make_task("P11-TEST", title="本周到期", due_on=today + timedelta(days=2))
    make_task("P11-TEST", title="被退回的任务", status="returned")
    make_task("P11-TEST", title="待审核的任务", status="submitted")
    make_task("P31-QC", title="上海的逾期任务", due_on=today - timedelta(days=3))
    auth.login(make_user("reporter", "P11-TEST"))
    page = client.get("/").get_data(as_text=True)
    assert "逾期任务" in page and "本周到期" in page and "被退回的任务" in page
    assert "上海的逾期任务" not in page
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', page))
    assert (
        counts["overdue"] == "1" and counts["due_soon"] == "1" and counts["returned"] == "1" and counts["review"] == "0"
    )
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/").get_data(as_text=True)
    assert "待审核的任务" in page
    assert dict(re.findall(r'data-count="(\w+)">(\d+)<', page))["review"] == "1"


def test_filters_list_and_active_search(client, auth, make_user, tree):
    _, leaf, other = tree
    auth.login(make_user("leader", "NHC"))
    response = client.get("/plans/fixture-plan?q=月度", headers={**HX, "HX-Target": "results"})
    text = response.get_data(as_text=True)
    assert "月度抽查" in text and "制定死亡病例抽查工作计划" not in text and "<html" not in text
    assert 'id="filters"' not in text  # only the results block
    full = client.get("/plans/fixture-plan?q=月度").get_data(as_text=True)
    assert 'value="月度"' in full and "<html" in full
    bad = client.get("/plans/fixture-plan?due_from=2024-05-01&due_to=2024-04-01").get_data(as_text=True)
    assert "结束日期早于开始日期" in bad
    assert client.get("/plans/fixture-plan?due_from=2024-02-30").status_code == 200


def test_task_list_is_paginated(client, auth, make_user, make_task, app):
    for i in range(7):
        make_task("P11-QC", title=f"分页任务{i}")
    auth.login(make_user("reporter", "P11-QC"))
    app.config["PAGE_SIZE"] = 5
    try:
        first = client.get("/tasks?q=分页任务").get_data(as_text=True)
        second = client.get("/tasks?q=分页任务&page=2").get_data(as_text=True)
    finally:
        app.config["PAGE_SIZE"] = 50
    assert first.count("分页任务") >= 5 and "page=2" in first and "共 7 项任务" in first
    assert 'aria-current="page"><span class="page-link">2<' in second and "page=1" in second and "q=" in second


def test_a_reviewer_above_reopens_accepted_work_with_a_reason_and_the_owner_is_told(client, auth, make_user, make_task):
    """Accept is not the end: a coordinator above the owner reopens the task (退回重办) with a reason;
    it is returned to the owner, no longer done, journaled and notified. The owner cannot reopen
    their own accepted work, nobody reopens without a reason, and a cancelled task stays cancelled."""
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import JournalEntry, Notification

    task = make_task("P11-QC", title="已通过的任务", status="accepted", percent=100, progress=100)
    task.completed_on = task.due_on
    db.session.commit()
    reporter = make_user("reporter", "P11-QC")
    auth.login(reporter)
    refused = client.post(
        f"/tasks/{task.id}/status", data={"target": "returned", "version": task.version, "comment": "再改改"}
    )
    assert refused.status_code in (403, 422) and db.session.get(Task, task.id).status == "accepted"
    coordinator = make_user("coordinator", "P11")
    auth.login(coordinator)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "重新打开" in page
    empty = client.post(
        f"/tasks/{task.id}/status", data={"target": "returned", "version": task.version, "comment": " "}
    )
    assert empty.status_code == 422 and db.session.get(Task, task.id).status == "accepted"
    done = client.post(
        f"/tasks/{task.id}/status", data={"target": "returned", "version": task.version, "comment": "数据有误，请重报"}
    )
    assert done.status_code in (200, 303)
    db.session.expire_all()
    reopened = db.session.get(Task, task.id)
    assert reopened.status == "returned" and reopened.completed_on is None
    entry = db.session.scalars(
        select(JournalEntry)
        .where(JournalEntry.task_id == task.id, JournalEntry.field == "status")
        .order_by(JournalEntry.id.desc())
    ).first()
    assert (entry.old_value, entry.new_value, entry.comment) == ("accepted", "returned", "数据有误，请重报")
    told = db.session.scalars(select(Notification.user_id).where(Notification.task_id == task.id)).all()
    assert reporter.id in told
