"""Changing a recurring duty's rule: the rule is journaled, flows to the cascade children that
follow their template, and only future occurrences change (tracker.tasks.recurrence)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from tracker.lazy_text import lazy_gettext as _l

from tracker.duties.rules import RuleError, check_rule
from tracker.cascade.service import CascadeError, require_coordinator
from tracker.extensions import db
from tracker.models import Task, User
from tracker.plans import journal
from tracker.plans.status import CLOSED_STATUSES
from tracker.tasks.recurrence import RecurrenceReport, sync_occurrences


def change_rule(
    task: Task, user: User, text: Optional[str], now: Optional[datetime] = None, comment: str = ""
) -> Optional[RecurrenceReport]:
    """Set (or clear, with an empty text) the task's RRULE; regenerate the future occurrences of
    the task and of every duty under it. Returns the occurrence report, None if nothing changed."""
    require_coordinator(user, task)
    if task.status in CLOSED_STATUSES:
        raise CascadeError(_l("A closed task cannot change."))
    new = None
    if text and text.strip():
        try:
            new = check_rule(text)
        except RuleError as exc:
            raise CascadeError(_l("Not a valid recurrence rule: %(reason)s", reason=str(exc))) from exc
    if new == task.recurrence:
        return None
    journal.record(task, user, "edit", "recurrence", task.recurrence, new, (comment or "").strip())
    task.recurrence = new
    db.session.flush()  # the children that follow the template take the rule here
    return sync_occurrences(now, user=user, under_path=task.path)
