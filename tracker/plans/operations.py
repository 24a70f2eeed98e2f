"""Changes to tasks: status, percent, edits, comments. Each checks permission, applies the
rule, journals the change in the same transaction and flushes; the caller commits.

Optimistic locking: every change names the task version it was based on; a stale version
raises `StaleVersion` carrying the current task, and nothing is written.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Optional

from flask import current_app
from flask_babel import force_locale
from tracker.lazy_text import lazy_gettext as _l

from tracker.auth.scope import actor_for, can_change_task, can_view_task
from tracker.extensions import db
from sqlalchemy import delete, select

from tracker.models import JournalEntry, NoticeEvent, Notification, OrgUnit, Task, User
from tracker.models.base import utcnow
from tracker.explanations.service import close_on_acceptance, reopen_on_undone_acceptance
from tracker.models.notify import NONE, PENDING, SENDING, SENT
from tracker.models.notify import ACCEPTED as ACCEPTED_NOTICE
from tracker.models.notify import ASSIGNED, CHANGED, COMMENTED
from tracker.models.notify import RETURNED as RETURNED_NOTICE
from tracker.models.notify import SUBMITTED as SUBMITTED_NOTICE
from tracker.notifications.notices import (
    notify,
    notify_each,
    owner_unit_users,
    participants_of,
    reviewers_of,
    union_of,
    unit_coordinators,
    watchers_of,
)
from tracker.plans import journal, rollup
from tracker.plans.independence import UNDO_ACCEPT_ACTION
from tracker.plans.undo_window import current_acceptance, undo_minutes
from tracker.timeutil import local_today
from tracker.plans.status import ACCEPTED, CLOSED_STATUSES, IN_PROGRESS, RETURNED, SUBMITTED, check_transition

# A task's owner and co-owners stay as they are while it awaits review and once it is accepted.
ASSIGNMENT_FROZEN = (SUBMITTED, ACCEPTED)

# session.info key under which the cascade sync (tracker/cascade/service.py) leaves the children a
# template's edit changed: {child task id: {field, …}}
SYNCED_KEY = "tracker.cascade.synced"


class NotAllowed(Exception):
    """The user may not do this to this task (a 403, or a 404 when they may not even see it)."""


class StaleVersion(Exception):
    """The change was based on an older version of the task."""

    def __init__(self, task: Task):
        self.task = task
        super().__init__(f"task {task.id} is at version {task.version}")


class InvalidChange(ValueError):
    """A refused value; the message is for the user."""


def _check_version(task: Task, expected_version: Optional[int]) -> None:
    if expected_version is not None and expected_version != task.version:
        raise StaleVersion(task)


def _require_change(user: User, task: Task) -> None:
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    if not can_change_task(user, task):
        raise NotAllowed(_l("You are not allowed to change this task."))


def change_status(
    task: Task, user: User, target: str, comment: str = "", expected_version: Optional[int] = None
) -> Task:
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    _check_version(task, expected_version)
    if (task.status, target) == (ACCEPTED, SUBMITTED):  # 撤销通过 has its own effects
        return undo_acceptance(task, user)
    check_transition(task.status, target, actor_for(user, task), reason=comment)
    apply_status(task, user, target, comment)
    if target == ACCEPTED:
        close_on_acceptance(task, task.completed_on)
    rollup.refresh_task_and_ancestors(task)
    _notify_status(task, user, target, comment.strip())
    return task


def undo_refusal(task: Task, user: User):
    """Why `user` may not undo the task's acceptance now (a message), or None when they may."""
    if task.status != ACCEPTED:
        return _l("This task is not accepted: there is no acceptance to undo.")
    entry = current_acceptance(task)
    if entry is None or entry.user_id != user.id:
        return _l("Only the reviewer who accepted a task may undo the acceptance.")
    if not actor_for(user, task).is_acceptor:
        return _l(
            "The time to undo this acceptance (%(n)d minutes) has passed. A coordinator above the owner can reopen it.",
            n=undo_minutes(),
        )
    return None


def undo_acceptance(task: Task, user: User, expected_version: Optional[int] = None) -> Task:
    """撤销通过: the reviewer who accepted takes the acceptance back within the undo window
    (tracker/plans/undo_window.py): accepted → submitted, awaiting review again. Journaled as
    "undo_accept" with the acceptance's comment (kept, marked undone); the percent the acceptance
    set back to what it was; the completion day cleared and the explanation it closed open again;
    the roll-up recomputed. The acceptance's notices that nobody has seen yet (unread, not mailed)
    are withdrawn, and only those who did see it are told it was undone, so nobody gets two
    notices about one decision that stands."""
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    _check_version(task, expected_version)
    refusal = undo_refusal(task, user)
    if refusal is not None:
        raise InvalidChange(refusal)
    check_transition(task.status, SUBMITTED, actor_for(user, task))
    entry = current_acceptance(task)
    assert entry is not None  # undo_refusal found it
    percent_entry = db.session.scalar(
        select(JournalEntry)
        .where(
            JournalEntry.task_id == task.id,
            JournalEntry.user_id == user.id,
            JournalEntry.field == "percent",
            JournalEntry.at >= entry.at,
            JournalEntry.id > entry.id,
        )
        .order_by(JournalEntry.id)
        .limit(1)
    )
    journal.record(task, user, UNDO_ACCEPT_ACTION, "status", ACCEPTED, SUBMITTED, entry.comment or "")
    if percent_entry is not None and percent_entry.old_value not in (None, "") and percent_entry.old_value.isdigit():
        before = int(percent_entry.old_value)
        if before != task.percent:
            journal.record(task, user, UNDO_ACCEPT_ACTION, "percent", task.percent, before)
            task.percent = before
    accepted_on = task.completed_on
    task.status = SUBMITTED
    task.completed_on = None
    if accepted_on is not None:
        reopen_on_undone_acceptance(task.id, accepted_on)
    rollup.refresh_task_and_ancestors(task)
    _withdraw_acceptance_notices(task, user, entry.at)
    return task


def _withdraw_acceptance_notices(task: Task, user: User, accepted_at) -> None:
    """The acceptance's notices: those not yet seen (unread, no e-mail sent or being sent) are
    deleted, its webhook post not yet made is dropped; the recipients who saw it get one notice
    that it was undone (kind "changed", stored in the default language)."""
    event = db.session.scalar(
        select(NoticeEvent)
        .where(
            NoticeEvent.task_id == task.id,
            NoticeEvent.kind == ACCEPTED_NOTICE,
            NoticeEvent.actor_id == user.id,
            NoticeEvent.at >= accepted_at - timedelta(minutes=1),
        )
        .order_by(NoticeEvent.at.desc(), NoticeEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return
    db.session.execute(
        delete(Notification)
        .where(
            Notification.event_id == event.id,
            Notification.read_at.is_(None),
            Notification.email_state.not_in((SENT, SENDING)),
            Notification.email_message_id.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
    if event.webhook_state == PENDING and event.webhook_message_id is None:
        event.webhook_state = NONE
    saw = select(Notification.user_id).where(Notification.event_id == event.id)
    if db.session.scalar(select(saw.exists())):
        with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            message = str(_l("acceptance undone; awaiting review again"))
        notify(CHANGED, task, user, saw, message)


def status_change(task: Task, target: str, comment: str = "", today: Optional[date] = None) -> tuple[dict, list[tuple]]:
    """What a status change writes once the state machine allowed it: the task's new values
    (the status; on acceptance percent 100 and the day it was done) and its journal rows
    (action, field, old, new, comment). Shared by `apply_status` and the bulk actions
    (tracker/plans/bulk.py), which write the same for many tasks in one statement."""
    values: dict[str, Any] = {"status": target}
    rows = [("status", "status", task.status, target, comment.strip())]
    if target == ACCEPTED:
        if task.percent != 100:
            rows.append(("percent", "percent", task.percent, 100, ""))
            values["percent"] = 100
        values["completed_on"] = today or local_today()  # the calendar day (Asia/Shanghai) it was done: on time or late
    elif task.status == ACCEPTED:  # reopened: not done any more
        values["completed_on"] = None
    return values, rows


def apply_status(task: Task, user: User, target: str, comment: str = "", today: Optional[date] = None) -> None:
    """The status change itself on the task and its journal (no statement of its own); the
    caller then closes explanations, refreshes the roll-up and notifies."""
    values, rows = status_change(task, target, comment, today)
    for action, field, old, new, text in rows:
        journal.record(task, user, action, field, old, new, text)
    for name, value in values.items():
        setattr(task, name, value)


def _notify_status(task: Task, user: User, target: str, reason: str) -> None:
    """Tell the people who must act now: the reviewers of a submission; the owners (and the
    responsible person) of a return, with its reason, or of an acceptance; and the task's
    watchers (关注) of each."""
    if target == SUBMITTED:
        notify(SUBMITTED_NOTICE, task, user, union_of(reviewers_of(task), watchers_of(task)))
    elif target == RETURNED:
        notify(RETURNED_NOTICE, task, user, union_of(owner_unit_users(task), watchers_of(task)), reason)
    elif target == ACCEPTED:
        notify(ACCEPTED_NOTICE, task, user, union_of(owner_unit_users(task), watchers_of(task)))


def update_percent(task: Task, user: User, percent: int, expected_version: Optional[int] = None) -> Task:
    """A reporter's estimate of how far an open task is; starting work if it had not started."""
    _require_change(user, task)
    _check_version(task, expected_version)
    if task.status in CLOSED_STATUSES:
        raise InvalidChange(_l("A closed task cannot change."))
    if not 0 <= percent <= 100:
        raise InvalidChange(_l("The percentage must be between 0 and 100."))
    if task.status == "not_started" and percent > 0:
        change_status(task, user, IN_PROGRESS)
    if percent != task.percent:
        journal.record(task, user, "percent", "percent", task.percent, percent)
        task.percent = percent
    rollup.refresh_task_and_ancestors(task)
    return task


EDITABLE_FIELDS = ("title", "description", "owner_unit_id", "due_on", "deliverable", "weight")


def edit_task(
    task: Task,
    user: User,
    values: dict[str, Any],
    co_owner_ids: Optional[list[int]] = None,
    expected_version: Optional[int] = None,
    comment: str = "",
) -> list[str]:
    """A coordinator's edit of the task's assignment; returns the changed field names."""
    _require_change(user, task)
    if not actor_for(user, task).is_coordinator:
        raise NotAllowed(_l("Only a coordinator edits a task."))
    _check_version(task, expected_version)
    db.session.info.pop(SYNCED_KEY, None)  # what an earlier flush synced is not this edit's
    changed: list[str] = []
    owner_changes = "owner_unit_id" in values and values["owner_unit_id"] != task.owner_unit_id
    co_owner_changes = co_owner_ids is not None and sorted(set(co_owner_ids)) != sorted(u.id for u in task.co_owners)
    if (owner_changes or co_owner_changes) and task.status in ASSIGNMENT_FROZEN:
        # review independence (tracker/plans/independence.py): who the work belongs to does not
        # change under a pending or finished review
        raise InvalidChange(
            _l("The owner and co-owners of a submitted or accepted task do not change (return it first).")
        )
    if owner_changes:
        owner = db.session.get(OrgUnit, values["owner_unit_id"])
        if owner is None or not (user.sees_everything or owner.is_within(user.unit)):
            raise InvalidChange(_l("The owner must be your unit or a unit under it."))
    if "weight" in values and (values["weight"] is None or values["weight"] <= 0):
        raise InvalidChange(_l("The weight must be greater than 0."))
    if "title" in values and not (values["title"] or "").strip():
        raise InvalidChange(_l("A title is required."))
    for name in EDITABLE_FIELDS:
        if name in values and values[name] != getattr(task, name):
            journal.record(task, user, "edit", name, _display(getattr(task, name)), _display(values[name]), comment)
            setattr(task, name, values[name])
            changed.append(name)
    if "owner_unit_id" in changed:
        # given to another unit: 待签收 for it until one of its users signs for it
        task.assigned_at, task.signed_at, task.signed_by_id = utcnow(), None, None
    if co_owner_ids is not None:
        current = sorted(u.id for u in task.co_owners)
        wanted = sorted(set(co_owner_ids))
        if current != wanted:
            units = list(db.session.scalars(db.select(OrgUnit).where(OrgUnit.id.in_(wanted)))) if wanted else []
            journal.record(
                task,
                user,
                "edit",
                "co_owners",
                ", ".join(u.name for u in task.co_owners),
                ", ".join(u.name for u in units),
                comment,
            )
            task.co_owners = units
            changed.append("co_owners")
    if changed:
        task.updated_at = utcnow()  # a co-owner change alone must still bump the version
    if "weight" in changed:
        rollup.refresh_task_and_ancestors(task)
    db.session.flush()
    if "owner_unit_id" in changed:
        notify(ASSIGNED, task, user, unit_coordinators(task.owner_unit_id))
    if "due_on" in changed or "deliverable" in changed:
        notify(CHANGED, task, user, union_of(owner_unit_users(task), watchers_of(task)), change_message(task, changed))
        notify_followers(task, user)
    return changed


def notify_followers(template: Task, user: User) -> None:
    """The cascade children that took the template's new due date or deliverable: their owners
    are told, one event per child, two statements per set of fields changed (at most three)."""
    synced = db.session.info.pop(SYNCED_KEY, {})
    by_fields: dict[tuple[str, ...], list[int]] = {}
    for child_id, fields in synced.items():
        key = tuple(sorted(set(fields) & {"due_on", "deliverable"}))
        if key:
            by_fields.setdefault(key, []).append(child_id)
    for fields, child_ids in by_fields.items():
        notify_each(CHANGED, child_ids, user, audience="owners", message=change_message(template, list(fields)))


def change_message(task: Task, changed: list[str]) -> str:
    """What changed, as stored with the notice: the new due date and deliverable."""
    parts = []
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # stored in the default language
        if "due_on" in changed:
            parts.append(str(_l("Due date: %(value)s", value=_display(task.due_on) or "—")))
        if "deliverable" in changed:
            parts.append(str(_l("Deliverable: %(value)s", value=task.deliverable or "—")))
    return "; ".join(parts)


def _display(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def add_comment(task: Task, user: User, text: str) -> None:
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    if user.role == "leader":
        raise NotAllowed(_l("Leaders read; they do not change tasks."))
    text = (text or "").strip()
    if not text:
        raise InvalidChange(_l("The comment is empty."))
    if len(text) > 5000:
        raise InvalidChange(_l("A comment may have at most 5000 characters."))
    journal.record(task, user, "comment", comment=text)
    db.session.flush()
    notify(COMMENTED, task, user, participants_of(task), text[:200])
