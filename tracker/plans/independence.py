"""Review independence: may this reviewer accept the task's current submission?

The unit rule alone (the reviewer's unit strictly above the owner unit *now*) can be walked
around by editing: re-own the task to a unit below, accept, move it back. So the rule looks at
the task's journal over the current review cycle — everything since the last return, or since
the task was created — and refuses the acceptance when

- the reviewer's unit owned the task at any moment of the cycle (the owner before and after
  every owner change of the cycle, and the owner now);
- the submission came from the reviewer or from someone of the reviewer's unit;
- the reviewer changed the task's owner, co-owners or parent in the cycle (four eyes: the one
  who re-assigned does not also accept).

Admins (who may review anything) are held to the last rule. The state machine
(`tracker/plans/status.py`) refuses an acceptance carrying a conflict; `edit_task` refuses owner
and co-owner changes of a submitted or accepted task outright.
"""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import and_, or_, select

from tracker.extensions import db
from tracker.models import JournalEntry, Task, User
from tracker.plans.status import RETURNED, SUBMITTED

# The journal fields that say who the task belongs to.
ASSIGNMENT_FIELDS = ("owner_unit_id", "co_owners", "parent_id")

OWNED_BY_YOUR_UNIT = _l("Your unit owned this task during this review cycle: a reviewer above it must accept.")
SUBMITTED_BY_YOUR_UNIT = _l("This submission came from your unit: a reviewer above it must accept.")
YOU_REASSIGNED = _l(
    "You changed this task's owner, co-owners or parent during this review cycle: another reviewer must accept."
)


def _unit_id(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def review_conflict(user: User, task: Task):
    """The reason `user` may not accept `task`'s submission now, or None when they may."""
    if task.status != SUBMITTED or task.id is None:
        return None
    rows = db.session.execute(
        select(JournalEntry.user_id, JournalEntry.field, JournalEntry.old_value, JournalEntry.new_value)
        .where(
            JournalEntry.task_id == task.id,
            or_(
                JournalEntry.field.in_(ASSIGNMENT_FIELDS),
                and_(JournalEntry.field == "status", JournalEntry.new_value.in_((SUBMITTED, RETURNED))),
            ),
        )
        .order_by(JournalEntry.id)
    ).all()
    returns = [i for i, row in enumerate(rows) if row.field == "status" and row.new_value == RETURNED]
    cycle = rows[returns[-1] + 1 :] if returns else rows
    if any(row.field in ASSIGNMENT_FIELDS and row.user_id == user.id for row in cycle):
        return YOU_REASSIGNED
    if user.role == "admin":
        return None
    owners = {task.owner_unit_id}
    for row in cycle:
        if row.field == "owner_unit_id":
            owners.update((_unit_id(row.old_value), _unit_id(row.new_value)))
    if user.unit_id in owners:
        return OWNED_BY_YOUR_UNIT
    submissions = [row for row in cycle if row.field == "status" and row.new_value == SUBMITTED]
    if submissions and submissions[-1].user_id is not None:
        submitter = db.session.get(User, submissions[-1].user_id)
        if submitter is not None and (submitter.id == user.id or submitter.unit_id == user.unit_id):
            return SUBMITTED_BY_YOUR_UNIT
    return None
