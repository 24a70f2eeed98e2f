"""Plans and tasks made by hand (立项交办): a coordinator creates a plan for their unit, adds tasks
anywhere in a plan in their scope, moves and deletes them; an ad-hoc item (交办事项) in two
clicks from my work; the receiving unit sees its task at once. All journaled, all scoped."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from tests.conftest import count_queries, unit
from tracker.extensions import db
from tracker.models import AuditEntry, Evidence, JournalEntry, Notification, Plan, Task
from tracker.plans import manual
from tracker.plans.queries import my_work


def _plan(key: str) -> Plan:
    return db.session.scalar(select(Plan).where(Plan.key == key))


def _task(plan: Plan, ref: str) -> Task:
    return db.session.scalar(select(Task).where(Task.plan_id == plan.id, Task.ref == ref))


def _journal(task: Task) -> list[tuple]:
    return [
        (e.action, e.field, e.old_value, e.new_value)
        for e in db.session.scalars(
            select(JournalEntry).where(JournalEntry.task_id == task.id).order_by(JournalEntry.id)
        )
    ]


@pytest.fixture
def beijing(make_user):
    return make_user("coordinator", "P11")


@pytest.fixture
def qc_reporter(make_user):
    return make_user("reporter", "P11-QC", username="bj_qc_rep")


def _new_plan(client, **values):
    data = {
        "title": "北京市医疗质量提升专项行动",
        "doc_number": "京卫医〔2026〕8号",
        "issuer": "北京市卫生健康委员会",
        "unit": "P11",
        "issued_on": "2026-03-01",
        "period_start": "2026-03-01",
        "period_end": "2026-12-31",
        "phases-0-name": "部署阶段",
        "phases-0-start_on": "2026-03-01",
        "phases-0-end_on": "2026-04-30",
        "phases-1-name": "实施阶段",
        "phases-1-start_on": "2026-05-01",
        "phases-1-end_on": "2026-12-31",
    }
    data.update(values)
    return client.post("/plans/new", data=data)


def _new_task(client, plan: Plan, parent: Task | None = None, **values):
    data = {
        "title": "制定质控工作方案",
        "owner": "P11-QC",
        "co_owners": "P12-QC",
        "responsible": "bj_qc_rep",
        "start_on": "2026-03-01",
        "due_on": "2026-06-30",
        "deliverable": "工作方案",
        "weight": "2",
        "description": "",
    }
    data.update(values)
    if parent is not None:
        data["parent"] = str(parent.id)
    return client.post(f"/plans/{plan.key}/tasks/new", data=data)


def _created_plan(client) -> Plan:
    response = _new_plan(client)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    key = response.headers["Location"].rsplit("/", 1)[-1]
    return _plan(key)


def test_a_coordinator_creates_a_plan_for_their_unit_with_phases_journaled(client, auth, beijing):
    auth.login(beijing)
    form = client.get("/plans/new").get_data(as_text=True)
    assert "北京市卫生健康委" in form and 'name="phases-0-name"' in form
    plan = _created_plan(client)
    assert (plan.title, plan.doc_number, plan.issuer, plan.issuer_unit.code) == (
        "北京市医疗质量提升专项行动",
        "京卫医〔2026〕8号",
        "北京市卫生健康委员会",
        "P11",
    )
    assert (plan.issued_on, plan.period_start, plan.period_end) == (
        date(2026, 3, 1),
        date(2026, 3, 1),
        date(2026, 12, 31),
    )
    assert [(p.name, p.start_on, p.end_on) for p in plan.phases] == [
        ("部署阶段", date(2026, 3, 1), date(2026, 4, 30)),
        ("实施阶段", date(2026, 5, 1), date(2026, 12, 31)),
    ]
    assert plan.key.startswith("p11-")
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.subject == "plan", AuditEntry.subject_id == plan.id)
    )
    assert (entry.action, entry.actor_id) == ("create", beijing.id)
    page = client.get(f"/plans/{plan.key}").get_data(as_text=True)
    assert 'id="add-task"' in page


def test_a_plan_needs_a_title_a_unit_of_ones_own_and_sane_dates(client, auth, beijing):
    auth.login(beijing)
    before = db.session.scalar(select(func.count()).select_from(Plan))
    for values, field, message in [
        ({"title": ""}, "title", ""),
        ({"unit": "P12"}, "unit", "不是本单位或下级单位"),  # another province
        ({"period_end": "2026-01-01"}, "period_end", "结束日期早于开始日期"),
        ({"phases-1-name": "部署阶段"}, "phases-1-name", "有两个阶段都叫"),
        ({"phases-0-end_on": "2026-02-01"}, "phases-0-end_on", "结束日期早于开始日期"),
    ]:
        response = _new_plan(client, **values)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page and message in page, values
    assert db.session.scalar(select(func.count()).select_from(Plan)) == before


def test_reporters_and_leaders_make_no_plans_or_ad_hoc_items(client, auth, make_user):
    for role, code in (("reporter", "P11-QC"), ("leader", "NHC")):
        auth.login(make_user(role, code))
        for url in ("/plans/new", "/adhoc/new"):
            assert client.get(url).status_code == 403, (role, url)
            assert client.post(url, data={"title": "x"}).status_code == 403, (role, url)
        assert "新建交办事项" not in client.get("/").get_data(as_text=True)


def test_tasks_on_two_levels_are_numbered_owned_and_reach_the_receiving_unit_at_once(
    client, auth, beijing, qc_reporter, make_user
):
    qc_coordinator = make_user("coordinator", "P11-QC")
    auth.login(beijing)
    plan = _created_plan(client)
    phase = plan.phases[1]
    response = _new_task(client, plan, phase=str(phase.id))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    top = _task(plan, "1")
    assert (top.title, top.owner_unit.code, [u.code for u in top.co_owners], top.responsible_user_id) == (
        "制定质控工作方案",
        "P11-QC",
        ["P12-QC"],
        qc_reporter.id,
    )
    assert (top.start_on, top.due_on, top.deliverable, top.weight, top.phase_id, top.origin) == (
        date(2026, 3, 1),
        date(2026, 6, 30),
        "工作方案",
        2.0,
        phase.id,
        "manual",
    )
    assert top.path == f"/{top.id}/" and top.depth == 0 and top.assigned_at is not None  # 待签收 for P11-QC
    assert response.headers["Location"] == f"/tasks/{top.id}"
    page = client.get(f"/tasks/{top.id}").get_data(as_text=True)
    assert 'id="add-subtask"' in page and 'id="move-task-link"' in page and 'id="delete-task-link"' in page
    response = _new_task(client, plan, top, title="各医院上报质控数据", responsible="", co_owners="", weight="1")
    assert response.status_code == 303
    child = _task(plan, "1.1")
    assert child.parent_id == top.id and child.path == f"/{top.id}/{child.id}/" and child.depth == 1
    assert _journal(child)[0][0] == "create" and _journal(top)[0][0] == "create"
    # the receiving unit: its reporter sees both in my work (待签收), its coordinators were told
    work = my_work(qc_reporter, today=date(2026, 3, 2))
    assert {t.id for t in work.lists["unsigned"]} == {top.id, child.id}
    told = set(db.session.scalars(select(Notification.task_id).where(Notification.user_id == qc_coordinator.id)))
    assert {top.id, child.id} <= told
    assert db.session.scalar(
        select(Notification.id).where(Notification.user_id == qc_reporter.id, Notification.task_id == top.id)
    )  # the responsible person was told of the top one
    auth.login(qc_reporter)
    assert "制定质控工作方案" in client.get("/").get_data(as_text=True)


def test_a_bad_task_is_refused_field_by_field_and_nothing_is_stored(client, auth, beijing, make_user):
    make_user("reporter", "P12-QC", username="tj_rep")
    auth.login(beijing)
    plan = _created_plan(client)
    for values, field, message in [
        ({"title": ""}, "title", ""),
        ({"owner": "P12-QC"}, "owner", "必须是本单位或下级单位"),  # outside the subtree
        ({"owner": "查无此单位"}, "owner", "查无此单位"),
        ({"co_owners": "P11-QC, 乱写的单位"}, "co_owners", "乱写的单位"),
        ({"responsible": "tj_rep"}, "responsible", "tj_rep"),  # not of the owner unit
        ({"due_on": "2026-02-01"}, "due_on", "截止日期早于开始日期"),
        ({"weight": "0"}, "weight", ""),
    ]:
        response = _new_task(client, plan, **values)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page and message in page, values
    assert not db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == plan.id))


def test_a_province_breaks_down_a_national_task_it_owns_but_not_others_or_the_top(client, auth, beijing):
    national = _plan("tumor-2021")
    own = db.session.scalar(
        select(Task).where(Task.plan_id == national.id, Task.owner_unit_id == unit("P11").id).limit(1)
    )
    other = db.session.scalar(
        select(Task).where(Task.plan_id == national.id, Task.owner_unit_id == unit("P12").id).limit(1)
    )
    auth.login(beijing)
    response = _new_task(client, national, own, title="北京分解任务", responsible="", co_owners="")
    assert response.status_code == 303
    child = db.session.scalar(select(Task).where(Task.parent_id == own.id, Task.title == "北京分解任务"))
    assert child.ref.startswith(own.ref + ".") and child.owner_unit.code == "P11-QC"
    assert _new_task(client, national, other, title="越权").status_code == 404  # not even seen
    assert client.get(f"/plans/{national.key}/tasks/new").status_code == 403  # the top: NHC's
    assert 'id="add-task"' not in client.get(f"/plans/{national.key}").get_data(as_text=True)


@pytest.fixture
def tree(client, auth, beijing):
    """A plan of P11 with 1 (1.1, 1.1.1) and 2."""
    auth.login(beijing)
    plan = _created_plan(client)
    a = manual.add_task(beijing, plan, None, manual.TaskValues("一", unit("P11-QC")))
    b = manual.add_task(beijing, plan, a, manual.TaskValues("一之一", unit("P11-QC")))
    c = manual.add_task(beijing, plan, b, manual.TaskValues("一之一之一", unit("P11-QC")))
    d = manual.add_task(beijing, plan, None, manual.TaskValues("二", unit("P11")))
    db.session.commit()
    return plan, a, b, c, d


def test_moving_a_task_moves_everything_under_it_and_journals_it(client, auth, beijing, tree):
    plan, a, b, c, d = tree
    response = client.post(f"/tasks/{b.id}/move", data={"version": b.version, "parent": "2"})
    assert response.status_code == 303
    db.session.expire_all()
    assert b.parent_id == d.id and b.path == f"/{d.id}/{b.id}/" and b.depth == 1
    assert c.path == f"/{d.id}/{b.id}/{c.id}/" and c.depth == 2
    assert ("move", "parent_id", "1 一", "2 二") in _journal(b)
    assert "上级节点: 1 一 → 2 二" in client.get(f"/tasks/{b.id}").get_data(as_text=True)
    # to the top of the plan
    assert client.post(f"/tasks/{c.id}/move", data={"version": c.version, "parent": ""}).status_code == 303
    db.session.expire_all()
    assert c.parent_id is None and c.path == f"/{c.id}/" and c.depth == 0
    # refused: under itself, under its own descendant, a node that does not exist
    for target, message in ((b.ref, "不能移到自身之下"), ("9.9", "没有编号为")):
        response = client.post(f"/tasks/{b.id}/move", data={"version": b.version, "parent": target})
        assert response.status_code == 422 and message in response.get_data(as_text=True), target
    response = client.post(f"/tasks/{d.id}/move", data={"version": d.version, "parent": b.ref})
    assert response.status_code == 422 and "其下级任务之下" in response.get_data(as_text=True)
    # a stale version: nothing is overwritten
    assert client.post(f"/tasks/{b.id}/move", data={"version": b.version - 1, "parent": ""}).status_code == 409
    db.session.expire_all()
    assert b.parent_id == d.id


def test_a_move_is_a_fixed_number_of_statements_whatever_the_subtree(beijing, tree):
    plan, a, b, c, d = tree
    for n in range(40):
        manual.add_task(beijing, plan, c, manual.TaskValues(f"叶{n}", unit("P11-QC")))
    db.session.commit()
    with count_queries() as statements:
        manual.move_task(beijing, b, d)
    assert statements() <= 20, statements.sql
    db.session.commit()
    db.session.expire_all()
    leaves = list(db.session.scalars(select(Task).where(Task.parent_id == c.id)))
    assert len(leaves) == 40 and all(t.path == f"/{d.id}/{b.id}/{c.id}/{t.id}/" and t.depth == 3 for t in leaves)


def test_a_task_nothing_was_reported_on_is_deleted_with_its_subtree_and_the_plan_journal_says_so(
    client, auth, beijing, tree
):
    plan, a, b, c, d = tree
    page = client.get(f"/tasks/{b.id}/delete").get_data(as_text=True)
    assert 'id="delete-form"' in page and "其下 1 项任务一并删除" in page
    ids = (b.id, c.id)
    response = client.post(f"/tasks/{b.id}/delete", data={"version": b.version})
    assert response.status_code == 303 and response.headers["Location"] == f"/tasks/{a.id}"
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.id.in_(ids))) == 0
    assert db.session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.task_id.in_(ids))) == 0
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.subject == "plan", AuditEntry.subject_id == plan.id)
        .order_by(AuditEntry.id.desc())
    )
    assert "删除任务" in entry.comment and "一之一" in entry.comment and entry.actor_id == beijing.id


def test_a_task_with_reports_is_not_deleted_the_page_offers_to_cancel_it(client, auth, beijing, tree, qc_reporter):
    plan, a, b, c, d = tree
    db.session.add(Evidence(task=c, user=qc_reporter, kind="note", note="会议纪要", original_name="", stored_name=""))
    db.session.commit()
    page = client.get(f"/tasks/{a.id}/delete").get_data(as_text=True)
    assert 'id="delete-refused"' in page and 'id="cancel-form"' in page and 'id="delete-form"' not in page
    response = client.post(f"/tasks/{a.id}/delete", data={"version": a.version})
    assert response.status_code == 422 and "请撤销，不能删除" in response.get_data(as_text=True)
    assert db.session.get(Task, c.id) is not None
    response = client.post(
        f"/tasks/{a.id}/status", data={"target": "cancelled", "version": a.version, "comment": "不再需要"}
    )
    assert response.status_code == 303
    db.session.refresh(a)
    assert a.status == "cancelled"
    d.percent = 10  # a percentage is a report too
    db.session.commit()
    assert manual.deletion_refusal(d) is not None


def test_only_the_coordinator_over_the_owner_moves_or_deletes(client, auth, tree, make_user):
    plan, a, b, c, d = tree
    for role, code, expected in (("reporter", "P11-QC", 403), ("coordinator", "P12", 404), ("leader", "NHC", 403)):
        auth.login(make_user(role, code))
        for url in (f"/tasks/{b.id}/move", f"/tasks/{b.id}/delete"):
            assert client.get(url).status_code == expected, (role, url)
            assert client.post(url, data={"version": b.version}).status_code == expected, (role, url)
    assert db.session.get(Task, b.id) is not None


# --- 交办事项 ------------------------------------------------------------------------------------


def test_an_ad_hoc_item_is_two_clicks_from_my_work_into_the_standing_plan_made_on_first_use(
    client, auth, beijing, qc_reporter
):
    auth.login(beijing)
    work = client.get("/").get_data(as_text=True)
    assert 'id="new-adhoc"' in work and 'hx-get="/adhoc/new"' in work and 'id="adhoc-new"' in work
    fragment = client.get("/adhoc/new", headers={"HX-Request": "true", "HX-Target": "adhoc-new"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="adhoc-form"' in body
    assert "北京市卫生健康委" in body  # the owner defaults to one's own unit
    assert _plan("adhoc-p11") is None
    data = {"title": "落实市领导关于院感防控的批示", "owner": "P11-QC", "due_on": "2026-04-15", "source": "leader"}
    response = client.post("/adhoc/new", data=data, headers={"HX-Request": "true", "HX-Target": "adhoc-new"})
    assert response.status_code == 200 and response.headers["HX-Redirect"].startswith("/tasks/")
    plan = _plan("adhoc-p11")
    assert (plan.title, plan.issuer_unit.code) == ("交办事项", "P11")
    item = _task(plan, "1")
    assert (item.title, item.owner_unit.code, item.due_on, item.notes) == (
        "落实市领导关于院感防控的批示",
        "P11-QC",
        date(2026, 4, 15),
        "领导交办事项",
    )
    assert [
        e.action
        for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.subject_id == plan.id, AuditEntry.subject == "plan")
        )
    ] == ["create"]
    # without JavaScript: the same form, post/redirect/get; the second item joins the same plan
    response = client.post("/adhoc/new", data=dict(data, title="会议议定：开展专项检查", source="meeting"))
    assert response.status_code == 303
    assert _task(plan, "2").notes == "会议议定事项"
    assert db.session.scalar(select(func.count()).select_from(Plan).where(Plan.key.startswith("adhoc-"))) == 1
    # the receiving unit's reporter has both waiting in my work
    titles = {t.title for t in my_work(qc_reporter, today=date(2026, 4, 1)).lists["unsigned"]}
    assert titles == {"落实市领导关于院感防控的批示", "会议议定：开展专项检查"}


def test_a_bad_ad_hoc_item_answers_its_form_with_the_errors_next_to_the_fields(client, auth, beijing):
    auth.login(beijing)
    response = client.post(
        "/adhoc/new", data={"title": "", "owner": "P31", "source": "leader"}, headers={"HX-Request": "true"}
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in body and 'id="adhoc-form"' in body
    assert body.count("invalid-feedback") >= 1 and 'id="title"' in body
    response = client.post("/adhoc/new", data={"title": "越权交办", "owner": "P31", "source": "leader"})
    assert response.status_code == 422 and "必须是本单位或下级单位" in response.get_data(as_text=True)
    assert _plan("adhoc-p11") is None  # nothing half-written: not even the standing plan


def test_the_new_plan_page_and_forms_have_their_own_words(client, auth, beijing, tree):
    plan, a, *_ = tree
    for url in ("/plans/new", f"/plans/{plan.key}/tasks/new?parent={a.id}", f"/tasks/{a.id}/move", "/adhoc/new"):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert "Title" not in page and "Owner unit" not in page, url  # shown in Chinese


def test_an_import_in_a_file_is_not_needed_to_add_tasks(client, auth, beijing, tree):
    """The plan page of a plan made by hand lists its tasks like any plan."""
    plan, a, b, c, d = tree
    page = client.get(f"/plans/{plan.key}").get_data(as_text=True)
    assert "一" in page and "二" in page and 'id="add-task"' in page
    _ = io  # (keeps the import list of this module tidy for later cases)


# --- "each unit of a kind/level under ..." ---------------------------------------------------------


@pytest.fixture
def beijing_units(make_unit):
    """Under P11: two hospitals, a district commission and a hospital under it."""
    make_unit("P11-H1", "P11", name="北京协和医院")
    make_unit("P11-H2", "P11", name="北京医院")
    make_unit("P11-D1", "P11", kind="commission", level="prefecture", name="东城区卫生健康委")
    make_unit("P11-D1-H3", "P11-D1", name="东城区第一人民医院")


def _each(**values) -> dict:
    data = {
        "owner": "P11",
        "owner_mode": "each",
        "each_kind": "institution",
        "each_level": "",
        "each_under": "P11",
        "responsible": "",
        "co_owners": "",
    }
    data.update(values)
    return data


def test_a_task_for_each_hospital_under_a_unit_is_a_cascade_scoped_and_journaled(
    client, auth, beijing, beijing_units, make_user
):
    from tracker.models import Cascade, CascadeChild

    hospital = make_user("coordinator", "P11-H1")
    auth.login(beijing)
    plan = _created_plan(client)
    form = client.get(f"/plans/{plan.key}/tasks/new").get_data(as_text=True)
    assert 'name="owner_mode"' in form and 'id="owner-matches"' in form and 'id="count-units"' in form
    # the count next to the field, before saving: a fragment with HTMX, the page without
    counted = client.post(
        f"/plans/{plan.key}/tasks/new", data=_each(title="", then="count"), headers={"HX-Request": "true"}
    )
    body = counted.get_data(as_text=True)
    assert counted.status_code == 200 and "<html" not in body and 'id="owner-matches"' in body
    assert "3" in body and "北京协和医院" in body
    page = client.post(f"/plans/{plan.key}/tasks/new", data=_each(title="", then="count")).get_data(as_text=True)
    assert "<html" in page and 'id="owner-matches"' in page and "is-invalid" not in page
    assert not db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == plan.id))
    # saved: the template owned by P11, one child per hospital under it, through the cascade
    response = _new_task(client, plan, **_each(title="开展院内质控自查"))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    template = _task(plan, "1")
    assert template.owner_unit.code == "P11" and template.owner_selector is None
    children = list(db.session.scalars(select(Task).where(Task.parent_id == template.id).order_by(Task.ref)))
    assert [(c.ref, c.owner_unit.code, c.origin) for c in children] == [
        ("1@P11-D1-H3", "P11-D1-H3", "cascade"),
        ("1@P11-H1", "P11-H1", "cascade"),
        ("1@P11-H2", "P11-H2", "cascade"),
    ]
    assert all(c.due_on == date(2026, 6, 30) and c.deliverable == "工作方案" for c in children)
    assert all(c.path == f"{template.path}{c.id}/" and c.assigned_at is not None for c in children)
    [cascade] = db.session.scalars(select(Cascade).where(Cascade.template_task_id == template.id))
    assert cascade.target == {"mode": "group", "kind": "institution", "under": "P11"}
    assert cascade.created_by_id == beijing.id
    linked = set(db.session.scalars(select(CascadeChild.task_id).where(CascadeChild.cascade_id == cascade.id)))
    assert linked == {c.id for c in children}
    assert ("cascade", "cascade", None, "3") in _journal(template)
    assert all(_journal(c)[0][0] == "create" for c in children)
    # the hospital's coordinator was told of its task, and sees it
    assert db.session.scalar(
        select(Notification.id).where(Notification.user_id == hospital.id, Notification.task_id == children[1].id)
    )
    auth.login(hospital)
    assert client.get(f"/tasks/{children[1].id}").status_code == 200
    assert client.get(f"/tasks/{children[2].id}").status_code == 404  # another hospital's


def test_each_unit_refused_outside_ones_subtree_or_when_none_match_and_nothing_is_written(
    client, auth, beijing, beijing_units
):
    auth.login(beijing)
    plan = _created_plan(client)
    for values, field, message in [
        ({"each_under": "P12"}, "each_under", "不是本单位或下级单位"),  # another province
        ({"each_kind": "committee"}, "each_under", "没有符合条件的单位"),
        ({"each_kind": "", "each_level": ""}, "each_kind", "请选择单位类别或层级"),
        ({"each_under": "查无此单位"}, "each_under", "查无此单位"),
        ({"each_under": ""}, "each_under", ""),
    ]:
        response = _new_task(client, plan, **_each(title="越权分解", **values))
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page and message in page, values
        counted = client.post(
            f"/plans/{plan.key}/tasks/new", data=_each(then="count", **values), headers={"HX-Request": "true"}
        )
        assert counted.status_code == 200 and "text-danger" in counted.get_data(as_text=True), values
    assert not db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == plan.id))
    # one owner unit: the "each unit" fields are not looked at
    response = _new_task(client, plan, **_each(owner_mode="one", each_under="查无此单位", title="普通任务"))
    assert response.status_code == 303
    assert not db.session.scalar(select(func.count()).select_from(Task).where(Task.parent_id == _task(plan, "1").id))


# --- recurrence by the frequency picker ----------------------------------------------------------


def _occurrence_dates(duty: Task) -> list[date]:
    from tracker.models import Occurrence

    return list(
        db.session.scalars(
            select(Occurrence.due_on).where(Occurrence.duty_task_id == duty.id).order_by(Occurrence.due_on)
        )
    )


def test_a_task_by_hand_recurs_by_the_frequency_picker_like_a_seeded_duty(client, auth, beijing, qc_reporter):
    import time_machine

    from tracker.tasks.recurrence import sync_occurrences

    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False):
        auth.login(beijing)
        plan = _created_plan(client)
        form = client.get(f"/plans/{plan.key}/tasks/new").get_data(as_text=True)
        assert "data-frequency-picker" in form and 'name="freq"' in form and "每季度" in form
        response = _new_task(client, plan, title="报送季度质控数据", freq="quarterly", day="", due_on="2026-12-31")
        assert response.status_code == 303, response.get_data(as_text=True)[:3000]
        duty = _task(plan, "1")
        assert duty.recurrence == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"
        # its first occurrences are made at once, owned by its unit, as the daily job makes them
        assert _occurrence_dates(duty) == [date(2026, 3, 31), date(2026, 6, 30)]
        occurrences = list(db.session.scalars(select(Task).where(Task.parent_id == duty.id)))
        assert {t.owner_unit.code for t in occurrences} == {"P11-QC"} and all(
            t.origin == "recurrence" for t in occurrences
        )
        assert sync_occurrences(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)).created == 0  # never twice
        page = client.get(f"/tasks/{duty.id}").get_data(as_text=True)
        assert "每季度" in page
        # a monthly one on the 15th; a typed rule for "other"
        assert _new_task(client, plan, title="月报", freq="monthly", day="15").status_code == 303
        assert _task(plan, "2").recurrence == "FREQ=MONTHLY;BYMONTHDAY=15"
        assert _new_task(client, plan, title="周报", freq="custom", rule="FREQ=WEEKLY;BYDAY=FR").status_code == 303
        assert _task(plan, "3").recurrence == "FREQ=WEEKLY;BYDAY=FR"
        assert _new_task(client, plan, title="一次性", freq="").status_code == 303
        assert _task(plan, "4").recurrence is None and not _occurrence_dates(_task(plan, "4"))


def test_a_bad_rule_is_refused_next_to_its_field_and_nothing_is_written(client, auth, beijing):
    auth.login(beijing)
    plan = _created_plan(client)
    for values, field in [
        ({"freq": "custom", "rule": "FREQ=HOURLY"}, "rule"),
        ({"freq": "monthly", "day": "31"}, "day"),  # not a day every month has
        ({"freq": "fortnightly"}, "freq"),
    ]:
        response = _new_task(client, plan, title="坏规则", **values)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page, values
    assert not db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == plan.id))


def test_each_unit_of_a_recurring_task_gets_its_own_duty(client, auth, beijing, beijing_units):
    import time_machine

    with time_machine.travel(datetime(2026, 3, 2, 0, 0, tzinfo=timezone.utc), tick=False):
        auth.login(beijing)
        plan = _created_plan(client)
        data = _each(title="月度院感监测", freq="monthly", day="", due_on="2026-12-31")
        assert _new_task(client, plan, **data).status_code == 303
    template = _task(plan, "1")
    children = list(db.session.scalars(select(Task).where(Task.parent_id == template.id)))
    assert len(children) == 3 and all(c.recurrence == "FREQ=MONTHLY;BYMONTHDAY=-1" for c in children)
    assert not _occurrence_dates(template)  # the template is no duty: its units' tasks are
    assert all(_occurrence_dates(c) == [date(2026, 3, 31), date(2026, 4, 30)] for c in children)


# --- editing a plan -----------------------------------------------------------------------------


def _plan_audit(plan: Plan, since: int = 0) -> list[tuple]:
    return [
        (e.action, e.field, e.old_value, e.new_value)
        for e in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "plan", AuditEntry.subject_id == plan.id, AuditEntry.id > since)
            .order_by(AuditEntry.id)
        )
    ]


def _edit_data(client, plan: Plan, **values) -> dict:
    """What the edit form posts as it is shown, with `values` changed."""
    import re

    page = client.get(f"/plans/{plan.key}/edit").get_data(as_text=True)
    data = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="checkbox"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    data.pop("q", None)  # the navigation bar's search
    data.update(values)
    return data


def test_a_coordinator_edits_a_plans_fields_and_phases_each_change_journaled(client, auth, beijing):
    auth.login(beijing)
    plan = _created_plan(client)
    assert 'id="edit-plan"' in client.get(f"/plans/{plan.key}").get_data(as_text=True)
    page = client.get(f"/plans/{plan.key}/edit").get_data(as_text=True)
    assert 'id="plan-edit-form"' in page and 'name="phases-3-name"' in page and 'name="phases-0-remove"' in page
    assert 'name="unit"' not in page  # the issuing unit stays
    first, second = plan.phases
    since = db.session.scalar(select(func.max(AuditEntry.id)))
    data = _edit_data(
        client,
        plan,
        title="北京市医疗质量提升专项行动（修订）",
        doc_number="京卫医〔2026〕9号",
        issued_on="2026-03-05",
        **{
            "phases-0-name": "动员部署阶段",
            "phases-1-end_on": "2026-11-30",
            "phases-2-name": "总结评估阶段",
            "phases-2-start_on": "2026-12-01",
            "phases-2-end_on": "2026-12-31",
        },
    )
    response = client.post(f"/plans/{plan.key}/edit", data=data)
    assert response.status_code == 303 and response.headers["Location"] == f"/plans/{plan.key}"
    db.session.expire_all()
    assert (plan.title, plan.doc_number, plan.issued_on, plan.issuer) == (
        "北京市医疗质量提升专项行动（修订）",
        "京卫医〔2026〕9号",
        date(2026, 3, 5),
        "北京市卫生健康委员会",
    )
    assert [(p.name, p.start_on, p.end_on, p.position) for p in plan.phases] == [
        ("动员部署阶段", date(2026, 3, 1), date(2026, 4, 30), 0),
        ("实施阶段", date(2026, 5, 1), date(2026, 11, 30), 1),
        ("总结评估阶段", date(2026, 12, 1), date(2026, 12, 31), 2),
    ]
    assert first.id == plan.phases[0].id and second.id == plan.phases[1].id  # renamed, not replaced
    assert plan.phases[2].key == "p3"
    assert _plan_audit(plan, since) == [
        ("edit", "title", "北京市医疗质量提升专项行动", "北京市医疗质量提升专项行动（修订）"),
        ("edit", "doc_number", "京卫医〔2026〕8号", "京卫医〔2026〕9号"),
        ("edit", "issued_on", "2026-03-01", "2026-03-05"),
        ("edit", "phases", "部署阶段 2026-03-01–2026-04-30", "动员部署阶段 2026-03-01–2026-04-30"),
        ("edit", "phases", "实施阶段 2026-05-01–2026-12-31", "实施阶段 2026-05-01–2026-11-30"),
        ("edit", "phases", None, "总结评估阶段 2026-12-01–2026-12-31"),
    ]
    # saved as it is: nothing changed, nothing journaled
    since = db.session.scalar(select(func.max(AuditEntry.id)))
    assert client.post(f"/plans/{plan.key}/edit", data=_edit_data(client, plan)).status_code == 303
    assert _plan_audit(plan, since) == []


def test_a_phase_with_tasks_is_not_deleted_an_empty_one_is(client, auth, beijing):
    auth.login(beijing)
    plan = _created_plan(client)
    busy, empty = plan.phases
    assert _new_task(client, plan, phase=str(busy.id), responsible="", co_owners="").status_code == 303
    since = db.session.scalar(select(func.max(AuditEntry.id)))
    response = client.post(
        f"/plans/{plan.key}/edit", data=_edit_data(client, plan, title="改了标题", **{"phases-0-remove": "y"})
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="phases-0-remove"' in page and "is-invalid" in page
    assert "部署阶段" in page and "1 项任务" in page
    db.session.expire_all()
    assert plan.title == "北京市医疗质量提升专项行动" and len(plan.phases) == 2  # nothing half-written
    assert _plan_audit(plan, since) == []
    response = client.post(f"/plans/{plan.key}/edit", data=_edit_data(client, plan, **{"phases-1-remove": "y"}))
    assert response.status_code == 303
    db.session.expire_all()
    assert [p.name for p in plan.phases] == ["部署阶段"]
    assert _plan_audit(plan, since) == [("edit", "phases", "实施阶段 2026-05-01–2026-12-31", None)]


def test_a_plan_edited_meanwhile_is_not_overwritten_and_bad_values_are_refused(client, auth, beijing):
    auth.login(beijing)
    plan = _created_plan(client)
    stale = _edit_data(client, plan, title="我的修改")
    assert client.post(f"/plans/{plan.key}/edit", data=_edit_data(client, plan, issuer="别人的修改")).status_code == 303
    response = client.post(f"/plans/{plan.key}/edit", data=stale)
    assert response.status_code == 409 and "别人的修改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (plan.title, plan.issuer) == ("北京市医疗质量提升专项行动", "别人的修改")
    for values, field in [
        ({"title": ""}, "title"),
        ({"period_end": "2026-01-01"}, "period_end"),
        ({"phases-1-name": "部署阶段"}, "phases-1-name"),
        ({"phases-1-name": ""}, "phases-1-name"),
        ({"phases-2-start_on": "2026-05-01", "phases-2-end_on": "2026-04-01"}, "phases-2-end_on"),
    ]:
        response = client.post(f"/plans/{plan.key}/edit", data=_edit_data(client, plan, **values))
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page, values
    db.session.expire_all()
    assert plan.title == "北京市医疗质量提升专项行动" and len(plan.phases) == 2


def test_only_coordinators_of_the_issuing_unit_or_above_and_admins_edit_a_plan(client, auth, beijing, make_user):
    auth.login(beijing)
    plan = _created_plan(client)
    for role, code, expected in (
        ("coordinator", "P11-QC", 403),  # under the issuing unit
        ("coordinator", "P12", 403),
        ("reporter", "P11", 403),
        ("leader", "NHC", 403),
        ("coordinator", "NHC", 200),  # above it
        ("admin", "NHC", 200),
    ):
        auth.login(make_user(role, code))
        assert client.get(f"/plans/{plan.key}/edit").status_code == expected, (role, code)
        shown = 'id="edit-plan"' in client.get(f"/plans/{plan.key}").get_data(as_text=True)
        assert shown == (expected == 200), (role, code)  # never a link one cannot open
    standing = manual.standing_plan(beijing.unit, beijing)
    db.session.commit()
    auth.login(beijing)
    assert client.get(f"/plans/{standing.key}/edit").status_code == 403


# --- drag and drop in the plan tree: the same move endpoint, answered as a fragment --------------


def test_the_plan_tree_offers_dragging_only_for_rows_one_may_move(client, auth, beijing, tree, make_user):
    plan, a, b, c, d = tree
    page = client.get(f"/plans/{plan.key}").get_data(as_text=True)
    assert "data-tree-dnd" in page and "tree-drop-top" in page and 'id="tree-status"' in page and "tree_dnd.js" in page
    assert f'id="row-{a.id}" data-ref="1" data-path="{a.path}" draggable="true"' in page
    assert f'data-move-url="/tasks/{a.id}/move" data-version="{a.version}"' in page
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get(f"/plans/{plan.key}").get_data(as_text=True)
    assert "data-tree-dnd" not in page and 'draggable="true"' not in page and 'id="tree-status"' not in page


def test_a_drop_posts_the_move_form_and_gets_its_answer_as_a_fragment(client, auth, beijing, tree):
    import json

    plan, a, b, c, d = tree
    hx = {"HX-Request": "true", "HX-Target": "tree-status"}
    response = client.post(f"/tasks/{b.id}/move", data={"version": b.version, "parent": "2"}, headers=hx)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="move-result"' in body
    assert 'data-moved="1"' in body and "已移动" in body
    db.session.expire_all()
    trigger = json.loads(response.headers["HX-Trigger"])["task-moved"]
    assert trigger == {"id": b.id, "path": f"/{d.id}/{b.id}/", "moved": True} and b.parent_id == d.id
    assert ("move", "parent_id", "1 一", "2 二") in _journal(b)
    # refused: under its own subtree (the server says so too), a stale version, nowhere
    for data, status, message in (
        ({"version": d.version, "parent": b.ref}, 422, "其下级任务之下"),
        ({"version": b.version - 1, "parent": ""}, 409, "已被他人修改"),
        ({"version": b.version, "parent": "9.9"}, 422, "没有编号为"),
        ({"parent": ""}, 422, ""),
    ):
        task = d if data.get("parent") == b.ref else b
        response = client.post(f"/tasks/{task.id}/move", data=data, headers=hx)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, data  # an expected answer to a drop: no console error
        assert "<html" not in body and 'data-moved="0"' in body and f'data-status="{status}"' in body, data
        assert message in body and "HX-Trigger" not in response.headers, data
        assert client.post(f"/tasks/{task.id}/move", data=data).status_code == status, data  # the form's
    db.session.expire_all()
    assert b.parent_id == d.id and d.parent_id is None
