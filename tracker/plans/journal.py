"""Writing the task journal: every change to a task leaves a row here, in the same transaction."""

from __future__ import annotations

from datetime import date
from typing import Any, Optional

from tracker.extensions import db
from tracker.models import JournalEntry, Task, User


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
