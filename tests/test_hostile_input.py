"""Hostile input through every page's query parameters and the main forms: no 500, a message,
nothing stored wrongly, nothing executed."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import JournalEntry, Task

CORPUS = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "' OR 1=1 --",
    "'; DROP TABLE tasks; --",
    "%' AND 1=0 UNION SELECT password_hash FROM users --",
    "x" * 100_000,
    "\u202e\u200b\ufeff𠜎𠜱👩‍⚕️",
    "\x00\x01\x07\x1b[31m",
    "2024-02-30",
    "-1",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "../../etc/passwd",
    "{{ 7*7 }}",
    "",
]
PARAMS = ["q", "status", "owner", "phase", "overdue", "due_from", "due_to", "page", "unit", "plan", "by",
          "escalated", "unread", "next", "year", "period", "level", "kind"]


def _get_routes(app, task_id: int, plan_key: str):
    """Every GET page of the app, its URL arguments filled with real ids."""
    fill = {"key": plan_key, "task_id": task_id, "code": "zh_CN", "fmt": "csv", "name": "htmx.min.js"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor"):
            continue
        args = {}
        for arg in rule.arguments:
            if arg not in fill:
                break
            args[arg] = fill[arg]
        else:
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **args))
    return urls


@pytest.fixture
def target(make_task):
    return make_task("P11-QC", title="原始标题", due_on=None)


def test_no_page_fails_on_hostile_query_parameters(app, client, auth, make_user, target):
    auth.login(make_user("coordinator", "P11"))
    urls = _get_routes(app, target.id, "ncc-qc-2024")
    assert len(urls) > 20
    tried = 0
    for url in urls:
        for value in CORPUS:
            response = client.get(url, query_string={name: value for name in PARAMS})
            tried += 1
            assert response.status_code < 500, (url, value[:40], response.status_code)
            body = response.get_data(as_text=True) if response.mimetype.startswith("text/html") else ""
            response.close()  # a streamed export holds its request context until closed
            assert "<script>alert(1)</script>" not in body and "<img src=x onerror" not in body, url
    assert tried >= 20 * len(CORPUS)


@pytest.mark.parametrize("value", CORPUS)
def test_the_task_edit_form_refuses_or_stores_safely(client, auth, make_user, target, value):
    auth.login(make_user("coordinator", "P11"))
    owner = target.owner_unit_id
    response = client.post(f"/tasks/{target.id}/edit", data={
        "version": target.version, "title": value, "description": value, "owner": owner, "co_owners": value,
        "due_on": value, "deliverable": value, "weight": value, "comment": value,
    })
    assert response.status_code in (200, 303, 400, 409, 422), response.status_code
    db.session.expire_all()
    task = db.session.get(Task, target.id)
    if response.status_code in (400, 422):
        assert task.title == "原始标题"  # refused: nothing changed
        assert "invalid-feedback" in response.get_data(as_text=True) or "alert" in response.get_data(as_text=True)
    page = client.get(f"/tasks/{target.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x onerror" not in page
    assert "\x00" not in task.title


@pytest.mark.parametrize("value", ["-1", "101", "abc", "1e309", "99999999999999999999999", ""])
def test_the_percent_form_refuses_out_of_range_values(client, auth, make_user, target, value):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(f"/tasks/{target.id}/percent", data={"version": target.version, "percent": value})
    assert response.status_code in (400, 422)
    db.session.expire_all()
    assert db.session.get(Task, target.id).percent == 0


@pytest.mark.parametrize("value", CORPUS)
def test_comments_keep_the_text_escaped_and_refuse_what_is_too_long(client, auth, make_user, target, value):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(f"/tasks/{target.id}/comments", data={"text": value})
    assert response.status_code in (200, 303, 400, 422)
    stored = db.session.scalar(select(JournalEntry.comment).where(JournalEntry.task_id == target.id,
                                                                  JournalEntry.action == "comment"))
    if len(value) > 5000 or not value.strip():
        assert stored is None and response.status_code in (400, 422)
    page = client.get(f"/tasks/{target.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x onerror" not in page


@pytest.mark.parametrize("action", ["accepted", "nonsense", "<script>", "", "cancelled"])
def test_unknown_or_unallowed_status_changes_are_refused(client, auth, make_user, target, action):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(f"/tasks/{target.id}/status", data={"version": target.version, "target": action, "action": action})
    assert response.status_code in (400, 403, 409, 422)
    db.session.expire_all()
    assert db.session.get(Task, target.id).status == "not_started"


def test_a_nul_character_is_refused_with_a_readable_page(client, auth, make_user, target):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.get("/tasks", query_string={"q": "a\x00b"})
    assert response.status_code == 400 and "<html" in response.get_data(as_text=True)
    posted = client.post(f"/tasks/{target.id}/comments", data={"text": "意见\x00"})
    assert posted.status_code == 400
    assert db.session.scalar(select(JournalEntry).where(JournalEntry.task_id == target.id, JournalEntry.action == "comment")) is None
