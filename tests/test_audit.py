"""Audit: each mutating task route leaves its journal row (who, what, old, new), in the same
transaction as the change; a refused change leaves none."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import JournalEntry, Task


def journal_rows(task_id: int) -> list[JournalEntry]:
    return list(
        db.session.scalars(select(JournalEntry).where(JournalEntry.task_id == task_id).order_by(JournalEntry.id))
    )


@pytest.fixture
def task(make_task):
    return make_task("P11-QC", title="审计任务", due_on=date.today() - timedelta(days=3), status="in_progress")


def _version(task_id: int) -> str:
    db.session.expire_all()
    return str(db.session.get(Task, task_id).version)


ROUTES = [
    ("reporter", "/tasks/{id}/percent", lambda v: {"version": v, "percent": "40"}, "percent"),
    ("reporter", "/tasks/{id}/comments", lambda v: {"text": "已布置"}, "comment"),
    (
        "reporter",
        "/tasks/{id}/evidence",
        lambda v: {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "材料.pdf")},
        "evidence",
    ),
    (
        "reporter",
        "/tasks/{id}/explanation",
        lambda v: {"reason": "staff_or_funds", "committed_on": (date.today() + timedelta(days=9)).isoformat()},
        "explanation",
    ),
    ("reporter", "/tasks/{id}/status", lambda v: {"version": v, "target": "submitted"}, "status"),
    (
        "coordinator",
        "/tasks/{id}/edit",
        lambda v: {"version": v, "title": "审计任务（改）", "weight": "2", "owner": "{owner}"},
        "edit",
    ),
    (
        "coordinator",
        "/tasks/{id}/recurrence",
        lambda v: {"rule": "FREQ=MONTHLY;BYMONTHDAY=-1", "comment": "每月"},
        None,
    ),
]


@pytest.mark.parametrize("role, url, data, action", ROUTES, ids=[r[1].split("/")[-1] for r in ROUTES])
def test_every_mutating_task_route_journals_who_what_old_new(client, auth, make_user, task, role, url, data, action):
    user = make_user(role, "P11-QC" if role == "reporter" else "P11")
    auth.login(user)
    before = len(journal_rows(task.id))
    form = {
        k: (v.replace("{owner}", str(task.owner_unit_id)) if isinstance(v, str) else v)
        for k, v in data(_version(task.id)).items()
    }
    response = client.post(url.format(id=task.id), data=form, content_type="multipart/form-data")
    assert response.status_code in (200, 303), (url, response.status_code, response.get_data(as_text=True)[:300])
    rows = journal_rows(task.id)[before:]
    assert rows, f"{url} changed the task without a journal row"
    assert all(r.user_id == user.id and r.at is not None for r in rows)
    if action is not None:
        assert any(r.action == action or (action == "edit" and r.field == "title") for r in rows), [
            r.action for r in rows
        ]
    if action == "edit":
        title = next(r for r in rows if r.field == "title")
        assert (title.old_value, title.new_value) == ("审计任务", "审计任务（改）")


def test_a_refused_change_leaves_no_journal_row(client, auth, make_user, task):
    auth.login(make_user("reporter", "P11-QC"))
    before = db.session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.task_id == task.id))
    response = client.post(f"/tasks/{task.id}/status", data={"version": "999", "target": "submitted"})
    assert response.status_code == 409
    response = client.post(f"/tasks/{task.id}/percent", data={"version": _version(task.id), "percent": "400"})
    assert response.status_code == 422
    after = db.session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.task_id == task.id))
    assert after == before
