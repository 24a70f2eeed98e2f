"""The task lists at national scale: one pager with a bounded count, orders served by indexes
(never a sort of every matching row), page numbers and sizes, and on PostgreSQL query plans
that read the index in order for each role and the common filters."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql

from tests.conftest import count_queries, requires_postgresql
from tests.test_work_counts import TODAY, USERS, _national_shape
from tracker import pagination
from tracker.extensions import db
from tracker.models import OrgUnit, Task
from tracker.pagination import Page, bounded_count
from tracker.plans.queries import TaskFilters, filtered_tasks, task_order


@pytest.fixture
def users(make_user):
    return [make_user(role, code) for role, code in USERS]


def test_the_count_stops_at_its_cap_and_says_so(make_task, monkeypatch):
    for day in range(12):
        make_task("P11", due_on=TODAY + timedelta(days=day))
    query = select(Task).where(Task.plan.has(key="fixture-plan"))
    assert bounded_count(query, cap=20) == (12, False)
    assert bounded_count(query, cap=5) == (5, True)
    monkeypatch.setattr(pagination, "COUNT_CAP", 5)
    page = pagination.paginate(query, 3, 2, Task.id)
    assert (page.total, page.capped, page.pages, page.page) == (5, True, 3, 3)
    assert len(page.items) == 2  # the cap bounds the pages offered; a page holds its rows


def test_a_page_past_the_last_shows_the_last_and_sizes_are_bounded(make_task):
    tasks = [make_task("P11", due_on=TODAY + timedelta(days=d)) for d in range(7)]
    mine = select(Task).where(Task.plan.has(key="fixture-plan"))
    page = pagination.paginate(mine, 99, 3, Task.id)
    assert page.page == 3 and [t.id for t in page.items] == [tasks[6].id]
    assert pagination.paginate(mine, 1, 10_000, Task.id).per_page == pagination.MAX_PER_PAGE


def test_page_numbers_around_this_one():
    page = Page(items=[], page=10, per_page=10, total=500)
    assert page.iter_pages() == [1, None, 8, 9, 10, 11, 12, None, 50]
    assert Page(items=[], page=1, per_page=10, total=30).iter_pages() == [1, 2, 3]


def test_the_task_list_offers_orders_page_numbers_and_sizes(client, auth, make_user, make_task):
    auth.login(make_user("coordinator", "P11"))
    old = make_task("P11", title="列表任务最早到期", due_on=TODAY - timedelta(days=30))
    for day in range(45):
        make_task("P11-QC", title=f"列表任务{day}", due_on=TODAY + timedelta(days=day))
    undated = make_task("P11", title="列表任务无期限", due_on=None)
    body = client.get("/tasks?q=列表任务&per_page=20").get_data(as_text=True)
    assert body.index("列表任务最早到期") < body.index("列表任务0<")
    assert "列表任务无期限" not in body  # no due date: last
    assert "page=3" in body and "47 项任务" in body
    last = client.get("/tasks?q=列表任务&per_page=20&page=3").get_data(as_text=True)
    assert "列表任务无期限" in last
    # last changed first
    undated.title = "列表任务刚改过"
    db.session.commit()
    body = client.get("/tasks?q=列表任务&sort=updated&per_page=20").get_data(as_text=True)
    rows = [int(r) for r in re.findall(r'href="/tasks/(\d+)"', body)]
    assert rows and rows[0] == undated.id and rows[1:] == sorted(rows[1:], reverse=True)
    assert old.id not in rows  # the first made is changed longest ago: on a later page
    bad = client.get("/tasks?sort=drop+table")
    assert bad.status_code == 200 and 'text-danger small">排序' in bad.get_data(as_text=True)


def test_a_capped_list_says_there_are_more(client, auth, make_user, make_task, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 10)
    auth.login(make_user("coordinator", "P11"))
    for day in range(15):
        make_task("P11", due_on=TODAY - timedelta(days=day + 1))
    body = client.get("/overdue").get_data(as_text=True)
    assert "10+" in body and "缩小筛选范围" in body


def test_one_page_of_a_list_is_two_statements_whatever_its_size(client, auth, make_user, make_task):
    auth.login(make_user("coordinator", "P11"))
    for day in range(30):
        make_task("P11-QC", due_on=TODAY - timedelta(days=day + 1))
    client.get("/tasks?overdue=y")
    with count_queries() as few:
        client.get("/tasks?overdue=y&per_page=20")
    for day in range(60):
        make_task("P11-QC", due_on=TODAY - timedelta(days=day + 40))
    with count_queries() as many:
        client.get("/tasks?overdue=y&per_page=100")
    assert many() == few()


# -- PostgreSQL: the plans ------------------------------------------------------------------------------

FILTERS = {
    "none": TaskFilters(),
    "overdue": TaskFilters(overdue=True),
    "status": TaskFilters(status="in_progress"),
    "due range": TaskFilters(due_from=TODAY, due_to=TODAY + timedelta(days=30)),
    "updated": TaskFilters(sort="updated"),
}


def _plan(query) -> str:
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(r[0] for r in db.session.connection().exec_driver_sql(f"EXPLAIN {sql}"))


def test_on_postgresql_a_page_of_the_task_list_reads_an_index_in_order(database_url, users):
    """For the roles who see many tasks (admin, national coordinator, leader) a page of each
    common filter is read from an index in the list's order and stops at the page: no Sort over
    the tasks that match, no scan of the task table."""
    requires_postgresql(database_url, "query plans are PostgreSQL's")
    _national_shape(random.Random(11))
    wide = [u for u in users if u.sees_everything or (u.role == "coordinator" and u.unit.code == "NHC")]
    assert len(wide) >= 3
    for user in users:  # scoped users too: never a scan of the task table
        for name, filters in FILTERS.items():
            plan = _plan(filtered_tasks(user, filters, TODAY).order_by(*task_order(filters.sort)).limit(50))
            assert "Seq Scan on tasks" not in plan, (user.role, user.unit.code, name, plan)
    # An index serves each order: with sorting priced out the plan still needs no Sort (the
    # planner may sort a few thousand rows here; at national scale the index is what it reads).
    db.session.connection().exec_driver_sql("SET LOCAL enable_sort = off")
    for user in wide:
        for name, filters in FILTERS.items():
            query = filtered_tasks(user, filters, TODAY).order_by(*task_order(filters.sort)).limit(50).offset(2450)
            plan = _plan(query)
            assert "Seq Scan on tasks" not in plan, (user.role, name, plan)
            # a full Sort of the matches never; an Incremental Sort (ids among equal due dates,
            # read in due order from the index) is bounded by the page
            assert not re.search(r"(^|->\s+)Sort\s+\(", plan, re.M), (user.role, name, plan)
            count_plan = _plan(
                select(Task.id).select_from(filtered_tasks(user, filters, TODAY).limit(10_001).subquery())
            )
            assert "Limit" in count_plan, count_plan


def test_on_postgresql_the_plan_phase_and_responsible_filters_read_their_indexes(database_url, users):
    """The task list's plan, phase and responsible-person filters, alone and with an order, never
    scan the task table for any role: the plan and phase by ix_tasks_plan_id_phase_id (or the
    order's index), the person by ix_tasks_responsible_user_id."""
    requires_postgresql(database_url, "query plans are PostgreSQL's")
    from tracker.models import Phase, Plan

    _national_shape(random.Random(13))
    plan = db.session.scalar(select(Plan).where(Plan.key == "shape"))
    phase = Phase(plan=plan, key="shape-p1", name="第一阶段", position=1)
    db.session.add(phase)
    db.session.flush()
    named = users[-1]
    db.session.execute(
        Task.__table__.update().where(Task.id % 50 == 0).values(phase_id=phase.id, responsible_user_id=named.id)
    )
    db.session.connection().exec_driver_sql("ANALYZE tasks")
    cases = {
        "plan": TaskFilters(plan_id=plan.id),
        "plan and phase": TaskFilters(plan_id=plan.id, phase_id=phase.id),
        "responsible": TaskFilters(responsible_id=named.id),
        "everything": TaskFilters(plan_id=plan.id, phase_id=phase.id, responsible_id=named.id, sort="-updated"),
    }
    for user in users:
        for name, filters in cases.items():
            plan_text = _plan(filtered_tasks(user, filters, TODAY).order_by(*task_order(filters.sort)).limit(50))
            assert "Seq Scan on tasks" not in plan_text, (user.role, user.unit.code, name, plan_text)
    alone = _plan(select(Task.id).where(Task.responsible_user_id == named.id))
    assert "ix_tasks_responsible_user_id" in alone, alone


def test_on_postgresql_a_narrow_scope_is_given_as_ids_and_sees_exactly_what_the_path_rule_sees(
    database_url, users, make_task, monkeypatch
):
    """A scoped user's clause lists their units' ids (and the tasks those units co-own), so the
    planner reads a county's few tasks from the owner index instead of walking the due-date index
    past everyone else's; what they see is the same as under the subquery over the units' paths."""
    requires_postgresql(database_url, "query plans are PostgreSQL's")
    from tracker.auth import scope

    _national_shape(random.Random(7))
    co_owned = make_task("P31-QC", title="利通区协办的上海任务")
    co_owned.co_owners.append(db.session.scalar(select(OrgUnit).where(OrgUnit.code == "WZ-LT")))
    db.session.commit()
    scoped = [u for u in users if not u.sees_everything]
    assert scoped
    listed = {}
    for user in scoped:
        listed[user.id] = set(db.session.scalars(filtered_tasks(user, TaskFilters(), TODAY).with_only_columns(Task.id)))
        sql = str(
            filtered_tasks(user, TaskFilters(), TODAY).compile(
                dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
            )
        )
        assert "org_units.path LIKE" not in sql, (user.unit.code, sql)
        if user.unit.parent_id is not None:  # (the national commission's users need no list)
            compiled = filtered_tasks(user, TaskFilters(), TODAY).compile(dialect=postgresql.dialect())
            arrays = [v for v in compiled.params.values() if isinstance(v, list)]
            assert arrays and user.unit_id in arrays[0], compiled.params
            assert "tasks.owner_unit_id = ANY (" in str(compiled), str(compiled)  # sent as one array
        # the units go as one array parameter (`= ANY(…)`), not one parameter each
    monkeypatch.setattr(scope, "LITERAL_SCOPE_UNITS", -1)  # the subquery form
    for user in scoped:
        by_path = set(db.session.scalars(filtered_tasks(user, TaskFilters(), TODAY).with_only_columns(Task.id)))
        assert listed[user.id] == by_path, user.unit.code
    litong = [u for u in scoped if u.unit.code == "WZ-LT"]
    assert litong and all(co_owned.id in listed[u.id] for u in litong)


def test_the_national_commissions_users_see_every_owned_task_without_a_list_of_units(
    database_url, users, make_task, monkeypatch
):
    """The root unit's subtree is every unit: its coordinators' clause is "owned by any unit, or
    co-owned while owned by none", the same tasks as the path rule gives (and no path LIKE, no
    list of 3,000 ids); with a second root in the catalogue the general rule applies again."""
    from tracker.auth import scope
    from tracker.auth.scope import visible_tasks_clause

    _national_shape(random.Random(5))
    unowned = make_task("NHC", title="无主办单位的协办任务")
    unowned.owner_unit_id = None
    unowned.co_owners.append(db.session.scalar(select(OrgUnit).where(OrgUnit.code == "WZ-LT")))
    nobody = make_task("NHC", title="无人承办")
    nobody.owner_unit_id = None
    db.session.commit()
    national = [u for u in users if not u.sees_everything and u.unit.parent_id is None]
    assert national, "a coordinator of the national commission"

    def seen(user):
        return set(db.session.scalars(select(Task.id).where(visible_tasks_clause(user))))

    fast = {u.id: seen(u) for u in national}
    for user in national:
        sql = str(select(Task.id).where(visible_tasks_clause(user)).compile(compile_kwargs={"literal_binds": True}))
        assert "org_units" not in sql, sql
    monkeypatch.setattr(scope, "_heads_every_unit", lambda unit: False)  # the general rule
    for user in national:
        assert fast[user.id] == seen(user)
        assert unowned.id in fast[user.id] and nobody.id not in fast[user.id]
    monkeypatch.undo()
    free = db.session.scalar(select(func.max(OrgUnit.id))) + 1  # the shape's ids are its own, not the sequence's
    db.session.add(
        OrgUnit(id=free, code="ROOT2", name="另一个根", kind="commission", level="national", path=f"/{free}/")
    )
    db.session.flush()
    assert all(not scope._heads_every_unit(u.unit) for u in national)


def test_on_postgresql_the_overdue_index_carries_the_owner_unit(database_url):
    """The overdue lists' bounded counts (10,001 rows at national scale) need the owner unit of
    each overdue task (/overdue) and whether it is a cascade template (the task list): the overdue
    index includes both (migration 0045), so each count is an index-only scan for the roles who
    see the whole country, not a heap fetch per row."""
    requires_postgresql(database_url, "query plans are PostgreSQL's")
    connection = db.session.connection()
    definition = connection.exec_driver_sql(
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tasks_overdue_due'"
    ).scalar()
    assert "INCLUDE (owner_unit_id, owner_selector)" in definition, definition
    # Which index the planner takes depends on the table's size and visibility map: at national
    # scale (bench/daily.py) it is this one, index-only, for the count of admins and national
    # coordinators (75 -> 2 ms); a test's few thousand rows cannot show that choice.


# -- the plan, phase and responsible-person filters ------------------------------------------------------

FILTER_PLAN = "task-list-filter-plan"


@pytest.fixture
def crowd(make_user):
    return {
        "beijing": make_user("coordinator", "P11"),
        "shanghai": make_user("coordinator", "P31"),
        "leader": make_user("leader", "NHC"),
        "named": make_user("reporter", "P11-QC"),
        "far": make_user("reporter", "P31-QC"),
    }


@pytest.fixture
def planned(make_task, crowd):
    """The filter plan with two phases: Beijing's tasks in the first phase (one naming a person
    responsible, one naming the Beijing coordinator), one in the second, one in no phase;
    Shanghai's naming its own reporter; and a Beijing task of another plan naming the person."""
    from tracker.models import Phase, Plan

    make_task("P11-QC", plan_key=FILTER_PLAN, title="筛选占位", status="accepted")  # creates the plan
    plan = db.session.scalar(select(Plan).where(Plan.key == FILTER_PLAN))
    plan.title = "任务清单筛选测试计划"
    first = Phase(plan=plan, key="p1", name="筛选第一阶段", position=1)
    second = Phase(plan=plan, key="p2", name="筛选第二阶段", position=2)
    db.session.add_all([first, second])
    db.session.commit()

    def task(code, title, days, plan_key=FILTER_PLAN, **values):
        return make_task(code, plan_key=plan_key, title=title, due_on=TODAY + timedelta(days=days), **values)

    made = {
        "a": task("P11-QC", "筛选甲", 1, phase_id=first.id, responsible_user_id=crowd["named"].id),
        "b": task("P11-QC", "筛选乙", 2, phase_id=first.id, status="submitted"),
        "c": task("P11", "筛选丙", 3, phase_id=first.id, responsible_user_id=crowd["beijing"].id),
        "d": task("P11-QC", "筛选丁", 4, phase_id=second.id),
        "e": task("P11-QC", "筛选戊", 5),
        "sh": task("P31-QC", "筛选上海", 6, phase_id=first.id, responsible_user_id=crowd["far"].id),
        "other": task("P11-QC", "筛选别的计划", 7, plan_key="fixture-plan", responsible_user_id=crowd["named"].id),
    }
    made["first"], made["second"], made["plan"] = first, second, plan
    return made


def listed(client, **args) -> list[str]:
    response = client.get("/tasks", query_string={"q": "筛选", **args})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return _titles(response.get_data(as_text=True))


def _titles(page: str) -> list[str]:
    """The titles of the list's rows, in order."""
    return [part.split(">", 1)[1].split("<", 1)[0] for part in page.split('<td class="stack-title"><a href="')[1:]]


def test_the_task_list_filters_by_plan_phase_and_responsible_person_alone_and_together(client, auth, crowd, planned):
    auth.login(crowd["beijing"])
    first, second = str(planned["first"].id), str(planned["second"].id)
    named, me = str(crowd["named"].id), "me"
    assert listed(client) == ["筛选甲", "筛选乙", "筛选丙", "筛选丁", "筛选戊", "筛选别的计划", "筛选占位"]
    assert listed(client, plan=FILTER_PLAN) == ["筛选甲", "筛选乙", "筛选丙", "筛选丁", "筛选戊", "筛选占位"]
    assert listed(client, plan=FILTER_PLAN, phase=first) == ["筛选甲", "筛选乙", "筛选丙"]
    assert listed(client, plan=FILTER_PLAN, phase=second) == ["筛选丁"]
    assert listed(client, responsible=named) == ["筛选甲", "筛选别的计划"]
    assert listed(client, responsible=me) == ["筛选丙"]  # assigned to me: the coordinator
    # with each other and with the existing filters, orders and pages
    assert listed(client, plan=FILTER_PLAN, responsible=named) == ["筛选甲"]
    assert listed(client, plan=FILTER_PLAN, phase=first, status="submitted") == ["筛选乙"]
    assert listed(client, plan=FILTER_PLAN, phase=first, owner="P11") == ["筛选丙"]
    assert listed(client, plan=FILTER_PLAN, phase=first, due_to=(TODAY + timedelta(days=2)).isoformat()) == [
        "筛选甲",
        "筛选乙",
    ]
    assert listed(client, plan=FILTER_PLAN, phase=first, sort="-due") == ["筛选丙", "筛选乙", "筛选甲"]
    assert listed(client, plan=FILTER_PLAN, phase=first, sort="-due", per_page="20", page="1") == [
        "筛选丙",
        "筛选乙",
        "筛选甲",
    ]
    assert listed(client, plan=FILTER_PLAN, phase=second, responsible=me) == []


def test_the_new_filters_are_fields_with_their_choices(client, auth, crowd, planned):
    auth.login(crowd["beijing"])
    page = client.get("/tasks", query_string={"plan": FILTER_PLAN}).get_data(as_text=True)
    form = page.split('id="filters"')[1].split("</form>")[0]
    assert f'<option selected value="{FILTER_PLAN}">任务清单筛选测试计划</option>' in form  # by title
    assert "筛选第一阶段" in form and "筛选第二阶段" in form  # the chosen plan's phases
    assert 'data-clears="phase"' in form
    responsible = form.split('id="responsible"')[1].split("</select>")[0]
    assert '<option value="me">我负责的</option>' in responsible
    assert f'<option value="{crowd["named"].id}">' in responsible  # named on a Beijing task
    assert f'value="{crowd["far"].id}"' not in responsible  # Shanghai's person is not in Beijing's scope
    # no plan chosen: the phase waits for one
    bare = client.get("/tasks").get_data(as_text=True).split('id="filters"')[1].split("</form>")[0]
    assert "筛选第一阶段" not in bare and 'disabled id="phase"' in bare


@pytest.mark.parametrize(
    "args,field",
    [
        ({"plan": "no-such-plan"}, "plan"),
        ({"plan": "'; drop table tasks; --"}, "plan"),
        ({"plan": FILTER_PLAN, "phase": "999999"}, "phase"),
        ({"plan": FILTER_PLAN, "phase": "abc"}, "phase"),
        ({"plan": FILTER_PLAN, "phase": "9" * 40}, "phase"),
        ({"plan": FILTER_PLAN, "phase": "-1"}, "phase"),
        ({"phase": "FIRST"}, "phase"),  # a phase without its plan
        ({"responsible": "999999"}, "responsible"),
        ({"responsible": "abc"}, "responsible"),
        ({"responsible": "9" * 40}, "responsible"),
        ({"responsible": "-1"}, "responsible"),
        ({"responsible": "FAR"}, "responsible"),  # a person outside the coordinator's scope
    ],
)
def test_bad_plan_phase_or_person_values_are_errors_next_to_their_field(client, auth, crowd, planned, args, field):
    auth.login(crowd["beijing"])
    values = {k: {"FIRST": str(planned["first"].id), "FAR": str(crowd["far"].id)}.get(v, v) for k, v in args.items()}
    response = client.get("/tasks", query_string={"q": "筛选", **values})
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text[:2000]
    assert f'id="{field}-error"' in text and 'aria-invalid="true"' in text, values
    assert "筛选上海" not in text  # refused: the filters are not applied, the scope still is
    fragment = client.get("/tasks", query_string=values, headers={"HX-Request": "true", "HX-Target": "results"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and 'id="filter-error"' in body, values


def test_the_results_fragment_brings_the_plans_phases_and_the_export_out_of_band(client, auth, crowd, planned):
    auth.login(crowd["beijing"])
    headers = {"HX-Request": "true", "HX-Target": "results"}
    text = client.get("/tasks", query_string={"plan": FILTER_PLAN}, headers=headers).get_data(as_text=True)
    assert '<div class="col-6 col-md-2" id="task-phase" hx-swap-oob="true">' in text and "筛选第二阶段" in text
    assert '<span id="task-export" hx-swap-oob="true">' in text
    assert f"/tasks/export.csv?plan={FILTER_PLAN}" in text
    page = client.get("/tasks", query_string={"plan": FILTER_PLAN, "status": "not_started", "page": "2"}).get_data(
        as_text=True
    )
    assert "hx-swap-oob" not in page.split('id="results"')[1]  # the full page has its own fields
    # the export links carry the filters (not the page number)
    assert f'href="/tasks/export.xlsx?plan={FILTER_PLAN}&amp;status=not_started"' in page


def test_the_export_takes_the_plan_phase_and_responsible_filters(client, auth, crowd, planned):
    auth.login(crowd["beijing"])
    first = str(planned["first"].id)
    response = client.get("/tasks/export.csv", query_string={"plan": FILTER_PLAN, "phase": first, "responsible": "me"})
    text = response.get_data().decode("utf-8-sig")
    assert response.status_code == 200 and "筛选丙" in text
    assert not any(t in text for t in ("筛选甲", "筛选乙", "筛选丁", "筛选上海"))
    # a plan's own page exports its phase filter too (its phases were never the form's choices)
    response = client.get("/tasks/export.csv", query_string={"plan": FILTER_PLAN, "phase": first})
    assert response.status_code == 200 and "筛选乙" in response.get_data().decode("utf-8-sig")
    assert client.get("/tasks/export.csv", query_string={"responsible": str(crowd["far"].id)}).status_code == 400


def test_nobody_sees_beyond_their_scope_through_the_plan_phase_or_person(client, auth, crowd, planned):
    first = str(planned["first"].id)
    auth.login(crowd["beijing"])
    for args in ({"plan": FILTER_PLAN}, {"plan": FILTER_PLAN, "phase": first}, {"responsible": "me"}):
        assert "筛选上海" not in listed(client, **args), args
    auth.login(crowd["shanghai"])
    assert listed(client, plan=FILTER_PLAN, phase=first) == ["筛选上海"]
    refused = client.get("/tasks", query_string={"responsible": str(crowd["named"].id)}).get_data(as_text=True)
    assert 'id="responsible-error"' in refused and "筛选甲" not in refused
    auth.login(crowd["leader"])
    assert listed(client, plan=FILTER_PLAN, phase=first, responsible=str(crowd["far"].id)) == ["筛选上海"]
    assert listed(client, responsible=str(crowd["named"].id)) == ["筛选甲", "筛选别的计划"]


def test_the_filtered_list_is_a_fixed_number_of_statements(client, auth, crowd, planned, make_task):
    auth.login(crowd["beijing"])
    args = {
        "plan": FILTER_PLAN,
        "phase": str(planned["first"].id),
        "responsible": str(crowd["named"].id),
        "per_page": "100",
    }
    counts = {}
    for n in (2, 40):
        for i in range(n):
            make_task(
                "P11-QC",
                plan_key=FILTER_PLAN,
                title=f"计数{n}-{i}",
                phase_id=planned["first"].id,
                responsible_user_id=crowd["named"].id,
                due_on=TODAY + timedelta(days=i),
            )
        for name, query in (("all", args), ("me", {**args, "responsible": "me"}), ("plain", {"per_page": "100"})):
            with count_queries() as statements:
                response = client.get("/tasks", query_string=query)
            assert response.status_code == 200
            counts[(n, name)] = statements()
    for name in ("all", "me", "plain"):
        assert counts[(2, name)] == counts[(40, name)], counts
    # the plan's phases are the one statement the chosen plan adds
    assert counts[(40, "all")] <= counts[(40, "plain")] + 1, counts
    assert max(counts.values()) <= 12, counts
