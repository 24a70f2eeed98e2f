"""The permission matrix: one declarative table of expected outcomes, checked cell by cell.

Relations of the object to the user's unit (P11-QC): own, child (a hospital under it), parent
(P11), sibling (another unit under P11), other (another province's QC centre). Roles: reporter,
coordinator (both at P11-QC), leader and admin (at NHC). Outcomes: "ok" (2xx/3xx, or a 400/409/422
form error: the request was let in), 403 (seen but not allowed), 404 (does not exist for them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.extensions import db

RELATIONS = ("own", "child", "parent", "sibling", "other")
ROLES = ("reporter", "coordinator", "leader", "admin")
OK = "ok"

SEEN = {"own": OK, "child": OK, "parent": 404, "sibling": 404, "other": 404}
ALL_OK = {r: OK for r in RELATIONS}
FORBIDDEN = {r: 403 for r in RELATIONS}


def expect(reporter, coordinator, leader=ALL_OK, admin=ALL_OK):
    return {"reporter": reporter, "coordinator": coordinator, "leader": leader, "admin": admin}


LEADER_MAY_NOT = {r: 403 for r in RELATIONS}
COORDINATOR_ONLY = {"own": 403, "child": 403, "parent": 404, "sibling": 404, "other": 404}
# 督办 by hand (tracker/supervision/): a coordinator urges only the tasks of units under theirs
OWN_ONLY = {"own": OK, "child": 403, "parent": 404, "sibling": 404, "other": 404}
BELOW_ONLY = {"own": 403, "child": OK, "parent": 404, "sibling": 404, "other": 404}

# (endpoint, method, url template, form data) -> outcome per role and relation of the task's owner
TASK_ROUTES = [
    ("plans.task_page", "GET", "/tasks/{task}", None, expect(SEEN, SEEN)),
    ("plans.task_edit", "GET", "/tasks/{task}/edit", None, expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT)),
    (
        "plans.task_edit",
        "POST",
        "/tasks/{task}/edit",
        {"version": "{version}", "title": "改", "weight": "1"},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    ("plans.task_comment", "POST", "/tasks/{task}/comments", {"text": "意见"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    (
        "plans.task_percent",
        "POST",
        "/tasks/{task}/percent",
        {"version": "{version}", "percent": "30"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    (
        "plans.task_status",
        "POST",
        "/tasks/{task}/status",
        {"version": "{version}", "target": "in_progress"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    # 撤销通过: a reviewer above the owner (only the one who accepted, in the window: else 422, let
    # in; tests/test_accept_undo.py); the owner's own unit and leaders have no part in the review
    (
        "plans.task_undo_accept",
        "POST",
        "/tasks/{task}/undo-accept",
        {"version": "{version}"},
        expect(COORDINATOR_ONLY, BELOW_ONLY, LEADER_MAY_NOT),
    ),
    ("plans.task_evidence", "POST", "/tasks/{task}/evidence", {"file": "PDF"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    (
        "plans.task_handle",
        "POST",
        "/tasks/{task}/handle",
        {"version": "{version}", "percent": "30", "files": "PDF"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    (
        "plans.task_withdraw",
        "POST",
        "/tasks/{task}/withdraw",
        {"version": "{version}"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    (
        "explanations.explain",
        "POST",
        "/tasks/{task}/explanation",
        {"reason": "other", "detail": "x", "committed_on": "2099-01-01"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    ("plans.evidence_download", "GET", "/evidence/{evidence}", None, expect(SEEN, SEEN)),
    # 催办: leaders (and admins) on any task, coordinators on tasks below their unit, reporters never
    ("supervision.urge", "POST", "/tasks/{task}/urge", {"message": "请抓紧"}, expect(COORDINATOR_ONLY, BELOW_ONLY)),
    # 批示: leaders' (and admins'); with 催办 the only writes a leader makes
    (
        "supervision.instruct",
        "POST",
        "/tasks/{task}/instruction",
        {"text": "请抓紧落实"},
        expect(COORDINATOR_ONLY, COORDINATOR_ONLY),
    ),
    # 签收: the owner unit's own users (a task not waiting answers 422, let in)
    ("supervision.sign", "POST", "/tasks/{task}/sign", {}, expect(OWN_ONLY, OWN_ONLY, LEADER_MAY_NOT)),
    # 责任人: a coordinator over the owner unit
    (
        "supervision.responsible",
        "POST",
        "/tasks/{task}/responsible",
        {"responsible": "0", "contact_name": "王科长"},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    # 关注: anyone who sees the task, except leaders (a write that is neither 批示 nor 催办)
    ("supervision.watch", "POST", "/tasks/{task}/watch", {"on": "1"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    # tasks by hand (issue 21): a sub-task, a move, a delete by a coordinator over the owner
    # (the world's tasks have evidence: a delete is refused with a form error, let in)
    (
        "plans.task_new",
        "GET",
        "/plans/fixture-plan/tasks/new?parent={task}",
        None,
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    (
        "plans.task_new",
        "POST",
        "/plans/fixture-plan/tasks/new?parent={task}",
        {"title": "子任务"},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    # the count of "each unit of a kind/level under ..." before saving: as the form itself
    (
        "plans.task_new",
        "POST",
        "/plans/fixture-plan/tasks/new?parent={task}",
        {"then": "count", "owner_mode": "each", "each_kind": "institution", "each_under": "P11"},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    ("plans.task_move", "GET", "/tasks/{task}/move", None, expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT)),
    (
        "plans.task_move",
        "POST",
        "/tasks/{task}/move",
        {"version": "{version}", "parent": ""},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
    ("plans.task_delete", "GET", "/tasks/{task}/delete", None, expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT)),
    (
        "plans.task_delete",
        "POST",
        "/tasks/{task}/delete",
        {"version": "{version}"},
        expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT),
    ),
]

# unit pages: ?unit=<the relation's unit>
UNIT_ROUTES = [
    ("progress.matrix", "GET", "/progress/ncc-qc-2024?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.matrix_export", "GET", "/progress/ncc-qc-2024/matrix.csv?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.timeline", "GET", "/progress/ncc-qc-2024/timeline?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.ranking", "GET", "/ranking?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.ranking_export", "GET", "/ranking.xlsx?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.leadership", "GET", "/leadership?unit={unit}", None, expect(SEEN, SEEN)),
    ("progress.circular", "GET", "/leadership/circular.docx?unit={unit}", None, expect(SEEN, SEEN)),
    ("explanations.rates", "GET", "/explanations?unit={unit}", None, expect(SEEN, SEEN)),
    ("notifications.overdue", "GET", "/overdue?unit={unit}", None, expect(SEEN, SEEN)),
    # 批示 on a unit's row of the leadership screen: leaders' and admins' (the POST: tests/test_unsigned.py)
    (
        "supervision.unit_instruction",
        "GET",
        "/supervision/unit-instruction?unit={unit}",
        None,
        expect(FORBIDDEN, FORBIDDEN),
    ),
]

# pages of one's own (no object of another unit involved): every signed-in role gets in
OWN_PAGES = {
    ("plans.my_work_page", "GET", "/"),
    ("plans.plan_list", "GET", "/plans"),
    ("plans.task_list", "GET", "/tasks"),
    ("plans.plan_detail", "GET", "/plans/ncc-qc-2024"),
    ("progress.phases", "GET", "/progress/quality-2023/phases"),
    ("progress.phases_export", "GET", "/progress/quality-2023/phases.xlsx"),
    ("progress.tasks_export", "GET", "/tasks/export.csv"),
    ("notifications.inbox", "GET", "/notifications"),
    ("notifications.read_all", "POST", "/notifications/read-all"),
    ("notifications.read_group", "POST", "/notifications/read-group"),  # one's own notices only; no data: 400
    # 标记已读 of a selection or of the filtered result: one's own notices only (tests/test_inbox_lists.py); no data: 400
    ("notifications.read_selected", "POST", "/notifications/read-selected"),
    # the unit picker's search: every role, each within its own scope (tests/test_pickers.py)
    ("pickers.unit_search", "GET", "/units/search?q=%E8%B4%A8%E6%8E%A7"),
    # 保存当前筛选: one's own saved filters (no data: 303 back to the list, or 422 for HTMX)
    ("plans.save_saved_filter", "POST", "/tasks/saved-filters"),
    # the global search: every role, each within its own scope (test_search_finds_what_each_role_sees)
    ("search.search_page", "GET", "/search?q=%E7%9F%A9%E9%98%B5%E4%BB%BB%E5%8A%A1"),
}

ADMIN_ONLY = {
    ("notifications.rules", "GET", "/admin/escalation-rules"),
}
# the audit log (issue 21): admins and leaders read every journal, a coordinator what is about
# their subtree (test_audit_log_holds_what_each_role_may_read), a reporter nothing
AUDIT_READERS = {
    ("audit.journal_page", "GET", "/admin/audit"),
    ("audit.journal_export", "GET", "/admin/audit/export.xlsx"),
}
# the bulk 催办 of the overdue list: its per-task scope is test_bulk_urge_reaches_only_the_senders_tasks
BULK_ROUTES = {"supervision.urge_bulk"}
# bulk accept / return / move due date and export of a selection (task list, review queue): their
# per-task scope is test_bulk_accept_reaches_only_the_reviewers_tasks and
# test_bulk_export_holds_only_what_each_role_sees; its 催办 (the cascade children list's bar)
# test_bulk_bar_urge_of_the_cascade_list_reaches_only_the_senders_tasks
BULK_ROUTES |= {"plans.bulk_action", "plans.bulk_export"}

# Endpoints whose per-object permissions are checked in their own test files.
ELSEWHERE = {
    "plans.tree_children_page": "test_scope.py",
    "notifications.badge": "test_notifications.py",
    "notifications.read": "test_notifications.py",
    "auth.login": "test_auth.py",
    "auth.logout": "test_auth.py",
    "auth.set_language": "test_i18n.py",
    "auth.oidc_login": "test_sso.py",  # single sign-on: public, 404 while OIDC is off
    "auth.oidc_callback": "test_sso.py",
    "admin.healthz": "test_backup.py",
    "indicators.": "test_indicator_pages.py",
    "cascade.": "test_cascade.py",
    "duties.": "test_recurrence.py",
    "schemes.": "test_schemes.py",
    "calendar.": "test_calendar.py",
    "drafts.": "test_draft_review.py",
    "static": "test_pages.py",
    "vendor": "test_progress_pages.py",
    "api.": "test_api_permissions.py",
    "api_tokens.": "test_api_tokens.py",
    "plans.delete_saved_filter": "test_saved_filters.py",  # one's own only; anyone else's: 404
}
PUBLIC = {
    "auth.login",
    "auth.oidc_login",
    "auth.oidc_callback",
    "auth.set_language",
    "admin.healthz",
    "static",
    "vendor",
    "calendar.calendar_feed",
    "api.openapi_json",
    "api.docs",
    "api.unknown",  # the API's description; its JSON 404/405
    "layout.favicon",
    "layout.manifest",
}


@pytest.fixture
def world(make_unit, make_task, make_user):
    """A task (with an evidence file) owned by a unit in each relation to P11-QC."""
    import uuid

    from tracker.models import Evidence
    from tests.conftest import store_bytes

    units = {
        "own": "P11-QC",
        "child": make_unit("P11-QC-H", "P11-QC").code,
        "parent": "P11",
        "sibling": make_unit("P11-H", "P11").code,
        "other": "P31-QC",
    }
    tasks, evidence = {}, {}
    for relation, code in units.items():
        task = make_task(code, title=f"矩阵任务-{relation}", due_on=None)
        item = Evidence(
            task=task,
            user=make_user("reporter", code),
            kind="file",
            note="",
            original_name="证据.pdf",
            stored_name=uuid.uuid4().hex + ".pdf",
            size=9,
            mime_type="application/pdf",
        )
        db.session.add(item)
        db.session.commit()
        store_bytes(item.stored_name, b"%PDF-1.4\n")
        tasks[relation], evidence[relation] = task, item
    return units, tasks, evidence


def _user(make_user, role):
    return make_user(role, "P11-QC" if role in ("reporter", "coordinator") else "NHC")


def _outcome(response) -> object:
    code = response.status_code
    response.close()
    if code in (403, 404):
        return code
    assert code < 500, code
    return OK


def _route_id(row) -> str:
    return f"{row[1]} {row[2]}"


@pytest.mark.parametrize("row", TASK_ROUTES, ids=_route_id)
def test_task_routes(client, auth, make_user, world, row):
    import io

    endpoint, method, url, data, by_role = row
    _units, tasks, evidence = world
    users = {role: _user(make_user, role) for role in ROLES}
    wrong = []
    for role in ROLES:
        auth.login(users[role])
        for relation in RELATIONS:
            task = tasks[relation]
            db.session.refresh(task)
            target = url.format(task=task.id, evidence=evidence[relation].id)
            form = {k: (v.format(version=task.version) if isinstance(v, str) else v) for k, v in (data or {}).items()}
            for name in ("file", "files"):
                if form.get(name) == "PDF":
                    form[name] = (io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"), "矩阵.pdf")
            response = (
                client.get(target)
                if method == "GET"
                else client.post(target, data=form, content_type="multipart/form-data")
            )
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == [], (endpoint, method, wrong)


@pytest.mark.parametrize("row", UNIT_ROUTES, ids=_route_id)
def test_unit_routes(client, auth, make_user, world, row):
    endpoint, _method, url, _data, by_role = row
    units, _tasks, _evidence = world
    wrong = []
    for role in ROLES:
        auth.login(_user(make_user, role))
        for relation in RELATIONS:
            response = client.get(url.format(unit=units[relation]))
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == [], (endpoint, wrong)


@pytest.mark.parametrize("role", ROLES)
def test_own_pages_and_admin_pages(client, auth, make_user, role):
    auth.login(_user(make_user, role))
    for endpoint, method, url in sorted(OWN_PAGES):
        response = client.get(url) if method == "GET" else client.post(url)
        assert _outcome(response) == OK, (endpoint, role)
    for endpoint, _method, url in ADMIN_ONLY:
        assert _outcome(client.get(url)) == (OK if role == "admin" else 403), (endpoint, role)
    for endpoint, _method, url in AUDIT_READERS:
        assert _outcome(client.get(url)) == (403 if role == "reporter" else OK), (endpoint, role)


def test_audit_log_holds_what_each_role_may_read(client, auth, make_user, world):
    """Of a journal entry about each relation's task, account and unit, the audit log (and its
    export) shows a coordinator of P11-QC those of its own unit and the one under it, a leader
    and an admin all of them; a reporter is refused. A filter naming another province's unit or
    account is a form error there, never its rows."""
    import io

    from openpyxl import load_workbook
    from sqlalchemy import select

    from tracker.audit import journal as audit
    from tracker.models import JournalEntry, OrgUnit

    units, tasks, _evidence = world
    author = make_user("admin", "NHC")
    for relation, code in units.items():
        db.session.add(
            JournalEntry(task=tasks[relation], user=author, action="comment", comment=f"审计-任务-{relation}")
        )
        audit.record_user(
            author, make_user("reporter", code), "edit", "phone", "1", "2", comment=f"审计-账号-{relation}"
        )
        place = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        audit.record_unit(author, place, "edit", "name", "旧", "新", comment=f"审计-单位-{relation}")
    db.session.commit()
    marks = [f"审计-{what}-{r}" for what in ("任务", "账号", "单位") for r in RELATIONS]
    shown, exported = {}, {}
    for role in ROLES:
        auth.login(_user(make_user, role))
        response = client.get("/admin/audit")
        export = client.get("/admin/audit/export.xlsx")
        if role == "reporter":
            shown[role], exported[role] = response.status_code, export.status_code
            continue
        page = response.get_data(as_text=True)
        shown[role] = sorted(m for m in marks if m in page)
        cells = {c for row in load_workbook(io.BytesIO(export.data)).active.iter_rows(values_only=True) for c in row}
        exported[role] = sorted(m for m in marks if m in cells)
    mine = sorted(m for m in marks if m.endswith(("-own", "-child")))
    assert shown == exported == {"reporter": 403, "coordinator": mine, "leader": sorted(marks), "admin": sorted(marks)}

    auth.login(_user(make_user, "coordinator"))
    for args, field in (
        ({"unit": units["other"]}, "unit"),
        ({"unit": units["parent"]}, "unit"),
        ({"user": author.username}, "user"),
    ):
        response = client.get("/admin/audit", query_string=args)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and f'id="{field}-error"' in body, args
        assert not any(m in body for m in marks), args
        assert client.get("/admin/audit/export.xlsx", query_string=args).status_code == 400


def test_search_finds_what_each_role_sees(client, auth, make_user, world):
    """/search?q=矩阵任务 lists, of the world's tasks, exactly those of the relations each role
    sees: its own unit's and the units' under it (reporter, coordinator), all (leader, admin)."""
    _units, tasks, _evidence = world
    found = {}
    for role in ROLES:
        auth.login(_user(make_user, role))
        page = client.get("/search", query_string={"q": "矩阵任务", "per_page": 100}).get_data(as_text=True)
        found[role] = sorted(r for r in RELATIONS if f'href="/tasks/{tasks[r].id}"' in page)
    seen = sorted(r for r in RELATIONS if SEEN[r] == OK)
    assert found == {"reporter": seen, "coordinator": seen, "leader": sorted(RELATIONS), "admin": sorted(RELATIONS)}


def test_every_route_needs_a_sign_in_except_the_public_ones(app, client):
    from flask import url_for

    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        values = {arg: (1 if "id" in arg else "x") for arg in rule.arguments}
        values.update(
            {k: v for k, v in (("key", "ncc-qc-2024"), ("fmt", "csv"), ("code", "en")) if k in rule.arguments}
        )
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 401, 303) and "/login" in response.headers.get("Location", "/login"), (
                rule.endpoint,
                method,
                response.status_code,
            )
            response.close()
            checked += 1
    assert checked > 60


def test_the_matrix_covers_every_route(app):
    listed = (
        {row[0] for row in TASK_ROUTES}
        | {row[0] for row in UNIT_ROUTES}
        | {e for e, *_ in OWN_PAGES}
        | {e for e, *_ in ADMIN_ONLY}
        | {e for e, *_ in AUDIT_READERS}
        | BULK_ROUTES
    )
    listed |= _ISSUE_21_LISTED
    tests = Path(__file__).resolve().parent
    missing = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in listed or endpoint in PUBLIC:
            continue
        covered = next(
            (
                f
                for prefix, f in ELSEWHERE.items()
                if endpoint == prefix or (prefix.endswith(".") and endpoint.startswith(prefix))
            ),
            None,
        )
        if covered is None or not (tests / covered).exists():
            missing.append(endpoint)
    assert missing == [], "add these routes to the permission matrix: " + ", ".join(sorted(set(missing)))


def test_bulk_urge_reaches_only_the_senders_tasks(client, auth, make_user, world):
    """Ticking every task of the world: a leader urges all, a coordinator only the one below it,
    a reporter is refused."""
    from sqlalchemy import select

    from tracker.models import TaskUrge

    _units, tasks, _evidence = world
    ids = [str(tasks[r].id) for r in RELATIONS]
    urged = {}
    for role in ROLES:
        user = _user(make_user, role)
        auth.login(user)
        response = client.post("/supervision/urge", data={"task": ids})
        urged[role] = (
            response.status_code,
            sorted(
                r
                for r in RELATIONS
                if db.session.scalar(
                    select(TaskUrge.id).where(TaskUrge.task_id == tasks[r].id, TaskUrge.sender_id == user.id)
                )
            ),
        )
    assert urged == {
        "reporter": (403, []),
        "coordinator": (303, ["child"]),
        "leader": (303, sorted(RELATIONS)),
        "admin": (303, sorted(RELATIONS)),
    }


def test_bulk_bar_urge_of_the_cascade_list_reaches_only_the_senders_tasks(client, auth, make_user, world):
    """催办 from the action bar of a cascade's children list (plans.bulk_action, action "urge",
    source "cascade"): as the overdue list's, a leader and an admin urge all, a coordinator only
    the one below it, a reporter is refused (403); the task list's bar offers no 催办 (403 for a
    leader, whose only writes there would be it)."""
    from sqlalchemy import select

    from tracker.models import TaskUrge

    _units, tasks, _evidence = world
    ids = [str(tasks[r].id) for r in RELATIONS]
    urged = {}
    for role in ROLES:
        user = _user(make_user, role)
        auth.login(user)
        response = client.post("/tasks/bulk", data={"action": "urge", "source": "cascade", "task": ids})
        urged[role] = (
            response.status_code,
            sorted(
                r
                for r in RELATIONS
                if db.session.scalar(
                    select(TaskUrge.id).where(TaskUrge.task_id == tasks[r].id, TaskUrge.sender_id == user.id)
                )
            ),
        )
    assert urged == {
        "reporter": (403, []),
        "coordinator": (303, ["child"]),
        "leader": (303, sorted(RELATIONS)),
        "admin": (303, sorted(RELATIONS)),
    }
    auth.login(_user(make_user, "leader"))
    assert client.post("/tasks/bulk", data={"action": "urge", "source": "tasks", "task": ids}).status_code == 403


def test_bulk_accept_reaches_only_the_reviewers_tasks(client, auth, make_user, world):
    """Ticking every task of the world, all submitted: an admin accepts all; a coordinator only
    the one below its unit (its own unit's is not its to review, the others it does not see); a
    leader and a reporter are refused outright (403), nothing written."""
    _units, tasks, _evidence = world
    ids = [str(tasks[r].id) for r in RELATIONS]
    accepted = {}
    for role in ROLES:
        for task in tasks.values():
            task.status = "submitted"
        db.session.commit()
        auth.login(_user(make_user, role))
        response = client.post("/tasks/bulk", data={"action": "accept", "source": "tasks", "task": ids})
        for task in tasks.values():
            db.session.refresh(task)
        accepted[role] = (response.status_code, sorted(r for r in RELATIONS if tasks[r].status == "accepted"))
    assert accepted == {
        "reporter": (403, []),
        "coordinator": (303, ["child"]),
        "leader": (403, []),
        "admin": (303, sorted(RELATIONS)),
    }


def test_bulk_export_holds_only_what_each_role_sees(client, auth, make_user, world):
    import io

    from openpyxl import load_workbook

    _units, tasks, _evidence = world
    ids = [str(tasks[r].id) for r in RELATIONS]
    exported = {}
    for role in ROLES:
        auth.login(_user(make_user, role))
        response = client.post("/tasks/bulk/export", data={"task": ids})
        sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
        titles = {row[2] for row in sheet.iter_rows(min_row=3, values_only=True)}
        exported[role] = (response.status_code, sorted(r for r in RELATIONS if f"矩阵任务-{r}" in titles))
    assert exported == {
        "reporter": (200, ["child", "own"]),
        "coordinator": (200, ["child", "own"]),
        "leader": (200, sorted(RELATIONS)),
        "admin": (200, sorted(RELATIONS)),
    }


# --- accounts (issue 21): the account of a reporter of each relation's unit ---------------------------

MANAGES = {"own": OK, "child": OK, "parent": 404, "sibling": 404, "other": 404}
USER_ROUTES = [
    ("users.account_edit", "GET", "/admin/users/{user}", None, expect(FORBIDDEN, MANAGES, FORBIDDEN)),
    (
        "users.account_edit",
        "POST",
        "/admin/users/{user}",
        {"display_name": "改名", "unit": "{unit}", "role": "reporter"},
        expect(FORBIDDEN, MANAGES, FORBIDDEN),
    ),
    ("users.account_disable", "POST", "/admin/users/{user}/disable", {}, expect(FORBIDDEN, MANAGES, FORBIDDEN)),
    ("users.account_enable", "POST", "/admin/users/{user}/enable", {}, expect(FORBIDDEN, MANAGES, FORBIDDEN)),
    ("users.account_reset", "POST", "/admin/users/{user}/reset-password", {}, expect(FORBIDDEN, MANAGES, FORBIDDEN)),
    # sign out everywhere (issue 16, finding 4): who may reset a password may end its sessions
    ("users.account_sign_out", "POST", "/admin/users/{user}/sign-out", {}, expect(FORBIDDEN, MANAGES, FORBIDDEN)),
]
# pages of those who manage accounts (admins; coordinators for their subtree)
MANAGER_PAGES = {
    # plans and ad-hoc items by hand (tracker/plans/manual.py): coordinators' and admins'
    ("plans.plan_new", "GET", "/plans/new"),
    ("plans.adhoc_new", "GET", "/adhoc/new"),
    ("users.account_list", "GET", "/admin/users"),
    ("users.account_new", "GET", "/admin/users/new"),
    ("users.account_import", "GET", "/admin/users/import"),
    ("users.account_template", "GET", "/admin/users/import/template.xlsx"),
}
OWN_PAGES |= {
    ("account.profile", "GET", "/account"),
    ("account.password", "GET", "/account/password"),
    ("account.notification_preferences", "POST", "/account/notifications"),  # one's own settings; no data: 422
    ("account.sign_out_others", "POST", "/account/sessions/sign-out-others"),  # one's own sessions; this one stays
}


@pytest.mark.parametrize("row", USER_ROUTES, ids=_route_id)
def test_account_routes(client, auth, make_user, world, row):
    endpoint, method, url, data, by_role = row
    units, _tasks, _evidence = world
    targets = {relation: make_user("reporter", code) for relation, code in units.items()}
    users = {role: _user(make_user, role) for role in ROLES}
    wrong = []
    for role in ROLES:
        auth.login(users[role])
        for relation in RELATIONS:
            target = targets[relation]
            form = {k: v.format(unit=target.unit_id) for k, v in (data or {}).items()}
            response = (
                client.get(url.format(user=target.id))
                if method == "GET"
                else client.post(url.format(user=target.id), data=form)
            )
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == [], (endpoint, method, wrong)


@pytest.mark.parametrize("role", ROLES)
def test_account_manager_pages(client, auth, make_user, role):
    auth.login(_user(make_user, role))
    for endpoint, _method, url in sorted(MANAGER_PAGES):
        assert _outcome(client.get(url)) == (OK if role in ("admin", "coordinator") else 403), (endpoint, role)


_ISSUE_21_LISTED = {row[0] for row in USER_ROUTES} | {e for e, *_ in MANAGER_PAGES}


# --- plans (issue 21): editing a plan issued by a unit in each relation ------------------------------
# Plans are seen by everyone signed in (their tasks are scoped): who may not edit one gets 403.

ISSUER_OR_ABOVE = {"own": OK, "child": OK, "parent": 403, "sibling": 403, "other": 403}
PLAN_ROUTES = [
    ("plans.plan_edit", "GET", "/plans/{plan}/edit", None, expect(FORBIDDEN, ISSUER_OR_ABOVE, FORBIDDEN)),
    (
        "plans.plan_edit",
        "POST",
        "/plans/{plan}/edit",
        {"title": "改名的计划", "stamp": "stale"},  # a stale stamp: let in, refused with 409, nothing saved
        expect(FORBIDDEN, ISSUER_OR_ABOVE, FORBIDDEN),
    ),
]


@pytest.mark.parametrize("row", PLAN_ROUTES, ids=_route_id)
def test_plan_routes(client, auth, make_user, world, row):
    from tests.conftest import unit
    from tracker.models import Plan

    endpoint, method, url, data, by_role = row
    units, _tasks, _evidence = world
    plans = {}
    for relation, code in units.items():
        plan = Plan(key=f"matrix-{relation}", title=f"矩阵计划-{relation}", issuer_unit=unit(code))
        db.session.add(plan)
        plans[relation] = plan
    db.session.commit()
    wrong = []
    for role in ROLES:
        auth.login(_user(make_user, role))
        for relation in RELATIONS:
            target = url.format(plan=plans[relation].key)
            response = client.get(target) if method == "GET" else client.post(target, data=data)
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == [], (endpoint, method, wrong)
    assert {p.title for p in plans.values()} == {f"矩阵计划-{r}" for r in RELATIONS}  # nothing saved


_ISSUE_21_LISTED |= {row[0] for row in PLAN_ROUTES}


# --- indicator periods (issue 16, finding 9): scoped like tasks ------------------------------------
# A reporting period opened under each relation's unit, with that unit's own form: who does not
# see one of its tasks gets 404 for its page, its aggregate and their export (plan, unit, dates).

PERIOD_ROUTES = [
    ("indicators.period_page", "GET", "/indicators/periods/{period}", None, expect(SEEN, SEEN)),
    ("indicators.period_page", "GET", "/indicators/periods/{period}?unit={unit}", None, expect(SEEN, SEEN)),
    ("indicators.aggregate_page", "GET", "/indicators/periods/{period}/aggregate", None, expect(SEEN, SEEN)),
    ("indicators.aggregate_export", "GET", "/indicators/periods/{period}/aggregate.xlsx", None, expect(SEEN, SEEN)),
]


@pytest.fixture
def period_world(world, make_task):
    from datetime import date

    from sqlalchemy import select

    from tests.conftest import unit
    from tracker.models import IndicatorForm, Plan, ReportingPeriod

    units, _tasks, _evidence = world
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    periods = {}
    for number, (relation, code) in enumerate(units.items(), start=1):
        group = make_task(code, plan_key=plan.key, title=f"指标填报-{relation}")
        form_task = make_task(code, plan_key=plan.key, parent=group, title=f"指标填报-{relation}-表")
        period = ReportingPeriod(
            plan=plan,
            kind="month",
            year=2016,
            number=number,
            start_on=date(2016, number, 1),
            end_on=date(2016, number, 28),
            due_on=date(2016, number, 28),
            level=unit(code).level,
            under_unit=unit(code),
            task=group,
        )
        db.session.add(period)
        db.session.add(IndicatorForm(period=period, unit=unit(code), task=form_task, status="draft"))
        db.session.commit()
        periods[relation] = period
    return units, periods


@pytest.mark.parametrize("row", PERIOD_ROUTES, ids=_route_id)
def test_period_routes(client, auth, make_user, period_world, row):
    endpoint, _method, url, _data, by_role = row
    units, periods = period_world
    wrong = []
    for role in ROLES:
        auth.login(_user(make_user, role))
        for relation in RELATIONS:
            response = client.get(url.format(period=periods[relation].id, unit=units[relation]))
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == [], (endpoint, wrong)


_ISSUE_21_LISTED |= {row[0] for row in PERIOD_ROUTES}


# -- background exports (tracker/exports/): a job is its owner's alone -------------------------
# The owner (of any role) sees the progress page and downloads the file; anybody else, an admin
# too, gets 404 (another's export is not even said to exist). See tests/test_export_jobs.py.
EXPORT_ROUTES = [
    ("exports.job_page", "GET", "/exports/{job}"),
    ("exports.download", "GET", "/exports/{job}/download"),
]
_ISSUE_21_LISTED |= {row[0] for row in EXPORT_ROUTES}


@pytest.mark.parametrize("row", EXPORT_ROUTES, ids=lambda row: f"{row[1]} {row[2]}")
def test_export_routes(client, auth, make_user, row, tmp_path):
    from datetime import datetime, timezone

    from tracker.exports.jobs import export_storage, start_export

    endpoint, _method, url = row
    wrong = []
    for role, (kind, fmt) in [(r, k) for r in ROLES for k in (("tasks", "csv"), ("audit", "xlsx"))]:
        owner = _user(make_user, role)
        job = start_export(owner, kind, fmt, {})
        source = tmp_path / f"{job.id}.{fmt}"
        source.write_bytes(b"\xef\xbb\xbfa\n")
        job.state, job.stored_name, job.finished_at = "done", f"export-test-{job.id}.{fmt}", datetime.now(timezone.utc)
        export_storage().put_file(job.stored_name, source)
        db.session.commit()
        for other_role in ROLES:
            auth.login(_user(make_user, other_role))
            if (got := _outcome(client.get(url.format(job=job.id)))) != 404:
                wrong.append((endpoint, role, "other " + other_role, got))
        auth.login(owner)
        if (got := _outcome(client.get(url.format(job=job.id)))) != OK:
            wrong.append((endpoint, role, "owner", got))
    assert wrong == []


# --- the unit catalogue (issue 21): administrators only, coordinators 403 whatever the unit ------------
ADMIN_ONLY |= {
    ("units.unit_list", "GET", "/admin/units"),
    ("units.unit_new", "GET", "/admin/units/new"),
    ("units.unit_import", "GET", "/admin/units/import"),
    ("units.unit_template", "GET", "/admin/units/import/template.xlsx"),
}
ADMINS_ONLY = {r: 403 for r in RELATIONS}
UNIT_ADMIN_ROUTES = [
    ("units.unit_edit", "GET", "/admin/units/{unit}", None),
    ("units.unit_edit", "POST", "/admin/units/{unit}", {"name": "改名", "kind": "institution", "level": "institution"}),
    ("units.unit_move", "POST", "/admin/units/{unit}/move", {"parent": "P12"}),
    ("units.unit_retire", "POST", "/admin/units/{unit}/retire", {}),
    ("units.unit_restore", "POST", "/admin/units/{unit}/restore", {}),
    (
        "units.unit_new",
        "POST",
        "/admin/units/new",
        {"code": "X-{unit}", "name": "新", "kind": "institution", "level": "institution", "parent": "{unit}"},
    ),
    ("units.unit_import", "POST", "/admin/units/import", {}),
]
_ISSUE_21_LISTED |= {row[0] for row in UNIT_ADMIN_ROUTES} | {e for e, *_ in ADMIN_ONLY}


@pytest.mark.parametrize("row", UNIT_ADMIN_ROUTES, ids=_route_id)
def test_unit_admin_routes(client, auth, make_user, world, row):
    endpoint, method, url, data = row
    units, _tasks, _evidence = world
    wrong = []
    for role in ROLES:  # the admin last: its changes come after every refusal was checked
        auth.login(_user(make_user, role))
        for relation in RELATIONS:
            code = units[relation]
            form = {k: v.format(unit=code) for k, v in (data or {}).items()}
            target = url.format(unit=code)
            response = client.get(target) if method == "GET" else client.post(target, data=form)
            got = _outcome(response)
            expected = OK if role == "admin" else ADMINS_ONLY[relation]
            if got != expected:
                wrong.append((role, relation, expected, response.status_code))
    assert wrong == [], (endpoint, method, wrong)
