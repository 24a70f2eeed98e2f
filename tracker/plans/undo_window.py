"""撤销通过: how long the reviewer who accepted a task may take the acceptance back.

For ACCEPT_UNDO_MINUTES (config, default 10) after accepting, the reviewer who accepted — and only
they, while still a reviewer of the task — may undo it (accepted → submitted, the transition of the
relation ``acceptor`` in tracker/plans/status.py). The acceptance is the task's last status change
in its journal; a later status change of any kind (a reopening, an undo) ends the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from flask import current_app
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import JournalEntry, Task, User
from tracker.plans.status import ACCEPTED

DEFAULT_MINUTES = 10


def undo_minutes() -> int:
    return int(current_app.config.get("ACCEPT_UNDO_MINUTES", DEFAULT_MINUTES))


def current_acceptance(task: Task) -> Optional[JournalEntry]:
    """The journal row of the task's current acceptance (its last status change), or None when
    the task is not accepted (one statement)."""
    if task.status != ACCEPTED:
        return None
    entry = db.session.scalar(
        select(JournalEntry)
        .where(JournalEntry.task_id == task.id, JournalEntry.field == "status")
        .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
        .limit(1)
    )
    if entry is None or entry.new_value != ACCEPTED:
        return None
    return entry


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def acceptance_undo_until(user: User, task: Task, now: Optional[datetime] = None) -> Optional[datetime]:
    """Until when (UTC) `user` may undo the task's acceptance: the moment they accepted plus the
    window, when they made it and that moment has not passed; else None."""
    entry = current_acceptance(task)
    if entry is None or entry.user_id != user.id:
        return None
    until = _aware(entry.at) + timedelta(minutes=undo_minutes())
    now = now or datetime.now(timezone.utc)
    return until if now < until else None
