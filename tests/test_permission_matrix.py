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

# (endpoint, method, url template, form data) -> outcome per role and relation of the task's owner
TASK_ROUTES = [
    ("plans.task_page", "GET", "/tasks/{task}", None, expect(SEEN, SEEN)),
    ("plans.task_edit", "GET", "/tasks/{task}/edit", None, expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT)),
    ("plans.task_edit", "POST", "/tasks/{task}/edit", {"version": "{version}", "title": "改", "weight": "1"}, expect(COORDINATOR_ONLY, SEEN, LEADER_MAY_NOT)),
    ("plans.task_comment", "POST", "/tasks/{task}/comments", {"text": "意见"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("plans.task_percent", "POST", "/tasks/{task}/percent", {"version": "{version}", "percent": "30"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("plans.task_status", "POST", "/tasks/{task}/status", {"version": "{version}", "target": "in_progress"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("plans.task_evidence", "POST", "/tasks/{task}/evidence", {"file": "PDF"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("explanations.explain", "POST", "/tasks/{task}/explanation", {"reason": "other", "detail": "x", "committed_on": "2099-01-01"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("plans.evidence_download", "GET", "/evidence/{evidence}", None, expect(SEEN, SEEN)),
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
]

# pages of one's own (no object of another unit involved): every signed-in role gets in
OWN_PAGES = {
    ("plans.my_work_page", "GET", "/"), ("plans.plan_list", "GET", "/plans"), ("plans.task_list", "GET", "/tasks"),
    ("plans.plan_detail", "GET", "/plans/ncc-qc-2024"), ("progress.phases", "GET", "/progress/quality-2023/phases"),
    ("progress.phases_export", "GET", "/progress/quality-2023/phases.xlsx"),
    ("progress.tasks_export", "GET", "/tasks/export.csv"), ("notifications.inbox", "GET", "/notifications"),
    ("notifications.read_all", "POST", "/notifications/read-all"),
}

ADMIN_ONLY = {("notifications.rules", "GET", "/admin/escalation-rules")}

# Endpoints whose per-object permissions are checked in their own test files.
ELSEWHERE = {
    "plans.tree_children_page": "test_scope.py",
    "notifications.badge": "test_notifications.py",
    "notifications.read": "test_notifications.py",
    "auth.login": "test_auth.py", "auth.logout": "test_auth.py", "auth.set_language": "test_i18n.py",
    "admin.healthz": "test_backup.py",
    "indicators.": "test_indicator_pages.py",
    "cascade.": "test_cascade.py", "duties.": "test_recurrence.py", "schemes.": "test_schemes.py",
    "calendar.": "test_calendar.py",
    "drafts.": "test_draft_review.py",
    "static": "test_pages.py", "vendor": "test_progress_pages.py",
}
PUBLIC = {"auth.login", "auth.set_language", "admin.healthz", "static", "vendor", "calendar.calendar_feed"}


@pytest.fixture
def world(make_unit, make_task, make_user):
    """A task (with an evidence file) owned by a unit in each relation to P11-QC."""
    import uuid

    from tracker.models import Evidence
    from tracker.plans.evidence import stored_path

    units = {"own": "P11-QC", "child": make_unit("P11-QC-H", "P11-QC").code, "parent": "P11",
             "sibling": make_unit("P11-H", "P11").code, "other": "P31-QC"}
    tasks, evidence = {}, {}
    for relation, code in units.items():
        task = make_task(code, title=f"矩阵任务-{relation}", due_on=None)
        item = Evidence(task=task, user=make_user("reporter", code), kind="file", note="", original_name="证据.pdf",
                        stored_name=uuid.uuid4().hex + ".pdf", size=9, mime_type="application/pdf")
        db.session.add(item)
        db.session.commit()
        path = stored_path(item)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4\n")
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
            if form.get("file") == "PDF":
                form["file"] = (io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"), "矩阵.pdf")
            response = client.get(target) if method == "GET" else client.post(target, data=form, content_type="multipart/form-data")
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
    for endpoint, method, url in ADMIN_ONLY:
        assert _outcome(client.get(url)) == (OK if role == "admin" else 403), (endpoint, role)


def test_every_route_needs_a_sign_in_except_the_public_ones(app, client):
    from flask import url_for

    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        values = {arg: (1 if "id" in arg else "x") for arg in rule.arguments}
        values.update({k: v for k, v in (("key", "ncc-qc-2024"), ("fmt", "csv"), ("code", "en")) if k in rule.arguments})
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 401, 303) and "/login" in response.headers.get("Location", "/login"), (rule.endpoint, method, response.status_code)
            response.close()
            checked += 1
    assert checked > 60


def test_the_matrix_covers_every_route(app):
    listed = {row[0] for row in TASK_ROUTES} | {row[0] for row in UNIT_ROUTES} | {e for e, *_ in OWN_PAGES} | {e for e, *_ in ADMIN_ONLY}
    tests = Path(__file__).resolve().parent
    missing = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in listed or endpoint in PUBLIC:
            continue
        covered = next((f for prefix, f in ELSEWHERE.items() if endpoint == prefix or (prefix.endswith(".") and endpoint.startswith(prefix))), None)
        if covered is None or not (tests / covered).exists():
            missing.append(endpoint)
    assert missing == [], "add these routes to the permission matrix: " + ", ".join(sorted(set(missing)))
