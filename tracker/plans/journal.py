"""Writing the task journal: every change to a task leaves a row here, in the same transaction."""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from tracker.extensions import db
from tracker.models import JournalEntry, Task, User
from tracker.models.base import utcnow


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def record(
    task: Task,
    user: Optional[User],
    action: str,
    field: Optional[str] = None,
    old: Any = None,
    new: Any = None,
    comment: str = "",
) -> JournalEntry:
    entry = JournalEntry(
        task=task,
        user=user,
        action=action,
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        comment=comment,
    )
    db.session.add(entry)
    return entry


def record_many(entries: list[dict]) -> None:
    """Many journal rows in one statement (a bulk action): each a dict of task_id, user_id,
    action, field, old, new and comment, written as `record` writes one."""
    if not entries:
        return
    now = utcnow()
    db.session.execute(
        JournalEntry.__table__.insert(),
        [
            {
                "task_id": e["task_id"],
                "user_id": e.get("user_id"),
                "at": now,
                "action": e["action"],
                "field": e.get("field"),
                "old_value": _text(e.get("old")),
                "new_value": _text(e.get("new")),
                "comment": e.get("comment") or "",
            }
            for e in entries
        ],
    )
