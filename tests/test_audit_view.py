"""The audit view (/admin/audit): an administrator reads the journals of tasks, accounts, units
and plans together, newest first, filtered, page after page, in words, and exports them."""

from __future__ import annotations

import ast
import io
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import count_queries, unit
from tracker.audit import journal as audit
from tracker.audit.labels import ACTION_LABELS, FIELD_LABELS, TASK_ACTION_LABELS, TASK_FIELD_LABELS
from tracker.audit.view import AuditFilters, Cursor, audit_page, audit_rows
from tracker.extensions import db
from tracker.models import AuditEntry, JournalEntry

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2021, 5, 10, 4, 0, tzinfo=timezone.utc)  # 12:00 in Shanghai, before any seed entry


def _task_entry(task, user, action, field=None, old=None, new=None, comment="", at=T0):
    entry = JournalEntry(
        task=task, user=user, action=action, field=field, old_value=old, new_value=new, comment=comment
    )
    entry.at = at
    db.session.add(entry)
    db.session.commit()
    return entry


def _account_entry(actor, target, action, field=None, old=None, new=None, at=T0):
    entry = audit.record_user(actor, target, action, field, old, new)
    entry.at = at
    db.session.commit()
    return entry


@pytest.fixture
def admin(make_user, auth):
    return auth.login(make_user("admin", "NHC", username="audit-admin"))


@pytest.fixture
def story(make_user, make_task, make_unit):
    """A coordinator of P11 edits a task of P11-QC and an account under P11; a reporter of P31-QC
    comments on their own task; over three days."""
    coordinator = make_user("coordinator", "P11", username="p11-coord")
    reporter = make_user("reporter", "P31-QC", username="p31-rep")
    clerk = make_user("reporter", "P11-QC", username="p11-clerk")
    own = make_task("P11-QC", title="审计任务甲")
    far = make_task("P31-QC", title="审计任务乙")
    entries = {
        "due": _task_entry(own, coordinator, "edit", "due_on", "2026-05-01", "2026-06-01", "延期", at=T0),
        "status": _task_entry(
            own, coordinator, "status", "status", "submitted", "returned", "材料不全", at=T0 + timedelta(hours=1)
        ),
        "role": _account_entry(
            coordinator, clerk, "edit", "role", "reporter", "coordinator", at=T0 + timedelta(days=1)
        ),
        "comment": _task_entry(far, reporter, "comment", comment="已上传", at=T0 + timedelta(days=2)),
        "disable": _account_entry(
            coordinator, clerk, "disable", "active", "1", "0", at=T0 + timedelta(days=2, hours=1)
        ),
    }
    return {"coordinator": coordinator, "reporter": reporter, "clerk": clerk, "own": own, "far": far, **entries}


def _ours(rows, story):
    """The rows of the story (the seed loader's journal is there too)."""
    ids = {(("journal" if isinstance(e, JournalEntry) else "audit"), e.id) for e in story.values() if hasattr(e, "at")}
    return [r for r in rows if (r.source, r.id) in ids]


STORY_DAYS = {"day_from": "2021-05-10", "day_to": "2021-05-20"}  # the seed loader's journal is of today


def _all(filters):
    return list(audit_rows(filters, 100_000))


# -- what an administrator sees ------------------------------------------------------------------


def test_tasks_and_accounts_are_read_together_newest_first(story):
    rows = _ours(_all(AuditFilters()), story)
    assert [(r.source, r.id) for r in rows] == [
        ("audit", story["disable"].id),
        ("journal", story["comment"].id),
        ("audit", story["role"].id),
        ("journal", story["status"].id),
        ("journal", story["due"].id),
    ]


def test_the_page_shows_words_never_column_names(client, admin, story):
    page = client.get("/admin/audit", query_string=STORY_DAYS).get_data(as_text=True)
    table = page[page.index('id="audit-log"') :]
    for words in (
        "截止日期",
        "状态",
        "已提交",
        "已退回",
        "角色",
        "填报员",
        "督办员",
        "已停用",
        "审计任务甲",
        "材料不全",
    ):
        assert words in table, words
    for code in ("due_on", "owner_unit_id", "status</td>", "role</td>", "submitted", "returned", "coordinator</td>"):
        assert code not in table, code


def test_a_units_rename_move_and_retirement_are_listed_in_words(client, admin, make_unit):
    make_unit("P11-H02", "P11", name="北京旧名医院")
    assert (
        client.post(
            "/admin/units/P11-H02",
            data={"name": "北京新名医院", "kind": "institution", "level": "institution", "comment": "更名"},
        ).status_code
        == 303
    )
    assert client.post("/admin/units/P11-H02/move", data={"parent": "P12", "comment": "区划调整"}).status_code == 303
    assert client.post("/admin/units/P11-H02/retire", data={"comment": "撤并"}).status_code == 303
    page = client.get("/admin/audit", query_string={"kind": "unit"}).get_data(as_text=True)
    table = page[page.index('id="audit-log"') : page.index("</table>")]
    rows = [
        [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr class=\"audit-audit\">(.*?)</tr>", table, re.S)
    ]
    # newest first: who, which unit, action, field, old, new, reason, all in words
    seen = [(r[1], r[2], *r[4:]) for r in rows]
    retired_at = seen[0][5]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", retired_at), retired_at  # a local time, not ISO
    assert seen == [
        ("audit-admin", "单位 P11-H02 北京新名医院", "撤销", "已撤销", "", retired_at, "撤并"),
        (
            "audit-admin",
            "单位 P11-H02 北京新名医院",
            "移动",
            "上级单位",
            "P11 北京市卫生健康委",
            "P12 天津市卫生健康委",
            "区划调整",
        ),
        ("audit-admin", "单位 P11-H02 北京旧名医院", "修改", "名称", "北京旧名医院", "北京新名医院", "更名"),
    ]
    for code in ("parent_id", "retired_at", "name</td>", ">retire<", ">move<", ">edit<"):
        assert code not in table, code
    moves = client.get("/admin/audit", query_string={"kind": "unit", "action": "move"}).get_data(as_text=True)
    assert "区划调整" in moves and "撤并" not in moves and "更名" not in moves


def test_filter_by_who_changed_it(client, admin, story):
    rows = _ours(_all(AuditFilters(user_ids=[story["reporter"].id])), story)
    assert [r.id for r in rows] == [story["comment"].id]
    page = client.get("/admin/audit", query_string={"user": "p31-rep"}).get_data(as_text=True)
    assert "已上传" in page and "审计任务甲" not in page
    by_name = client.get("/admin/audit", query_string={"user": story["reporter"].display_name})
    assert "已上传" in by_name.get_data(as_text=True)


def test_filter_by_unit_takes_the_units_under_it(story):
    p11 = _ours(_all(AuditFilters(unit=unit("P11"))), story)
    # the task of P11-QC and the account of a P11-QC clerk; not P31-QC's comment
    assert {r.id for r in p11} == {story["due"].id, story["status"].id, story["role"].id, story["disable"].id}
    assert {r.id for r in _ours(_all(AuditFilters(unit=unit("P31"))), story)} == {story["comment"].id}


def test_filter_by_local_days(story):
    # T0 is 12:00 on 10 May in Shanghai; a day's window runs from its local midnight
    first_day = _ours(_all(AuditFilters(day_from=date(2021, 5, 10), day_to=date(2021, 5, 10))), story)
    assert {r.id for r in first_day} == {story["due"].id, story["status"].id}
    later = _ours(_all(AuditFilters(day_from=date(2021, 5, 11), day_to=date(2021, 5, 20))), story)
    assert {r.id for r in later} == {story["role"].id, story["comment"].id, story["disable"].id}


def test_a_change_just_after_local_midnight_is_that_days(make_user, make_task):
    user = make_user("coordinator", "P11")
    task = make_task("P11-QC", title="午夜")
    entry = _task_entry(task, user, "comment", comment="零点", at=datetime(2021, 5, 10, 16, 5, tzinfo=timezone.utc))
    found = [r.id for r in _all(AuditFilters(day_from=date(2021, 5, 11), day_to=date(2021, 5, 11)))]
    assert entry.id in found
    assert entry.id not in [r.id for r in _all(AuditFilters(day_to=date(2021, 5, 10)))]


def test_filter_by_action_and_by_kind(story):
    assert [r.id for r in _ours(_all(AuditFilters(action="status")), story)] == [story["status"].id]
    edits = _ours(_all(AuditFilters(action="edit")), story)
    assert {r.id for r in edits} == {story["role"].id, story["due"].id}
    assert {r.id for r in _ours(_all(AuditFilters(kind="user")), story)} == {story["role"].id, story["disable"].id}
    tasks_only = _ours(_all(AuditFilters(kind="task")), story)
    assert {r.id for r in tasks_only} == {story["due"].id, story["status"].id, story["comment"].id}


def test_keyset_pages_walk_both_journals_once_in_order(story, make_user, make_task):
    user = make_user("coordinator", "P11")
    task = make_task("P11-QC", title="同一时刻")
    same = T0 + timedelta(days=5)
    for n in range(4):  # both journals, the same instant
        _task_entry(task, user, "comment", comment=f"同时{n}", at=same)
        _account_entry(user, story["clerk"], "edit", "phone", str(n), str(n + 1), at=same)
    walked, cursor = [], None
    filters = AuditFilters(day_from=date(2021, 5, 10), day_to=date(2021, 5, 20))
    while True:
        page = audit_page(filters, cursor, per_page=3)
        walked.extend((r.source, r.id) for r in page.rows)
        if page.next_cursor is None:
            break
        cursor = Cursor.parse(page.next_cursor.token())
    expected = [(r.source, r.id) for r in _all(filters)]
    assert walked == expected and len(walked) == len(set(walked)) == 13


def test_a_page_costs_the_same_few_statements_however_many_rows(client, admin, make_user, make_task):
    user = make_user("coordinator", "P11")
    tasks = [make_task(code, title=f"批量{code}") for code in ("P11-QC", "P31-QC", "P11")]
    for n in range(60):
        _task_entry(tasks[n % 3], user, "comment", comment=f"意见{n}", at=T0 + timedelta(minutes=n))
        _account_entry(user, user, "account", "phone", str(n), str(n + 1), at=T0 + timedelta(minutes=n))
    client.get("/admin/audit")
    with count_queries() as statements:
        response = client.get("/admin/audit")
    assert response.status_code == 200 and response.get_data(as_text=True).count('class="audit-') == 50
    assert statements() <= 8
    with count_queries() as filtered:
        client.get("/admin/audit", query_string={"user": user.username, "unit": "P11", "kind": "task"})
    assert filtered() <= 10


def test_the_older_link_continues_and_a_bad_cursor_starts_at_the_top(client, admin, make_user):
    user = make_user("coordinator", "P11")
    for n in range(55):
        _account_entry(user, user, "account", "phone", str(n), str(n + 1), at=T0 + timedelta(seconds=n))
    first = client.get("/admin/audit", query_string={"action": "account"}).get_data(as_text=True)
    assert 'id="audit-older"' in first
    link = first.split('id="audit-older" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(link).get_data(as_text=True)
    assert second.count('class="audit-audit"') == 5 and 'id="audit-older"' not in second
    for token in ("x", "20260101T000000.000000.journal.-1", "99999999T999999.0.audit.1", "a.b.c.d"):
        response = client.get("/admin/audit", query_string={"after": token, "action": "account"})
        assert response.status_code == 200 and response.get_data(as_text=True).count('class="audit-audit"') == 50


def test_an_htmx_request_gets_only_the_results(client, admin, story):
    response = client.get("/admin/audit", query_string={"kind": "task"}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert 'id="audit-log"' in body and 'id="audit-filters"' not in body and "navbar" not in body


# -- wrong filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, field",
    [
        ({"user": "nobody-at-all"}, "user"),
        ({"unit": "没有这个单位"}, "unit"),
        ({"day_from": "2026-02-30"}, "day_from"),
        ({"day_from": "2026-05-10", "day_to": "2026-05-01"}, "day_to"),
        ({"action": "drop"}, "action"),
        ({"kind": "users; --"}, "kind"),
    ],
)
def test_a_wrong_filter_is_named_next_to_its_field(client, admin, args, field):
    response = client.get("/admin/audit", query_string=args)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="audit-invalid"' in body and 'id="audit-log"' not in body
    assert f'id="{field}-error"' in body
    assert client.get("/admin/audit/export.xlsx", query_string=args).status_code == 400


# -- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["P11-QC", "P31-QC"])
def test_reporters_do_not_read_the_audit_log(client, auth, make_user, code):
    auth.login(make_user("reporter", code))
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.xlsx").status_code == 403
    assert "/admin/audit" not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("role, code", [("coordinator", "P11"), ("coordinator", "NHC"), ("leader", "NHC")])
def test_coordinators_and_leaders_find_it_in_the_menu(client, auth, make_user, role, code):
    auth.login(make_user(role, code))
    assert client.get("/admin/audit").status_code == 200
    page = client.get("/").get_data(as_text=True)
    menu = page[page.index('data-menu="admin"') :]
    assert 'href="/admin/audit"' in menu[: menu.index("</ul>")]


def test_administrators_find_it_under_administration(client, admin):
    page = client.get("/").get_data(as_text=True)
    admin_menu = page[page.index('data-menu="admin"') :]
    assert 'href="/admin/audit"' in admin_menu[: admin_menu.index("</ul>")]


# -- the export ----------------------------------------------------------------------------------


def _sheet(response):
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return load_workbook(io.BytesIO(response.get_data())).active


def test_the_export_has_the_filtered_rows_in_words_and_formulas_stay_text(client, admin, make_user, make_task):
    user = make_user("coordinator", "P11")
    task = make_task("P11-QC", title='=HYPERLINK("http://x")')
    _task_entry(task, user, "comment", comment="=1+1", at=T0)
    _task_entry(task, user, "status", "status", "in_progress", "submitted", "+cmd", at=T0 + timedelta(minutes=1))
    sheet = _sheet(client.get("/admin/audit/export.xlsx", query_string={"user": user.username}))
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r[0] == "时间"))
    data = rows[header + 1 :]
    assert rows[header][:6] == ("时间", "操作人", "对象", "名称", "单位", "操作")
    assert [r[5] for r in data] == ["状态变更", "发表意见"]
    assert data[0][6:10] == ("状态", "进行中", "已提交", "+cmd")
    assert data[1][3] == '=HYPERLINK("http://x")' and data[1][9] == "=1+1"
    for row in sheet.iter_rows(min_row=header + 2):
        for cell in row:
            assert cell.data_type != "f"


def test_the_export_stops_at_its_cap(client, admin, app, make_user, monkeypatch):
    user = make_user("coordinator", "P11")
    for n in range(30):
        _account_entry(user, user, "account", "phone", str(n), str(n + 1), at=T0 + timedelta(seconds=n))
    monkeypatch.setitem(app.config, "AUDIT_EXPORT_MAX_ROWS", 12)
    sheet = _sheet(client.get("/admin/audit/export.xlsx", query_string={"action": "account"}))
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r[0] == "时间"))
    assert len(rows) - header - 1 == 12
    assert any("12" in str(r[0]) for r in rows[:header])  # the cap is said


# -- every journaled field and action has its words -----------------------------------------------


def _journal_calls():
    """(journal, action, field) of every literal journal.record / audit.record_* call in tracker/."""
    found = set()
    for path in (ROOT / "tracker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id in ("journal", "audit")):
                continue
            if not node.func.attr.startswith("record"):
                continue
            if owner.id == "audit" and node.func.attr == "record":
                continue  # the generic writer: its callers are record_user, record_unit, record_plan
            args = node.args[2:]  # journal.record(task, user, …), audit.record_user(actor, user, …)
            keywords = {k.arg: k.value for k in node.keywords}
            action = args[0] if args else keywords.get("action")
            field = args[1] if len(args) > 1 else keywords.get("field")
            literal = lambda n: n.value if isinstance(n, ast.Constant) else None  # noqa: E731
            # journal.record(task, …) writes the task journal; journal.record_user/record_unit/… and
            # audit.record_* the journal of accounts, units and plans
            kind = "journal" if owner.id == "journal" and node.func.attr == "record" else "audit"
            found.add((kind, literal(action), literal(field)))
    return found


def test_every_journaled_action_and_field_has_a_label():
    from tracker.importer.seed import JOURNALED_FIELDS
    from tracker.models.cascade import SYNCED_FIELDS
    from tracker.plans.operations import EDITABLE_FIELDS

    calls = _journal_calls()
    assert len(calls) > 20
    missing = []
    for owner, action, field in calls:
        actions, fields = (
            (TASK_ACTION_LABELS, TASK_FIELD_LABELS) if owner == "journal" else (ACTION_LABELS, FIELD_LABELS)
        )
        if action is not None and action not in actions:
            missing.append((owner, "action", action))
        if field is not None and field not in fields:
            missing.append((owner, "field", field))
    for name in set(JOURNALED_FIELDS) | set(SYNCED_FIELDS) | set(EDITABLE_FIELDS) | {"co_owners"}:
        if name not in TASK_FIELD_LABELS:
            missing.append(("journal", "field", name))
    for name in ("display_name", "unit_id", "role", "email", "phone", "language"):
        if name not in FIELD_LABELS:
            missing.append(("audit", "field", name))
    assert missing == []


def test_rows_of_unknown_actions_and_fields_still_show_words(client, admin, make_user, make_task):
    user = make_user("coordinator", "P11")
    _task_entry(make_task("P11-QC", title="旧数据"), user, "mystery_action", "mystery_column", "a", "b", at=T0)
    db.session.add(
        AuditEntry(
            actor_id=user.id,
            action="renamed_thing",
            subject="unit",
            subject_id=1,
            subject_label="x",
            field="weird_col",
            at=T0,
        )
    )
    db.session.commit()
    page = client.get("/admin/audit", query_string={"day_from": "2021-05-10", "day_to": "2021-05-10"}).get_data(
        as_text=True
    )
    assert "mystery_action" not in page and "mystery_column" not in page and "weird_col" not in page
    assert "其他变更" in page and "其他字段" in page


def test_a_units_coded_values_show_as_words(make_user):
    from tracker.audit.view import value_text

    assert value_text("unit", "kind", "qc_center") == "质控中心"
    assert value_text("unit", "level", "provincial") == "省级"
    assert value_text("unit", "retired_at", "2026-05-10T16:05:00+00:00") == "2026-05-11 00:05"
    assert value_text("user", "role", "leader") == "领导"
    assert value_text("task", "status", "accepted") == "已通过"


# -- a coordinator's audit log: their subtree only -----------------------------------------------


@pytest.fixture
def coordinator_view(client, auth, make_user, story):
    """The story, plus a unit change in each province, read by a coordinator of P11."""
    for code in ("P11-QC", "P31-QC"):
        entry = audit.record_unit(story["coordinator"], unit(code), "edit", "name", "旧名", f"新名{code}")
        entry.at = T0 + timedelta(days=3)
    db.session.commit()
    auth.login(make_user("coordinator", "P11", username="p11-reader"))
    return story


def test_a_coordinator_reads_what_is_about_their_subtree_only(story):
    p11 = _ours(_all(AuditFilters(scope=unit("P11"))), story)
    assert {r.id for r in p11} == {story["due"].id, story["status"].id, story["role"].id, story["disable"].id}
    assert [r.id for r in _ours(_all(AuditFilters(scope=unit("P31"))), story)] == [story["comment"].id]
    # a unit filter inside the scope narrows it, one above it is the scope, one apart leaves nothing
    inner = _ours(_all(AuditFilters(scope=unit("P11"), unit=unit("P11-QC"))), story)
    assert {r.id for r in inner} == {story["due"].id, story["status"].id, story["role"].id, story["disable"].id}
    apart = AuditFilters(scope=unit("P11"), unit=unit("P31"))
    with count_queries() as statements:
        assert _all(apart) == []
    assert statements() == 0  # two subtrees apart: nothing to ask the database
    above = _ours(_all(AuditFilters(scope=unit("P11-QC"), unit=unit("P11"))), story)
    assert {r.id for r in above} == {story["due"].id, story["status"].id, story["role"].id, story["disable"].id}


def test_a_coordinators_page_and_export_show_no_other_province(client, coordinator_view):
    page = client.get("/admin/audit", query_string=STORY_DAYS)
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="audit-scope"' in body
    for mine in ("审计任务甲", "材料不全", "新名P11-QC", "p11-clerk"):
        assert mine in body, mine
    for theirs in ("审计任务乙", "已上传", "新名P31-QC", "p31-rep"):
        assert theirs not in body, theirs
    # accounts of the subtree link to their page (a coordinator manages them)
    assert f'href="/admin/users/{coordinator_view["clerk"].id}"' in body

    sheet = _sheet(client.get("/admin/audit/export.xlsx", query_string=STORY_DAYS))
    cells = {c for row in sheet.iter_rows(values_only=True) for c in row if c}
    assert "审计任务甲" in cells and "新名P11-QC" in cells
    assert not {"审计任务乙", "已上传", "新名P31-QC"} & cells


@pytest.mark.parametrize(
    "args, field",
    [
        ({"user": "p31-rep"}, "user"),  # another province's account: as if nobody had the name
        ({"unit": "P31-QC"}, "unit"),  # another province's unit: as if there were none
        ({"unit": "P31"}, "unit"),
        ({"unit": "NHC"}, "unit"),  # a unit above theirs
    ],
)
def test_a_coordinators_filters_naming_another_province_are_form_errors(client, coordinator_view, args, field):
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get("/admin/audit", query_string={**STORY_DAYS, **args}, headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and f'id="{field}-error"' in body
        assert 'id="audit-log"' not in body and "已上传" not in body and "审计任务乙" not in body
        if headers:  # the results alone, and the form out of band with its field's error
            assert 'id="audit-filters" hx-swap-oob="true"' in body and "navbar" not in body
    assert client.get("/admin/audit/export.xlsx", query_string=args).status_code == 400


def test_a_coordinators_filters_within_their_subtree_work(client, coordinator_view):
    body = client.get("/admin/audit", query_string={**STORY_DAYS, "unit": "P11-QC", "kind": "task"}).get_data(
        as_text=True
    )
    assert "延期" in body and "材料不全" in body and "p11-clerk" not in body
    by_user = client.get("/admin/audit", query_string={**STORY_DAYS, "user": "p11-coord"}).get_data(as_text=True)
    assert "材料不全" in by_user and "已上传" not in by_user


def test_a_cursor_from_elsewhere_only_positions_a_coordinators_page(client, coordinator_view):
    # the newest P31 entry's cursor: what comes after it is still only P11's
    token = Cursor(coordinator_view["comment"].at, "journal", coordinator_view["comment"].id).token()
    body = client.get("/admin/audit", query_string={**STORY_DAYS, "after": token}).get_data(as_text=True)
    assert "材料不全" in body and "已上传" not in body and "审计任务乙" not in body


def test_a_coordinators_page_costs_a_few_statements(client, coordinator_view, make_user, make_task):
    user = make_user("coordinator", "P11")
    tasks = [make_task(code, title=f"批量{code}") for code in ("P11-QC", "P31-QC", "P11")]
    for n in range(60):
        _task_entry(tasks[n % 3], user, "comment", comment=f"意见{n}", at=T0 + timedelta(minutes=n))
    client.get("/admin/audit")
    with count_queries() as statements:
        response = client.get("/admin/audit")
    assert response.status_code == 200 and "批量P31-QC" not in response.get_data(as_text=True)
    assert statements() <= 8
    with count_queries() as filtered:
        client.get("/admin/audit", query_string={"user": user.username, "unit": "P11-QC", "kind": "task"})
    assert filtered() <= 10


def test_a_leader_reads_everything_and_changes_nothing(client, auth, make_user, story):
    auth.login(make_user("leader", "NHC"))
    body = client.get("/admin/audit", query_string=STORY_DAYS).get_data(as_text=True)
    assert "审计任务甲" in body and "已上传" in body and "p11-clerk" in body
    assert "/admin/users/" not in body  # no link to a page that would answer 403
    results = body[body.index('id="audit-results"') :]
    assert 'method="post"' not in results.lower()  # nothing on the page to write with
    assert _sheet(client.get("/admin/audit/export.xlsx", query_string=STORY_DAYS)).max_row > 3
