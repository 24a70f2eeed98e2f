"""办理: the owner's one form — status, percent, evidence files and a note in one submit — and
the withdrawal of a submission not yet reviewed.

Everything is checked before anything is written (percent range, the status path through the
state machine, what a submission for review needs), then applied through the existing
operations (`change_status`, `update_percent`, `evidence.add_file` / `add_note`), each journaled
in the same transaction; the caller commits. A refused file raises inside the transaction, so
the caller's rollback leaves neither a row nor a stored file (tracker/plans/stored_files.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO, Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import select

from tracker.auth.scope import actor_for, can_change_task, can_view_task
from tracker.extensions import db
from tracker.models import Evidence, JournalEntry, Task, User
from tracker.plans import evidence as evidence_service
from tracker.plans import journal, rollup
from tracker.plans.operations import InvalidChange, NotAllowed, StaleVersion, change_status, update_percent
from tracker.plans.status import (
    BLOCKED,
    IN_PROGRESS,
    NOT_STARTED,
    OWNER,
    RETURNED,
    SUBMITTED,
    TRANSITIONS,
    Actor,
    TransitionError,
    check_transition,
)

NOTE_MAX = 5000
# The statuses in which the owner's 办理 form is offered (a submission is withdrawn first).
HANDLED_IN = (NOT_STARTED, IN_PROGRESS, RETURNED, BLOCKED)


class FieldError(InvalidChange):
    """A refusal that belongs next to one field of the 办理 form (`field` is its name)."""

    def __init__(self, field_name: str, message):
        self.field = field_name
        super().__init__(message)


@dataclass
class Upload:
    stream: BinaryIO
    filename: str


@dataclass
class Handling:
    """What the owner submitted: the wanted status ("" keeps it), the percent (None keeps it),
    the files and the note."""

    target: str = ""
    percent: Optional[int] = None
    files: list[Upload] = field(default_factory=list)
    note: str = ""


def status_path(current: str, target: str) -> list[str]:
    """The owner's steps from `current` to `target` (submitting from 未开始 or 已退回 starts the
    work first); [] when the target keeps the status."""
    if not target or target == current:
        return []
    if target == SUBMITTED and current in (NOT_STARTED, RETURNED):
        return [IN_PROGRESS, SUBMITTED]
    return [target]


def owner_targets(current: str, actor: Actor) -> list[str]:
    """The statuses the 办理 form offers: those reached by the owner's own transitions."""
    if not actor.is_owner:
        return []
    found = []
    for target in (IN_PROGRESS, SUBMITTED):
        path = status_path(current, target)
        steps = list(zip([current] + path[:-1], path))
        if path and all(TRANSITIONS.get(step, (None,))[0] == OWNER for step in steps):
            found.append(target)
    return found


def _check_path(task: Task, actor: Actor, path: list[str]) -> None:
    current = task.status
    for target in path:
        try:
            check_transition(current, target, actor)
        except TransitionError as exc:
            raise FieldError("target", str(exc)) from exc
        current = target


def has_current_evidence(task: Task) -> bool:
    return (
        db.session.scalar(
            select(Evidence.id).where(Evidence.task_id == task.id, Evidence.superseded_by_id.is_(None)).limit(1)
        )
        is not None
    )


def _require(task: Task, user: User) -> None:
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    if not can_change_task(user, task):
        raise NotAllowed(_l("You are not allowed to change this task."))


def handle(task: Task, user: User, handling: Handling, expected_version: Optional[int] = None) -> None:
    """Apply the owner's 办理 in one transaction (the caller commits, or rolls back on a refusal)."""
    _require(task, user)
    if expected_version is not None and expected_version != task.version:
        raise StaleVersion(task)
    if task.status not in HANDLED_IN:
        raise FieldError("target", _l("This task is not open for handling now."))
    actor = actor_for(user, task)
    target = handling.target or ""
    if target and target not in owner_targets(task.status, actor):
        raise FieldError("target", _l("You are not allowed to make this change."))
    path = status_path(task.status, target)
    _check_path(task, actor, path)
    percent = handling.percent
    if percent is not None and not 0 <= percent <= 100:
        raise FieldError("percent", _l("The percentage must be between 0 and 100."))
    note = (handling.note or "").strip()
    if len(note) > NOTE_MAX:
        raise FieldError("note", _l("A note may have at most 5000 characters."))
    files = [f for f in handling.files if f.filename]
    if SUBMITTED in path and (task.deliverable or "").strip() and not (files or note or has_current_evidence(task)):
        raise FieldError(
            "files",
            _l(
                "This task has a deliverable (%(deliverable)s): attach at least one evidence file or write a note "
                "before submitting it for review.",
                deliverable=task.deliverable.strip(),
            ),
        )
    for upload in files:
        try:
            evidence_service.add_file(task, user, upload.stream, upload.filename)
        except InvalidChange as exc:
            raise FieldError("files", f"{evidence_service.clean_filename(upload.filename)}: {exc}") from exc
    if note:
        evidence_service.add_note(task, user, note)
    for step in path[:-1] if path and path[-1] == SUBMITTED else path:
        change_status(task, user, step)
    if percent is not None and percent != task.percent:
        update_percent(task, user, percent)
    if path and path[-1] == SUBMITTED:
        change_status(task, user, SUBMITTED)  # last: the submission carries the percent and evidence above
    db.session.flush()


def last_submitter(task: Task) -> Optional[User]:
    """Who made the task's latest submission for review (from the journal)."""
    user_id = db.session.scalar(
        select(JournalEntry.user_id)
        .where(
            JournalEntry.task_id == task.id,
            JournalEntry.field == "status",
            JournalEntry.new_value == SUBMITTED,
            JournalEntry.action != "undo_accept",  # 撤销通过 is not a submission
        )
        .order_by(JournalEntry.id.desc())
        .limit(1)
    )
    return db.session.get(User, user_id) if user_id is not None else None


def withdrawal_refusal(task: Task, user: User):
    """Why `user` may not withdraw the task's submission now, or None when they may."""
    if task.status != SUBMITTED:
        return _l("This submission has already been reviewed (or was withdrawn): it can no longer be withdrawn.")
    if not can_change_task(user, task):
        return _l("You are not allowed to change this task.")
    if user.role == "admin":
        return None
    submitter = last_submitter(task)
    if submitter is None or submitter.unit_id != user.unit_id:
        return _l("Only the unit that submitted it withdraws a submission.")
    return None


def withdraw(task: Task, user: User, expected_version: Optional[int] = None) -> None:
    """The submitter's unit takes back a submission not yet reviewed: 已提交 → 进行中, journaled."""
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    if expected_version is not None and expected_version != task.version:
        raise StaleVersion(task)
    if not can_change_task(user, task):
        raise NotAllowed(_l("You are not allowed to change this task."))
    refusal = withdrawal_refusal(task, user)
    if refusal is not None:
        raise InvalidChange(refusal)
    task.status = IN_PROGRESS
    journal.record(task, user, "recall", "status", SUBMITTED, IN_PROGRESS)
    rollup.refresh_task_and_ancestors(task)
    db.session.flush()
