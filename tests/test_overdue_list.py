"""The overdue list (/overdue) as a list people work in: a provincial coordinator filters the
overdue tasks of the province by unit, plan, phase, status, responsible person and how late,
orders them by a column, pages through them, and acts on a selection with the task list's action
bar (催办, 调整截止日期, 导出所选); a leader urges and exports only; nobody sees beyond their scope
through any filter or order."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import count_queries
from tracker.extensions import db
from tracker.models import JournalEntry, Phase, Plan, Task, TaskUrge
from tracker.notifications.forms import OVERDUE_SORTS
from tracker.notifications.service import OverdueFilters, overdue_page
from tracker.timeutil import local_today

HX = {"HX-Request": "true"}
PLAN = "overdue-list-plan"


@pytest.fixture
def people(make_user):
    return {
        "beijing": make_user("coordinator", "P11"),
        "shanghai": make_user("coordinator", "P31"),
        "leader": make_user("leader", "NHC"),
        "reporter": make_user("reporter", "P11-QC"),
        "named": make_user("reporter", "P11-QC"),
    }


@pytest.fixture
def late(make_task, people):
    """Overdue tasks of the list's own plan: Beijing's QC centre 3, 10, 40 and 100 days late (one
    in progress, one returned, one in the plan's second phase, one naming a responsible person),
    Shanghai's 50 days late, and Beijing's one due tomorrow (not overdue)."""
    today = local_today()
    make_task("P11-QC", plan_key=PLAN, title="占位")  # creates the plan
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN))
    plan.title = "逾期清单测试计划"
    first = Phase(plan=plan, key="p1", name="第一阶段", position=1)
    second = Phase(plan=plan, key="p2", name="第二阶段", position=2)
    db.session.add_all([first, second])
    db.session.commit()

    def task(code, title, days, **values):
        return make_task(code, plan_key=PLAN, title=title, due_on=today - timedelta(days=days), **values)

    made = {
        "d3": task("P11-QC", "北京三天", 3, phase_id=first.id),
        "d10": task("P11-QC", "北京十天", 10, status="in_progress", phase_id=first.id),
        "d40": task("P11", "北京四十天", 40, status="returned", phase_id=second.id),
        "d100": task("P11-QC", "北京一百天", 100, responsible_user_id=people["named"].id),
        "sh": task("P31-QC", "上海五十天", 50, responsible_user_id=people["named"].id),
        "soon": task("P11-QC", "北京明天到期", -1),
    }
    made["first"], made["second"] = first, second
    return made


def titles(page: str) -> list[str]:
    """The titles of the list's rows, in order."""
    found = []
    for part in page.split('<td class="stack-title"><a href="')[1:]:
        found.append(part.split(">", 1)[1].split("<", 1)[0])
    return found


def shown(client, **args) -> list[str]:
    response = client.get("/overdue", query_string={"plan": PLAN, **args})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return titles(response.get_data(as_text=True))


def test_each_filter_narrows_the_list(client, auth, people, late):
    auth.login(people["beijing"])
    assert shown(client) == ["北京一百天", "北京四十天", "北京十天", "北京三天"]  # most late first
    assert shown(client, unit="P11-QC") == ["北京一百天", "北京十天", "北京三天"]
    assert shown(client, phase=str(late["first"].id)) == ["北京十天", "北京三天"]
    assert shown(client, status="returned") == ["北京四十天"]
    assert shown(client, responsible=str(people["named"].id)) == ["北京一百天"]
    assert shown(client, late="7") == ["北京一百天", "北京四十天", "北京十天"]
    assert shown(client, late="30") == ["北京一百天", "北京四十天"]
    assert shown(client, late="90") == ["北京一百天"]
    assert shown(client, late="30", status="not_started") == ["北京一百天"]


def test_the_filters_are_fields_with_their_choices_and_errors_next_to_them(client, auth, people, late):
    auth.login(people["beijing"])
    page = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert f'<option selected value="{PLAN}">逾期清单测试计划</option>' in page
    assert "第一阶段" in page and "第二阶段" in page  # the chosen plan's phases
    assert f'<option value="{people["named"].id}">' in page  # named on an overdue task Beijing sees
    assert 'value="submitted"' not in page.split('id="status"')[1].split("</select>")[0]  # open ones only
    for args, field in (
        ({"plan": "no-such-plan"}, "plan"),
        ({"plan": PLAN, "phase": "999999"}, "phase"),
        ({"phase": str(late["first"].id)}, "phase"),  # a phase without its plan
        ({"status": "accepted"}, "status"),
        ({"responsible": "999999"}, "responsible"),
        ({"late": "12"}, "late"),
        ({"sort": "title"}, "sort"),
    ):
        response = client.get("/overdue", query_string=args)
        text = response.get_data(as_text=True)
        assert response.status_code == 400, args
        assert f'id="{field}-error"' in text and 'aria-invalid="true"' in text, args
    fragment = client.get("/overdue", query_string={"late": "12"}, headers={**HX, "HX-Target": "results"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 400 and "<html" not in text and 'id="filter-error"' in text


def test_the_results_fragment_brings_the_chosen_plans_phases_out_of_band(client, auth, people, late):
    auth.login(people["beijing"])
    headers = {**HX, "HX-Target": "results"}
    text = client.get("/overdue", query_string={"plan": PLAN}, headers=headers).get_data(as_text=True)
    assert '<div class="col-6 col-md-2" id="overdue-phase" hx-swap-oob="true">' in text and "第二阶段" in text
    page = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert "hx-swap-oob" not in page.split('id="results"')[1].split("</table>")[0]  # not on the full page
    assert 'data-clears="phase"' in page


@pytest.mark.parametrize("sort", OVERDUE_SORTS)
def test_each_order(client, auth, people, late, sort):
    auth.login(people["beijing"])
    rows = shown(client, sort=sort)
    tasks = {t.title: t for t in db.session.scalars(select(Task).where(Task.title.in_(rows)))}
    key = sort.lstrip("-")
    if key == "due":
        expected = sorted(rows, key=lambda title: (tasks[title].due_on, tasks[title].id))
    elif key == "owner":
        expected = sorted(rows, key=lambda title: (tasks[title].owner_unit.name, tasks[title].due_on, tasks[title].id))
    elif key == "plan":
        expected = sorted(rows, key=lambda title: (tasks[title].due_on, tasks[title].id))  # one plan
    else:
        expected = sorted(rows, key=lambda title: (tasks[title].updated_at, tasks[title].id), reverse=True)
    if sort.startswith("-"):
        expected.reverse()
    if key == "owner":  # the task lists' owner order: by name, then id
        expected = sorted(rows, key=lambda title: (tasks[title].owner_unit.name, tasks[title].id))
        if sort.startswith("-"):
            expected.reverse()
    assert rows == expected, sort
    assert len(rows) == 4


def test_the_headers_sort_with_aria_sort_and_phones_have_an_order_select(client, auth, people, late):
    auth.login(people["beijing"])
    page = client.get("/overdue").get_data(as_text=True)
    head = page.split('id="overdue-table"')[1].split("</thead>")[0]
    assert 'aria-sort="ascending"' in head and "sort=-due" in head  # most late first: due ascending
    for key in ("owner", "plan", "updated"):
        assert f"sort={key}" in head
    assert '<select class="form-select form-select-sm" id="sort" name="sort">' in page
    page = client.get("/overdue?sort=-updated").get_data(as_text=True)
    head = page.split('id="overdue-table"')[1].split("</thead>")[0]
    assert 'aria-sort="ascending"' in head.split("sort=updated")[0].rsplit("<th", 1)[1]


def test_other_orders_sort_within_the_cap_only(app, people, late, monkeypatch):
    """An order no index serves sorts at most COUNT_CAP tasks: the first of the index's order."""
    from tracker import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN))
    page, _levels = overdue_page(
        people["beijing"], local_today(), 1, 50, filters=OverdueFilters(plan_id=plan.id, sort="-due")
    )
    assert page.capped and [t.title for t in page.items][:2] == ["北京三天", "北京十天"]
    page, _levels = overdue_page(
        people["beijing"], local_today(), 1, 50, filters=OverdueFilters(plan_id=plan.id, sort="updated")
    )
    assert page.capped and sorted(t.title for t in page.items) == ["北京一百天", "北京四十天"]


def test_a_provincial_coordinator_never_sees_another_province_through_any_filter_or_order(client, auth, people, late):
    auth.login(people["beijing"])
    named = str(people["named"].id)
    for args in (
        {},
        {"responsible": named},
        {"late": "30"},
        {"status": "not_started"},
        {"escalated": "1"},
        *({"sort": sort} for sort in OVERDUE_SORTS),
        {"per_page": "20", "page": "2"},
    ):
        page = client.get("/overdue", query_string={"plan": PLAN, **args}).get_data(as_text=True)
        assert "上海五十天" not in page, args
    assert client.get("/overdue?unit=P31").status_code == 404  # another province's unit does not exist
    auth.login(people["shanghai"])
    assert shown(client) == ["上海五十天"]
    auth.login(people["leader"])
    assert shown(client, responsible=named) == ["北京一百天", "上海五十天"]


def test_the_list_is_a_bounded_number_of_statements(client, auth, people, late, make_task):
    auth.login(people["beijing"])
    counts = {}
    for n in (2, 12):
        for i in range(n):
            make_task("P11-QC", plan_key=PLAN, title=f"批量{n}-{i}", due_on=local_today() - timedelta(days=5 + i))
        for sort in ("due", "owner", "plan", "updated"):
            with count_queries() as statements:
                response = client.get("/overdue", query_string={"plan": PLAN, "sort": sort, "status": "not_started"})
            assert response.status_code == 200
            counts[(n, sort)] = statements()
    for sort in ("due", "owner", "plan", "updated"):
        assert counts[(2, sort)] == counts[(12, sort)], counts
    assert max(counts.values()) <= 20, counts


def _bar(ids, action, **more):
    return {
        "task": [str(i) for i in ids],
        "action": action,
        "source": "overdue",
        "next": f"/overdue?plan={PLAN}",
        **more,
    }


def test_the_action_bar_urges_moves_due_dates_and_exports_from_the_overdue_list(client, auth, people, late):
    auth.login(people["beijing"])
    page = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert 'id="bulk-form"' in page and 'value="urge"' in page and 'value="move_due"' in page
    assert 'value="accept"' not in page  # an overdue task is open: nothing to review here
    ids = [late["d3"].id, late["d10"].id]
    response = client.post("/tasks/bulk", data=_bar(ids, "urge", comment="请尽快"), headers=HX)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "已催办 2 项" in text
    assert '"refresh": "#results"' in response.headers["HX-Trigger"]
    assert db.session.scalar(select(TaskUrge.id).where(TaskUrge.task_id == late["d3"].id)) is not None
    new_due = local_today() + timedelta(days=14)
    response = client.post("/tasks/bulk", data=_bar(ids, "move_due", due_on=new_due.isoformat()))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/overdue?plan={PLAN}")
    db.session.expire_all()
    assert db.session.get(Task, late["d3"].id).due_on == new_due
    moved = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id.in_(ids), JournalEntry.field == "due_on")
    ).all()
    assert len(moved) == 2
    assert "北京三天" not in shown(client)  # no longer overdue
    exported = client.post("/tasks/bulk/export", data=_bar([late["d40"].id, late["sh"].id], "export"))
    assert exported.status_code == 200
    cells = [str(c.value) for row in load_workbook(io.BytesIO(exported.data)).active.iter_rows() for c in row]
    assert "北京四十天" in cells and "上海五十天" not in cells  # only what Beijing sees


def test_a_leader_urges_and_exports_only(client, auth, people, late):
    auth.login(people["leader"])
    page = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert 'value="urge"' in page and 'value="move_due"' not in page and "导出所选" in page
    moved = client.post("/tasks/bulk", data=_bar([late["d3"].id], "move_due", due_on="2030-01-01"), headers=HX)
    assert moved.status_code == 422 and db.session.get(Task, late["d3"].id).due_on < local_today()
    urged = client.post("/tasks/bulk", data=_bar([late["d3"].id, late["sh"].id], "urge"), headers=HX)
    assert urged.status_code == 200 and "已催办 2 项" in urged.get_data(as_text=True)


def test_a_reporter_exports_only(client, auth, people, late):
    auth.login(people["reporter"])
    page = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert 'id="bulk-form"' in page and 'value="urge"' not in page and 'value="move_due"' not in page
    assert client.post("/tasks/bulk", data=_bar([late["d3"].id], "urge")).status_code == 403


def test_saved_filters_of_the_overdue_list_are_its_own(client, auth, people, late):
    """保存当前筛选 on /overdue keeps the overdue list's filters (list=overdue in the stored query,
    no new column); they show on /overdue only, apply there, and a name is the user's once."""
    from tracker.models import SavedFilter

    auth.login(people["beijing"])
    page = client.get("/overdue", query_string={"plan": PLAN, "late": "30"}).get_data(as_text=True)
    assert 'id="saved-filters"' in page and 'name="list" value="overdue"' in page
    query = f"plan={PLAN}&late=30&page=3"
    response = client.post("/tasks/saved-filters", data={"name": "久拖", "query": query, "list": "overdue"}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == people["beijing"].id))
    assert saved.query == f"list=overdue&plan={PLAN}&late=30"  # the page number is not kept
    assert f'href="/overdue?plan={PLAN}&amp;late=30"' in response.get_data(as_text=True)
    assert "久拖" in client.get("/overdue").get_data(as_text=True)
    assert "久拖" not in client.get("/tasks").get_data(as_text=True).split('id="saved-filters"')[1][:3000]
    assert shown(client, late="30") == ["北京一百天", "北京四十天"]
    # the task list's filter of another name saves; of the same name it is refused
    assert client.post("/tasks/saved-filters", data={"name": "逾期", "query": "overdue=y"}).status_code == 303
    clash = client.post("/tasks/saved-filters", data={"name": "久拖", "query": "overdue=y"}, headers=HX)
    assert clash.status_code == 422 and 'id="saved-filter-error"' in clash.get_data(as_text=True)
    bad = client.post("/tasks/saved-filters", data={"name": "坏的", "query": "late=12", "list": "overdue"}, headers=HX)
    assert bad.status_code == 422
    far = client.post("/tasks/saved-filters", data={"name": "外省", "query": "unit=P31", "list": "overdue"}, headers=HX)
    assert far.status_code == 422 and "无权查看" in far.get_data(as_text=True)
    gone = client.post(f"/tasks/saved-filters/{saved.id}/delete", data={"query": f"plan={PLAN}", "list": "overdue"})
    assert gone.status_code == 303 and gone.headers["Location"].endswith(f"/overdue?plan={PLAN}")
    auth.login(people["shanghai"])  # another's saved filter does not exist for them
    assert client.post(f"/tasks/saved-filters/{saved.id}/delete", data={"list": "overdue"}).status_code == 404


def _rows(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


def test_a_kept_row_is_the_row_a_fresh_render_draws_and_follows_every_change(client, auth, people, late):
    """The rows are rendered once for what they show (tracker/notifications/overdue_rows.py): a
    change of any value shown is a new row, never the kept one."""
    from tracker.explanations.service import REASONS
    from tracker.models import OverdueExplanation
    from tracker.notifications.overdue_rows import ROWS

    auth.login(people["beijing"])
    ROWS.clear()
    fresh = _rows(client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True))
    assert len(ROWS) == 4
    kept = _rows(client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True))
    assert kept == fresh and len(ROWS) == 4
    task = late["d10"]
    task.title, task.status = "北京十天改名", "blocked"
    unit = task.owner_unit
    unit.name = "北京市肿瘤质控中心（新名）"
    reason = next(iter(REASONS))
    db.session.add(
        OverdueExplanation(task_id=late["d3"].id, due_on=late["d3"].due_on, reason=reason, committed_on=local_today())
    )
    db.session.commit()
    changed = _rows(client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True))
    row = changed[changed.index(f'id="overdue-row-{task.id}"') :].split("</tr>")[0]
    assert "北京十天改名" in row and "status-blocked" in row and "（新名）" in row
    explained = changed[changed.index(f'id="overdue-row-{late["d3"].id}"') :].split("</tr>")[0]
    assert "data-explained=" in explained and "not explained" not in explained
    client.post("/lang/en", data={"next": "/"})
    english = _rows(client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True))
    assert "not explained" in english and "未说明" not in english


def test_kept_filter_fields_follow_the_chosen_values_choices_and_errors(client, auth, people, late):
    """The filter selects are rendered once for what they show (tracker/fragments.py `kept`):
    another chosen value, another plan's phases or an error is another field."""
    from tracker.fragments import KEPT

    auth.login(people["beijing"])
    KEPT.clear()
    first = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    size = len(KEPT)
    assert size >= 6
    again = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert (
        len(KEPT) == size and first[first.index('id="filters"') :][:6000] == again[again.index('id="filters"') :][:6000]
    )
    chosen = client.get("/overdue", query_string={"plan": PLAN, "status": "returned"}).get_data(as_text=True)
    assert '<option selected value="returned">' in chosen or 'value="returned" selected' in chosen
    assert (
        "第一阶段" in first and "第一阶段" not in client.get("/overdue").get_data(as_text=True).split('id="results"')[0]
    )
    wrong = client.get("/overdue", query_string={"plan": PLAN, "late": "abc"})
    assert wrong.status_code == 400 and 'id="late-error"' in wrong.get_data(as_text=True)
    fine = client.get("/overdue", query_string={"plan": PLAN}).get_data(as_text=True)
    assert 'id="late-error"' not in fine and "is-invalid" not in fine
