"""Bulk actions on a selection (the task list and the review queue of my work): a provincial
commission accepts, returns or re-dates many tasks at once; each task goes through its own rules
(scope, state machine, review independence), is journaled and its owners told; the refused ones
are reported with the reason; a bulk acceptance is a fixed number of SQL statements."""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import count_queries
from tracker.extensions import db
from tracker.models import JournalEntry, NoticeEvent, Notification, OverdueExplanation, Task, TaskWatcher
from tracker.models.notify import ACCEPTED, CHANGED, RETURNED
from tracker.plans import bulk, journal
from tracker.plans.bulk import Outcome
from tracker.plans.operations import NotAllowed
from tracker.timeutil import local_today

HX = {"HX-Request": "true"}


@pytest.fixture
def people(make_user):
    return {
        "reviewer": make_user("coordinator", "P11"),  # 北京市卫生健康委: reviews the units under it
        "reporter": make_user("reporter", "P11-QC"),
        "centre_coordinator": make_user("coordinator", "P11-QC"),
        "other_reporter": make_user("reporter", "P31-QC"),
        "leader": make_user("leader", "NHC"),
        "admin": make_user("admin", "NHC"),
    }


def submitted(make_task, owner: str, submitter, parent=None, **values) -> Task:
    """A task of `owner` submitted for review by `submitter` (journaled, as the 办理 form does)."""
    values.setdefault("title", "报送季度质控工作进展")
    values.setdefault("percent", 90)
    task = make_task(owner, parent=parent, status="submitted", **values)
    journal.record(task, submitter, "status", "status", "in_progress", "submitted")
    db.session.commit()
    return task


@pytest.fixture
def in_request(app):
    """The reasons are translated when shown: a request (the default locale, Chinese) to read them."""
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh"):
        yield


def ids_of(tasks) -> list[int]:
    return [t.id for t in tasks]


def notices(user, kind=None) -> Counter:
    query = select(Notification.task_id).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return Counter(db.session.scalars(query))


# --- the service ------------------------------------------------------------------------------------


def test_a_provincial_commission_accepts_its_submissions_each_journaled_and_told_once(make_task, people):
    section = make_task("P11", ref="一", title="加强组织实施")
    tasks = [submitted(make_task, "P11-QC", people["reporter"], parent=section, weight=1.0) for _ in range(3)]
    watcher = people["other_reporter"]  # a watcher elsewhere hears of it too, once per task
    db.session.add(TaskWatcher(task_id=tasks[0].id, user_id=people["reporter"].id))  # owner and watcher: once
    db.session.add(TaskWatcher(task_id=tasks[1].id, user_id=watcher.id))
    explanation = OverdueExplanation(
        task_id=tasks[2].id,
        due_on=date(2026, 1, 1),
        reason="other",
        detail="等待数据",
        committed_on=date(2099, 1, 1),
        user_id=people["reporter"].id,
        state="open",
    )
    db.session.add(explanation)
    db.session.commit()

    result = bulk.accept_tasks(people["reviewer"], ids_of(tasks), "材料齐全")
    db.session.commit()

    assert [o.done for o in result.outcomes] == [True, True, True] and result.refused == []
    for task in tasks:
        db.session.refresh(task)
        assert (task.status, task.percent, task.progress, task.completed_on) == ("accepted", 100, 100.0, local_today())
        rows = db.session.execute(
            select(JournalEntry.field, JournalEntry.old_value, JournalEntry.new_value, JournalEntry.comment)
            .where(JournalEntry.task_id == task.id, JournalEntry.user_id == people["reviewer"].id)
            .order_by(JournalEntry.id)
        ).all()
        assert rows == [("status", "submitted", "accepted", "材料齐全"), ("percent", "90", "100", "")]
    db.session.refresh(section)
    assert section.progress == pytest.approx(100.0)  # the roll-up of the parent
    db.session.refresh(explanation)
    assert explanation.state == "kept"
    # the owners are told once per task (the reporter also watches the first: still once)
    assert notices(people["reporter"], ACCEPTED) == Counter({t.id: 1 for t in tasks})
    assert notices(people["centre_coordinator"], ACCEPTED) == Counter({t.id: 1 for t in tasks})
    assert notices(watcher, ACCEPTED) == Counter({tasks[1].id: 1})
    assert notices(people["reviewer"]) == Counter()  # never the actor


def test_the_refused_are_left_as_they_are_and_reported_with_the_reason(make_task, make_user, people, in_request):
    reviewer = people["reviewer"]
    good = submitted(make_task, "P11-QC", people["reporter"], title="可以通过的任务")
    not_submitted = make_task("P11-QC", title="还在办理中的任务", status="in_progress")
    own_unit = submitted(make_task, "P11", make_user("reporter", "P11"), title="本单位自己的任务")
    elsewhere = submitted(make_task, "P31-QC", people["other_reporter"], title="上海的任务")
    colleague = make_user("reporter", "P11")  # a colleague of the reviewer submitted it: four eyes
    own_submission = submitted(make_task, "P11-QC", colleague, title="本单位同事提交的任务")
    ids = [good.id, not_submitted.id, own_unit.id, elsewhere.id, own_submission.id, 987654321]

    result = bulk.accept_tasks(reviewer, ids)
    db.session.commit()

    outcomes = {o.task_id: Outcome(o.task_id, o.done, o.title, str(o.reason)) for o in result.outcomes}
    assert [o.task_id for o in result.outcomes] == ids  # the order of the selection
    assert [o.task_id for o in result.done] == [good.id]
    assert "不在待审核状态" in outcomes[not_submitted.id].reason and "进行中" in outcomes[not_submitted.id].reason
    assert outcomes[own_unit.id].reason == "您无权进行此项变更。"
    assert outcomes[elsewhere.id].title == "" and outcomes[elsewhere.id].reason == outcomes[987654321].reason
    assert "上海" not in outcomes[elsewhere.id].reason  # what one may not see is not named
    assert "您的单位" in outcomes[own_submission.id].reason
    for task in (not_submitted, own_unit, elsewhere, own_submission):
        db.session.refresh(task)
        assert task.status in ("in_progress", "submitted")
        assert not db.session.scalar(
            select(func.count()).where(JournalEntry.task_id == task.id, JournalEntry.user_id == reviewer.id)
        )


def test_a_return_needs_one_reason_and_tells_it_to_each_owner(make_task, people):
    tasks = [submitted(make_task, "P11-QC", people["reporter"]) for _ in range(2)]
    with pytest.raises(bulk.SelectionError):
        bulk.return_tasks(people["reviewer"], ids_of(tasks), "  ")
    result = bulk.return_tasks(people["reviewer"], ids_of(tasks), "缺少盖章页，请补充")
    db.session.commit()
    assert len(result.done) == 2
    for task in tasks:
        db.session.refresh(task)
        assert task.status == "returned"
        assert (
            db.session.scalar(
                select(JournalEntry.comment).where(
                    JournalEntry.task_id == task.id, JournalEntry.new_value == "returned"
                )
            )
            == "缺少盖章页，请补充"
        )
    assert notices(people["reporter"], RETURNED) == Counter({t.id: 1 for t in tasks})
    messages = db.session.scalars(
        select(NoticeEvent.message)
        .join(Notification, Notification.event_id == NoticeEvent.id)
        .where(Notification.user_id == people["reporter"].id, Notification.kind == RETURNED)
    )
    assert set(messages) == {"缺少盖章页，请补充"}


def test_moving_due_dates_edits_the_open_tasks_a_coordinator_coordinates(make_task, people, in_request):
    coordinator = people["reviewer"]
    open_task = make_task("P11-QC", title="监测数据报送", due_on=date(2026, 3, 31), status="in_progress")
    own = make_task("P11", title="本委任务", due_on=date(2026, 3, 31))
    done = make_task("P11-QC", title="已通过的任务", due_on=date(2026, 3, 31), status="accepted")
    same = make_task("P11-QC", title="已是该日期", due_on=date(2026, 6, 30))
    new_due = date(2026, 6, 30)

    result = bulk.move_due_dates(coordinator, [open_task.id, own.id, done.id, same.id], new_due, "统一延期")
    db.session.commit()

    assert [o.task_id for o in result.done] == [open_task.id, own.id]
    reasons = {o.task_id: str(o.reason) for o in result.refused}
    assert "已通过" in reasons[done.id] and reasons[same.id] == "截止日期已是该日。"
    db.session.refresh(open_task)
    db.session.refresh(done)
    assert open_task.due_on == new_due and done.due_on == date(2026, 3, 31)
    row = db.session.execute(
        select(
            JournalEntry.action,
            JournalEntry.field,
            JournalEntry.old_value,
            JournalEntry.new_value,
            JournalEntry.comment,
        ).where(JournalEntry.task_id == open_task.id)
    ).one()
    assert tuple(row) == ("edit", "due_on", "2026-03-31", "2026-06-30", "统一延期")
    assert notices(people["reporter"], CHANGED) == Counter({open_task.id: 1})
    message = db.session.scalar(
        select(NoticeEvent.message)
        .join(Notification, Notification.event_id == NoticeEvent.id)
        .where(Notification.user_id == people["reporter"].id, Notification.kind == CHANGED)
    )
    assert "2026-06-30" in message


def test_moving_a_cascade_child_marks_it_as_its_own_and_a_template_carries_its_children(make_task, make_user):
    """Tasks of a cascade go through the same sync as a single edit: a child moved on its own keeps
    its date when the template moves later; a template moved in bulk takes its children along."""
    from tests.test_cascade import children_of
    from tracker.cascade.service import LIST, TargetSpec, cascade_task
    from tracker.models.cascade import CascadeChild

    national = make_user("coordinator", "NHC")
    template = make_task("NHC", plan_key="cascade-plan", title="制定本省份实施方案", due_on=date(2026, 6, 30))
    cascade_task(template, national, TargetSpec(LIST, codes=["P11", "P12"]))
    plain = make_task("P11", title="不在分解下达中的任务", due_on=date(2026, 6, 30))
    db.session.commit()
    beijing = next(c for c in children_of(template) if c.owner_unit.code == "P11")
    tianjin = next(c for c in children_of(template) if c.owner_unit.code == "P12")
    version = plain.version

    result = bulk.move_due_dates(make_user("coordinator", "P11"), [beijing.id, plain.id], date(2026, 7, 31))
    db.session.commit()
    assert len(result.done) == 2
    assert db.session.scalar(select(CascadeChild.due_overridden).where(CascadeChild.task_id == beijing.id))
    db.session.refresh(plain)
    assert plain.due_on == date(2026, 7, 31) and plain.version == version + 1  # optimistic locking holds

    bulk.move_due_dates(national, [template.id], date(2026, 9, 30))
    db.session.commit()
    for task in (beijing, tianjin):
        db.session.refresh(task)
    assert (beijing.due_on, tianjin.due_on) == (date(2026, 7, 31), date(2026, 9, 30))


def test_moving_due_dates_is_a_fixed_number_of_statements_for_tasks_outside_cascades(make_task, people):
    counts = {}
    for n in (10, 50):
        ids = [make_task("P11-QC", due_on=date(2026, 3, 1)).id for _ in range(n)]
        db.session.expire_all()
        reviewer = db.session.merge(people["reviewer"])
        with count_queries() as statements:
            bulk.move_due_dates(reviewer, ids, date(2026, 4, 1 + n % 20))
            db.session.commit()
        counts[n] = statements()
        assert (
            db.session.scalar(select(func.count()).where(Task.id.in_(ids), Task.due_on == date(2026, 4, 1 + n % 20)))
            == n
        )
    print(f"bulk move due date statements: 10 tasks {counts[10]}, 50 tasks {counts[50]}")
    assert counts[50] == counts[10], counts


def test_a_leader_and_a_reporter_cannot_use_the_bulk_write_actions(make_task, people):
    task = submitted(make_task, "P11-QC", people["reporter"])
    for role in ("leader", "reporter"):
        with pytest.raises(NotAllowed):
            bulk.accept_tasks(people[role], [task.id])
        with pytest.raises(NotAllowed):
            bulk.move_due_dates(people[role], [task.id], date(2026, 9, 1))
    db.session.refresh(task)
    assert task.status == "submitted"


def test_a_selection_is_one_to_two_hundred_distinct_ids():
    assert bulk.selection(["3", "1", "3", "x", "-2", " 7 ", "1" * 30]) == [3, 1, 7]
    with pytest.raises(bulk.SelectionError):
        bulk.selection([])
    with pytest.raises(bulk.SelectionError):
        bulk.selection([str(i) for i in range(1, 202)])
    assert len(bulk.selection([str(i) for i in range(1, 201)])) == 200


# --- bounded SQL --------------------------------------------------------------------------------------


LAST = [None]


def _review_queue(make_task, people, n: int) -> list[Task]:
    """n submissions at 100 %, under sections two levels deep (the roll-up climbs two levels)."""
    top = make_task("P11", ref=f"top-{n}", title="总体要求")
    sections = [make_task("P11", parent=top, ref=f"sec-{n}-{i}", title=f"第{i}节") for i in range(3)]
    return [submitted(make_task, "P11-QC", people["reporter"], parent=sections[i % 3], percent=100) for i in range(n)]


def test_bulk_accept_of_50_is_as_many_statements_as_of_10_and_writes_50_journal_rows(make_task, people):
    reviewer = people["reviewer"]
    counts = {}
    for n in (10, 50):
        tasks = _review_queue(make_task, people, n)
        ids = ids_of(tasks)
        db.session.expire_all()
        before = db.session.scalar(select(func.count()).select_from(JournalEntry))
        reviewer = db.session.merge(reviewer)
        with count_queries() as statements:
            result = bulk.accept_tasks(reviewer, ids)
            db.session.commit()
        counts[n] = statements()
        LAST[0] = statements.sql
        assert len(result.done) == n
        assert db.session.scalar(select(func.count()).select_from(JournalEntry)) - before == n
        assert (
            db.session.scalar(
                select(func.count()).where(JournalEntry.task_id.in_(ids), JournalEntry.new_value == "accepted")
            )
            == n
        )
        assert (
            db.session.scalar(
                select(func.count()).where(Notification.task_id.in_(ids), Notification.user_id == people["reporter"].id)
            )
            == n
        )
    print(f"bulk accept statements: 10 tasks {counts[10]}, 50 tasks {counts[50]}")
    if counts[50] != counts[10]:
        print("\n".join(LAST[0]))
    assert counts[50] == counts[10] and counts[50] <= 20, counts


def test_the_bulk_accept_request_is_as_many_statements_for_50_as_for_10(client, auth, make_task, people):
    auth.login(people["reviewer"])
    counts = {}
    for n in (10, 50):
        tasks = _review_queue(make_task, people, n)
        data = {"action": "accept", "source": "tasks", "task": [str(i) for i in ids_of(tasks)]}
        with count_queries() as statements:
            response = client.post("/tasks/bulk", data=data, headers=HX)
        assert response.status_code == 200
        counts[n] = statements()
    print(f"bulk accept request statements: 10 tasks {counts[10]}, 50 tasks {counts[50]}")
    assert counts[50] == counts[10], counts


# --- the routes ------------------------------------------------------------------------------------


def test_accept_from_the_task_list_with_htmx_answers_the_bar_the_result_and_a_reload(client, auth, make_task, people):
    tasks = [submitted(make_task, "P11-QC", people["reporter"], title=f"批量任务{i}") for i in range(3)]
    auth.login(people["reviewer"])
    page = client.get("/tasks?status=submitted").get_data(as_text=True)
    assert 'id="bulk-form"' in page and 'value="accept"' in page and 'value="move_due"' in page
    assert page.count('name="task"') == 3 and "data-select-all" in page
    response = client.post(
        "/tasks/bulk",
        data={"action": "accept", "source": "tasks", "next": "/tasks?status=submitted", "task": ids_of(tasks)},
        headers=HX,
    )
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<form id="bulk-form"') and "<html" not in body
    assert 'id="bulk-result" hx-swap-oob="true"' in body and "已通过 3 项" in body
    assert 'id="work-count"' in body
    assert json.loads(response.headers["HX-Trigger"]) == {"bulk-done": {"refresh": "#results"}}
    assert all(db.session.get(Task, t.id).status == "accepted" for t in tasks)


def test_without_javascript_the_bar_posts_and_comes_back_to_the_list_with_the_result(client, auth, make_task, people):
    good = submitted(make_task, "P11-QC", people["reporter"], title="可以通过")
    early = make_task("P11-QC", title="尚未提交的任务", status="in_progress")
    auth.login(people["reviewer"])
    response = client.post(
        "/tasks/bulk",
        data={"action": "accept", "source": "tasks", "next": "/tasks?status=submitted", "task": [good.id, early.id]},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks?status=submitted")
    page = client.get("/tasks?status=submitted").get_data(as_text=True)
    assert "已通过 1 项；1 项未处理：" in page and "“尚未提交的任务”" in page
    # "select all on this page" without JavaScript: the page's ids come along
    more = [submitted(make_task, "P11-QC", people["reporter"]) for _ in range(2)]
    client.post(
        "/tasks/bulk",
        data={"action": "return", "comment": "请补充", "source": "tasks", "page_all": "1", "page_task": ids_of(more)},
    )
    assert {db.session.get(Task, t.id).status for t in more} == {"returned"}
    # an address elsewhere is not followed
    response = client.post("/tasks/bulk", data={"action": "accept", "next": "https://evil.example/", "task": [good.id]})
    assert response.headers["Location"].endswith("/tasks")


def test_a_refused_bar_shows_its_error_next_to_the_field_and_writes_nothing(client, auth, make_task, people):
    task = submitted(make_task, "P11-QC", people["reporter"])
    auth.login(people["reviewer"])
    cases = [
        ({"action": "return", "comment": " "}, 'id="bulk-comment-error"', "请填写原因"),
        ({"action": "move_due"}, 'id="bulk-due-error"', "请选择新的截止日期"),
        ({"action": "move_due", "due_on": "1900-01-01"}, 'id="bulk-due-error"', "2000"),
        ({"action": "drop table"}, 'id="bulk-selection-error"', "请选择一项操作"),
        ({"action": "accept", "task": []}, 'id="bulk-selection-error"', "请先勾选任务"),
        ({"action": "accept", "task": [str(i) for i in range(1, 202)]}, 'id="bulk-selection-error"', "200"),
        ({"action": "accept", "comment": "长" * 5001}, 'id="bulk-comment-error"', "5000"),
    ]
    for data, where, text in cases:
        data = {"source": "tasks", "task": [task.id], **data}
        response = client.post("/tasks/bulk", data=data, headers=HX)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, data
        assert where in body and text in body, (data, body)
        assert "HX-Trigger" not in response.headers
    db.session.refresh(task)
    assert task.status == "submitted" and task.due_on is None


def test_leaders_get_403_and_reporters_see_no_bulk_review_actions(client, auth, make_task, people):
    task = submitted(make_task, "P11-QC", people["reporter"])
    for role in ("leader", "reporter"):
        auth.login(people[role])
        page = client.get("/tasks").get_data(as_text=True)
        assert 'id="bulk-form"' in page and "导出所选" in page  # exporting a selection is reading
        assert 'value="accept"' not in page and 'value="return"' not in page and 'value="move_due"' not in page
        for action in ("accept", "return", "move_due"):
            response = client.post(
                "/tasks/bulk", data={"action": action, "comment": "x", "due_on": "2026-09-01", "task": [task.id]}
            )
            assert response.status_code == 403, (role, action)
    db.session.refresh(task)
    assert task.status == "submitted"


def test_export_selected_writes_the_visible_ones_as_text(client, auth, make_task, people):
    mine = make_task("P11-QC", title='=HYPERLINK("http://x")', due_on=date(2026, 5, 1))
    plain = make_task("P11-QC", title="普通任务", due_on=date(2026, 4, 1))
    hidden = make_task("P31-QC", title="上海的任务")
    for role in ("reporter", "leader", "reviewer"):
        auth.login(people[role])
        response = client.post("/tasks/bulk/export", data={"task": [mine.id, plain.id, hidden.id], "source": "tasks"})
        assert response.status_code == 200, role
        sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
        cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        titles = [row[2] for row in sheet.iter_rows(min_row=3, values_only=True)]
        expected = ["普通任务", '=HYPERLINK("http://x")'] + (["上海的任务"] if role == "leader" else [])
        assert titles == expected, role
    response = client.post("/tasks/bulk/export", data={"source": "work", "next": "/"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/")


def test_the_review_queue_of_my_work_takes_a_bulk_accept(client, auth, make_task, people):
    tasks = [submitted(make_task, "P11-QC", people["reporter"], title=f"待审核{i}") for i in range(3)]
    auth.login(people["reviewer"])
    page = client.get("/").get_data(as_text=True)
    review = page[page.index('id="work-review"') :]
    assert 'id="bulk-form"' in review and review.count('name="task"') == 3
    assert 'value="move_due"' not in review  # the queue: accept, return, export
    response = client.post(
        "/tasks/bulk", data={"action": "accept", "source": "work", "task": ids_of(tasks)}, headers=HX
    )
    assert json.loads(response.headers["HX-Trigger"]) == {"bulk-done": {"refresh": "#my-work"}}
    # the reload of the list it acted on
    fragment = client.get("/", headers={**HX, "HX-Target": "my-work"}).get_data(as_text=True)
    assert "<html" not in fragment and "待审核0" not in fragment
    # a reporter has no queue and no bar
    auth.login(people["reporter"])
    assert 'id="bulk-form"' not in client.get("/").get_data(as_text=True)


def test_hostile_comment_and_titles_stay_text(client, auth, make_task, people):
    task = submitted(make_task, "P11-QC", people["reporter"], title="<script>alert(1)</script>")
    early = make_task("P11-QC", title="<img src=x onerror=alert(2)>", status="in_progress")
    auth.login(people["reviewer"])
    response = client.post(
        "/tasks/bulk",
        data={
            "action": "return",
            "comment": "<b>理由</b>",
            "source": "tasks",
            "task": [task.id, early.id, "1e9", "--"],
        },
        headers=HX,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(2)&gt;" in body
    assert (
        db.session.scalar(
            select(JournalEntry.comment).where(JournalEntry.task_id == task.id, JournalEntry.new_value == "returned")
        )
        == "<b>理由</b>"
    )


# --- sorting and page sizes -----------------------------------------------------------------------------


def _titles(body: str, prefix: str) -> list[str]:
    return re.findall(rf'href="/tasks/\d+">({prefix}[^<]*)</a>', body)


def test_the_task_list_sorts_by_each_column_both_ways(client, auth, make_task, make_unit, people):
    make_unit("P11-A", "P11", name="甲医院")
    make_unit("P11-B", "P11", name="乙医院")
    today = local_today()
    make_task("P11-B", title="排序丙", due_on=today + timedelta(days=1), status="submitted")
    make_task("P11-A", title="排序甲", due_on=today + timedelta(days=3), status="accepted")
    make_task("P11-A", title="排序乙", due_on=None, status="not_started")
    auth.login(people["reviewer"])

    def order(sort):
        response = client.get(f"/tasks?q=排序&sort={sort}")
        assert response.status_code == 200
        return _titles(response.get_data(as_text=True), "排序")

    assert order("due") == ["排序丙", "排序甲", "排序乙"]  # none last
    assert order("-due") == ["排序乙", "排序甲", "排序丙"]  # exactly reversed
    assert order("title") == sorted(["排序丙", "排序甲", "排序乙"])
    assert order("-title") == sorted(["排序丙", "排序甲", "排序乙"], reverse=True)
    assert order("status") == ["排序乙", "排序丙", "排序甲"]  # 未开始, 已提交, 已通过: the workflow's order
    assert order("-status") == ["排序甲", "排序丙", "排序乙"]
    assert order("owner")[0] == "排序丙" and order("-owner")[-1] == "排序丙"  # 乙医院 before 甲医院 (by code point)
    assert order("-updated")[0] == "排序丙" and order("updated")[0] == "排序乙"
    body = client.get("/tasks?q=排序&sort=title&per_page=50").get_data(as_text=True)
    assert 'aria-sort="ascending"' in body and "sort=-title" in body  # the header offers the reverse
    assert '<input type="hidden" name="per_page" value="50">' in body  # the filters keep the page size
    fragment = client.get("/tasks?q=排序&sort=-title", headers={**HX, "HX-Target": "content"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="filters"' in text and 'selected value="-title"' in text


def test_an_order_that_does_not_exist_is_a_form_error_not_a_500(client, auth, people):
    auth.login(people["reviewer"])
    for sort in ("drop table", "-", "--due", "title;"):
        response = client.get("/tasks", query_string={"sort": sort})
        assert response.status_code == 200 and 'text-danger small">排序' in response.get_data(as_text=True)


def test_on_postgresql_the_reversed_default_orders_read_the_index_backwards(database_url, make_user):
    """ "-due" and "-updated" are the exact reverses of the default orders: the same indexes serve
    them (due dates read backwards, changes oldest first read forwards), with no Sort of the
    matching tasks (as tests/test_task_lists.py checks the defaults)."""
    import random

    from tests.conftest import requires_postgresql
    from tests.test_task_lists import _plan
    from tests.test_work_counts import TODAY, USERS, _national_shape
    from tracker.plans.queries import TaskFilters, filtered_tasks, task_order

    requires_postgresql(database_url, "query plans are PostgreSQL's")
    users = [make_user(role, code) for role, code in USERS]
    _national_shape(random.Random(11))
    db.session.connection().exec_driver_sql("SET LOCAL enable_sort = off")
    wide = [u for u in users if u.sees_everything or (u.role == "coordinator" and u.unit.code == "NHC")]
    for user in wide:
        for sort, index in (
            ("-due", "Index Scan Backward using ix_tasks_due_on_id"),
            ("-updated", "ix_tasks_updated_at_id"),
        ):
            filters = TaskFilters(sort=sort)
            query = filtered_tasks(user, filters, TODAY).order_by(*task_order(sort)).limit(50).offset(2450)
            plan = _plan(query)
            assert "Seq Scan on tasks" not in plan, (user.role, sort, plan)
            assert index in plan, (user.role, sort, plan)
            assert not re.search(r"(^|->\s+)Sort\s+\(", plan, re.M), (user.role, sort, plan)


def test_a_task_changed_meanwhile_fails_the_whole_action_and_nothing_is_written(
    client, auth, make_task, people, monkeypatch
):
    """Optimistic locking as in a single action: the selection is written against the versions it
    was read at; one task changed in between (another reviewer's return) and nothing is written."""
    from sqlalchemy import update

    tasks = [submitted(make_task, "P11-QC", people["reporter"]) for _ in range(3)]
    read = bulk.selected_tasks

    def read_then_someone_else_writes(user, ids):
        found = read(user, ids)
        db.session.execute(
            update(Task)
            .where(Task.id == tasks[1].id)
            .values(version=Task.version + 1)
            .execution_options(synchronize_session=False)  # another process: this session does not know
        )
        return found

    monkeypatch.setattr(bulk, "selected_tasks", read_then_someone_else_writes)
    auth.login(people["reviewer"])
    before = db.session.scalar(select(func.count()).select_from(JournalEntry))
    response = client.post(
        "/tasks/bulk", data={"action": "accept", "source": "tasks", "task": ids_of(tasks)}, headers=HX
    )
    assert response.status_code == 422 and "本次未做任何更改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {db.session.get(Task, t.id).status for t in tasks} == {"submitted"}
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == before
