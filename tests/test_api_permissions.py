"""The permission matrix extended to the API: each role × relation × endpoint, with a token.

Relations of the object to the user's unit (P11-QC) as in test_permission_matrix.py: own, child,
parent, sibling, other. Roles: reporter and coordinator at P11-QC, leader and admin at NHC.
Outcomes: "ok" (2xx, or a 409/422 refusal of the values: the request was let in), 403, 404.
"""

from __future__ import annotations

import io

import pytest

from tests.api_support import bearer, token_for
from tests import test_permission_matrix as matrix
from tests.test_permission_matrix import LEADER_MAY_NOT, OK, RELATIONS, ROLES, SEEN, expect
from tracker.extensions import db

world = matrix.world  # the same tasks, units and evidence as the pages' matrix

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"

# (name, method, url, body) -> outcome per role and relation of the task's owner unit
TASK_ENDPOINTS = [
    ("task", "GET", "/api/v1/tasks/{task}", None, expect(SEEN, SEEN)),
    (
        "status",
        "POST",
        "/api/v1/tasks/{task}/status",
        {"target": "in_progress", "version": "{version}"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    (
        "percent",
        "POST",
        "/api/v1/tasks/{task}/percent",
        {"percent": 30, "version": "{version}"},
        expect(SEEN, SEEN, LEADER_MAY_NOT),
    ),
    ("comment", "POST", "/api/v1/tasks/{task}/comments", {"text": "意见"}, expect(SEEN, SEEN, LEADER_MAY_NOT)),
    ("evidence", "POST", "/api/v1/tasks/{task}/evidence", "PDF", expect(SEEN, SEEN, LEADER_MAY_NOT)),
]

# ?unit= or /units/<unit>: the relation's unit
UNIT_ENDPOINTS = [
    ("unit", "GET", "/api/v1/units/{unit}", expect(SEEN, SEEN)),
    ("unit tree", "GET", "/api/v1/units?under={unit}", expect(SEEN, SEEN)),
    ("unit progress", "GET", "/api/v1/units/{unit}/progress", expect(SEEN, SEEN)),
    ("plan progress", "GET", "/api/v1/plans/ncc-qc-2024/progress?unit={unit}", expect(SEEN, SEEN)),
]

# the token user's own things: every role gets in
OWN = [
    ("GET", "/api/v1/plans"),
    ("GET", "/api/v1/plans/ncc-qc-2024"),
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/tasks?overdue=true&mine=true"),
    ("GET", "/api/v1/units"),
    ("GET", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/read-all"),
    ("GET", "/api/v1/indicator-forms"),
]


def _tokens(make_user) -> dict:
    return {
        role: token_for(make_user(role, "P11-QC" if role in ("reporter", "coordinator") else "NHC")) for role in ROLES
    }


def _outcome(response):
    code = response.status_code
    if code in (403, 404):
        return code
    assert code < 500, (code, response.get_data(as_text=True)[:300])
    assert code != 401, response.json
    return OK


@pytest.mark.parametrize("row", TASK_ENDPOINTS, ids=lambda row: row[0])
def test_task_endpoints(client, make_user, world, row):
    _name, method, url, body, by_role = row
    _units, tasks, _evidence = world
    tokens = _tokens(make_user)
    wrong = []
    for role in ROLES:
        for relation in RELATIONS:
            task = tasks[relation]
            db.session.refresh(task)
            target = url.format(task=task.id)
            headers = bearer(tokens[role])
            if method == "GET":
                response = client.get(target, headers=headers)
            elif body == "PDF":
                response = client.post(
                    target,
                    headers=headers,
                    content_type="multipart/form-data",
                    data={"file": (io.BytesIO(PDF), "矩阵.pdf"), "note": "接口"},
                )
            else:
                payload = {k: (task.version if v == "{version}" else v) for k, v in body.items()}
                response = client.post(target, headers=headers, json=payload)
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == []


def test_evidence_downloads(client, make_user, world):
    """An evidence file through the API: whoever sees its task (leaders too), nobody else (404)."""
    _units, _tasks, evidence = world
    tokens = _tokens(make_user)
    by_role = expect(SEEN, SEEN)
    wrong = []
    for role in ROLES:
        for relation in RELATIONS:
            response = client.get(f"/api/v1/evidence/{evidence[relation].id}", headers=bearer(tokens[role]))
            if _outcome(response) != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == []


@pytest.mark.parametrize("row", UNIT_ENDPOINTS, ids=lambda row: row[0])
def test_unit_endpoints(client, make_user, world, row):
    _name, _method, url, by_role = row
    units, _tasks, _evidence = world
    tokens = _tokens(make_user)
    wrong = []
    for role in ROLES:
        for relation in RELATIONS:
            response = client.get(url.format(unit=units[relation]), headers=bearer(tokens[role]))
            got = _outcome(response)
            if got != by_role[role][relation]:
                wrong.append((role, relation, by_role[role][relation], response.status_code))
    assert wrong == []


def test_the_task_list_shows_exactly_the_tasks_the_role_sees(client, make_user, world):
    _units, tasks, _evidence = world
    tokens = _tokens(make_user)
    for role in ROLES:
        listed = set()
        url = "/api/v1/tasks?q=矩阵任务&limit=200"
        while url:
            page = client.get(url, headers=bearer(tokens[role])).json
            listed |= {t["id"] for t in page["items"]}
            url = f"/api/v1/tasks?q=矩阵任务&limit=200&cursor={page['next']}" if page["next"] else None
        expected = {tasks[r].id for r in RELATIONS if expect(SEEN, SEEN)[role][r] == OK}
        assert listed == expected, role


@pytest.mark.parametrize("role", ROLES)
def test_own_endpoints(client, make_user, role):
    secret = _tokens(make_user)[role]
    for method, url in OWN:
        response = client.open(url, method=method, headers=bearer(secret))
        assert response.status_code == 200, (role, url, response.status_code)


def test_every_api_operation_wants_a_token(app, client):
    from tracker.api.core import OPERATIONS

    assert len(OPERATIONS) >= 15
    for op in OPERATIONS:
        url = op.openapi_path
        for name, converter in op.path_params:
            url = url.replace("{" + name + "}", "1" if converter == "int" else "x")
        response = client.open(url, method=op.method)
        assert response.status_code == 401, (op.endpoint, response.status_code)
        assert response.json["error"] == "unauthorized"


def test_every_api_route_is_a_declared_operation(app):
    """No view under /api/v1/ escapes the description (and its validation)."""
    from tracker.api.core import BY_ENDPOINT

    undeclared = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")} - set(BY_ENDPOINT)
    assert undeclared == {"api.openapi_json", "api.docs", "api.unknown"}
