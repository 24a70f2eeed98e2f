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

UNDO_ACCEPT_ACTION = "undo_accept"  # the journal action of 撤销通过 (tracker/plans/operations.py)

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
    return review_conflicts(user, [task]).get(task.id)


def review_conflicts(user: User, tasks) -> dict:
    """`review_conflict` for many tasks at once (a bulk acceptance): task id → the reason, or
    None. Two statements whatever the number of tasks: the journal rows of their review cycles,
    and the units of their last submitters."""
    pending = [t for t in tasks if t.status == SUBMITTED and t.id is not None]
    if not pending:
        return {}
    rows = db.session.execute(
        select(
            JournalEntry.task_id,
            JournalEntry.user_id,
            JournalEntry.action,
            JournalEntry.field,
            JournalEntry.old_value,
            JournalEntry.new_value,
        )
        .where(
            JournalEntry.task_id.in_([t.id for t in pending]),
            or_(
                JournalEntry.field.in_(ASSIGNMENT_FIELDS),
                and_(JournalEntry.field == "status", JournalEntry.new_value.in_((SUBMITTED, RETURNED))),
            ),
        )
        .order_by(JournalEntry.task_id, JournalEntry.id)
    ).all()
    by_task: dict[int, list] = {t.id: [] for t in pending}
    for row in rows:
        by_task[row.task_id].append(row)
    cycles = {}
    for task_id, task_rows in by_task.items():
        returns = [i for i, row in enumerate(task_rows) if row.field == "status" and row.new_value == RETURNED]
        cycles[task_id] = task_rows[returns[-1] + 1 :] if returns else task_rows
    submitters = {}
    for task_id, cycle in cycles.items():
        # an undone acceptance (撤销通过, journaled back to "submitted") is not a submission: the
        # submitter stays the one who submitted
        submissions = [
            row
            for row in cycle
            if row.field == "status" and row.new_value == SUBMITTED and row.action != UNDO_ACCEPT_ACTION
        ]
        if submissions and submissions[-1].user_id is not None:
            submitters[task_id] = submissions[-1].user_id
    units = {}
    if submitters and user.role != "admin":
        units = dict(
            db.session.execute(select(User.id, User.unit_id).where(User.id.in_(set(submitters.values())))).all()
        )
    return {t.id: _conflict(user, t, cycles[t.id], submitters.get(t.id), units) for t in pending}


def _conflict(user: User, task: Task, cycle: list, submitter_id, units: dict):
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
    if submitter_id is not None and submitter_id in units:
        if submitter_id == user.id or units[submitter_id] == user.unit_id:
            return SUBMITTED_BY_YOUR_UNIT
    return None
