"""Bulk actions on a selection of tasks: accept, return with one reason, move the due date.

Each task goes through the same rules as its single action: the scoping rule (only tasks the
user sees are found), the state machine (`tracker.plans.status.check_transition` with the
user's `Actor`, review independence included) and the same effects (`status_change`, which
`apply_status` uses for one task: the new values and journal rows; explanations closed on
acceptance; the roll-up; the notices). A task the rules refuse is left as it is and reported
with the reason; the others are done.

What is read and written is a fixed number of statements whatever the number of tasks: the
tasks, their actors' review conflicts (two), one UPDATE executed for all the changed tasks (each
against the version it was read at: a task changed meanwhile fails the whole action), one
INSERT of all the journal rows, one UPDATE per level of depth of the roll-up, and the notices as
one event per task in two statements (`notify_each`). The ORM's flush would write the
self-referential task table row by row, hence the statements. Moving due dates does the same
for tasks outside cascades; a cascade's template or child goes through the ORM's flush (one
UPDATE each), whose sync keeps a template's children in step and records a child moved on its own.

The caller commits (or rolls back); nothing here reads the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import bindparam, select, union
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.scope import actors_for, visible_tasks_clause
from tracker.explanations.service import close_on_acceptance_of
from tracker.extensions import db
from tracker.models import Task, User
from tracker.models.base import utcnow
from tracker.models.notify import ACCEPTED as ACCEPTED_NOTICE
from tracker.models.notify import CHANGED
from tracker.models.notify import RETURNED as RETURNED_NOTICE
from tracker.notifications.notices import notify_each
from tracker.plans import journal, rollup
from tracker.plans.operations import SYNCED_KEY, NotAllowed, change_message, notify_followers, status_change
from tracker.plans.status import (
    ACCEPTED,
    CLOSED_STATUSES,
    LABELS,
    RETURNED,
    SUBMITTED,
    TransitionError,
    check_transition,
)
from tracker.timeutil import local_today

MAX_SELECTION = 200  # tasks in one bulk action
ACCEPT, RETURN, MOVE_DUE, EXPORT = "accept", "return", "move_due", "export"
URGE = "urge"  # 催办 of the selection (tracker/supervision/service.py urge_tasks), where a list offers it
ACTIONS = (ACCEPT, RETURN, MOVE_DUE, URGE)
# who may 催办 at all (each task then by tracker.supervision.service.urgeable_clause)
URGERS = ("leader", "admin", "coordinator")
# who may use the bulk write actions at all (a reporter reviews nothing, a leader writes nothing
# but 批示 and 催办)
WRITERS = ("coordinator", "admin")
REASON_MAX = 5000

NOT_FOUND = _l("Not found, or not yours to see.")


class SelectionError(ValueError):
    """The selection itself is refused (empty, too large); the message is for the user."""


@dataclass(frozen=True)
class Outcome:
    """One task's outcome: done, or refused with the reason (text for the user, translated when
    shown) and the task's title (empty when the user may not see the task)."""

    task_id: int
    done: bool
    title: str = ""
    reason: object = ""


@dataclass
class BulkResult:
    action: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def done(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.done]

    @property
    def refused(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.done]


def selection(values: Iterable) -> list[int]:
    """The task ids of a selection, each once in the order given; refused when empty or larger
    than MAX_SELECTION."""
    ids: list[int] = []
    for value in values:
        text = str(value).strip()
        if text.isdigit() and len(text) < 12 and int(text) not in ids:
            ids.append(int(text))
    if not ids:
        raise SelectionError(_l("Select at least one task first."))
    if len(ids) > MAX_SELECTION:
        raise SelectionError(_l("At most %(n)d tasks at a time.", n=MAX_SELECTION))
    return ids


def may_bulk_write(user: User) -> bool:
    return user.role in WRITERS


def may_bulk_urge(user: User) -> bool:
    return user.role in URGERS


def _require_writer(user: User) -> None:
    if not may_bulk_write(user):
        raise NotAllowed(_l("You are not allowed to make this change."))


def selected_tasks(user: User, task_ids: list[int]) -> dict[int, Task]:
    """The tasks of the selection that `user` sees (one statement, owners loaded with them)."""
    if not task_ids:
        return {}
    rows = db.session.scalars(
        select(Task).where(Task.id.in_(task_ids), visible_tasks_clause(user)).options(joinedload(Task.owner_unit))
    )
    return {task.id: task for task in rows}


def _review(user: User, task_ids: list[int], target: str, comment: str, today: Optional[date]) -> BulkResult:
    _require_writer(user)
    action = ACCEPT if target == ACCEPTED else RETURN
    comment = (comment or "").strip()
    if target == RETURNED and not comment:
        raise SelectionError(_l("A reason is required."))
    if len(comment) > REASON_MAX:
        raise SelectionError(_l("A comment may have at most 5000 characters."))
    today = today or local_today()
    tasks = selected_tasks(user, task_ids)
    actors = actors_for(user, list(tasks.values()))
    result = BulkResult(action)
    done: list[tuple[Task, dict, list[tuple]]] = []
    for task_id in task_ids:
        task = tasks.get(task_id)
        if task is None:
            result.outcomes.append(Outcome(task_id, False, reason=NOT_FOUND))
            continue
        if task.status != SUBMITTED:
            reason = _l("Not awaiting review (now %(status)s).", status=LABELS.get(task.status, task.status))
            result.outcomes.append(Outcome(task_id, False, task.title, reason))
            continue
        try:
            check_transition(task.status, target, actors[task_id], reason=comment)
        except TransitionError as exc:
            result.outcomes.append(Outcome(task_id, False, task.title, exc.args[0] if exc.args else ""))
            continue
        values, rows = status_change(task, target, comment, today)
        done.append((task, values, rows))
        result.outcomes.append(Outcome(task_id, True, task.title))
    if done:
        _write_status_changes(user, done)
        ids = [task.id for task, _values, _rows in done]
        if target == ACCEPTED:
            close_on_acceptance_of(ids, today)
        rollup.refresh_ancestors([task for task, _values, _rows in done])
        kind = ACCEPTED_NOTICE if target == ACCEPTED else RETURNED_NOTICE
        notify_each(kind, ids, user, audience="owners", message=comment if target == RETURNED else "")
    db.session.flush()
    return result


def _write_status_changes(user: User, changes: list[tuple[Task, dict, list[tuple]]]) -> None:
    """The changes `status_change` computed (what `apply_status` sets and journals for one task),
    written for all the tasks at once: one UPDATE executed for every task (each checked against
    the version it was read at: a task changed meanwhile fails the whole action, nothing written)
    and one INSERT of all the journal rows. A leaf's progress follows its new status, as
    `rollup.refresh_task_and_ancestors` sets it."""
    tasks = Task.__table__
    rollup.lock_chains_if_needed([task for task, _values, _rows in changes])  # before any write (rollup.py)
    parents = rollup.parents_among([task.id for task, _values, _rows in changes])
    now = utcnow()
    params = []
    for task, values, _rows in changes:
        status = values["status"]
        percent = values.get("percent", task.percent)
        params.append(
            {
                "b_id": task.id,
                "b_version": task.version,
                "b_new_version": task.version + 1,
                "b_status": status,
                "b_percent": percent,
                "b_completed_on": values.get("completed_on", task.completed_on),
                "b_progress": task.progress if task.id in parents else rollup.leaf_progress(status, percent),
                "b_updated_at": now,
            }
        )
    statement = (
        tasks.update()
        .where(tasks.c.id == bindparam("b_id"), tasks.c.version == bindparam("b_version"))
        .values(
            status=bindparam("b_status"),
            percent=bindparam("b_percent"),
            completed_on=bindparam("b_completed_on"),
            progress=bindparam("b_progress"),
            version=bindparam("b_new_version"),
            updated_at=bindparam("b_updated_at"),
        )
    )
    updated = db.session.execute(statement, params).rowcount
    if updated != len(params):
        raise StaleDataError(f"{len(params) - updated} of the selected tasks changed meanwhile")
    journal.record_many(
        [
            {"task_id": task.id, "user_id": user.id, "action": a, "field": f, "old": old, "new": new, "comment": c}
            for task, _values, rows in changes
            for a, f, old, new, c in rows
        ]
    )
    for task, _values, _rows in changes:  # read again when next used (the rest of the task is as loaded)
        db.session.expire(task, ["status", "percent", "completed_on", "progress", "version", "updated_at"])


def accept_tasks(user: User, task_ids: list[int], comment: str = "", today: Optional[date] = None) -> BulkResult:
    """通过: every selected submission this reviewer may accept (an optional comment on each)."""
    return _review(user, task_ids, ACCEPTED, comment, today)


def return_tasks(user: User, task_ids: list[int], reason: str) -> BulkResult:
    """退回: every selected submission this reviewer may return, all with the one reason."""
    return _review(user, task_ids, RETURNED, reason, None)


def move_due_dates(user: User, task_ids: list[int], due_on: date, comment: str = "") -> BulkResult:
    """调整截止日期: the coordinator's edit of the due date (as `edit_task` makes it) on every
    selected task they coordinate that is still open; journaled per task, the owners told once
    per task. Tasks of a cascade (templates and their children) change through the ORM's flush,
    whose sync keeps a template's children in step (and their owners are told) and records a
    child moved on its own; the others in one statement. So a fixed number of statements plus
    one per task of a cascade."""
    _require_writer(user)
    if due_on is None:
        raise SelectionError(_l("Choose the new due date."))
    comment = (comment or "").strip()[:500]
    tasks = selected_tasks(user, task_ids)
    actors = actors_for(user, list(tasks.values()))
    db.session.info.pop(SYNCED_KEY, None)  # what an earlier flush synced is not this change's
    result = BulkResult(MOVE_DUE)
    done: list[Task] = []
    for task_id in task_ids:
        task = tasks.get(task_id)
        if task is None:
            result.outcomes.append(Outcome(task_id, False, reason=NOT_FOUND))
            continue
        if not actors[task_id].is_coordinator:
            result.outcomes.append(Outcome(task_id, False, task.title, _l("Only a coordinator edits a task.")))
            continue
        if task.status in CLOSED_STATUSES:
            reason = _l("Closed (%(status)s): its due date stays.", status=LABELS.get(task.status, task.status))
            result.outcomes.append(Outcome(task_id, False, task.title, reason))
            continue
        if task.due_on == due_on:
            result.outcomes.append(Outcome(task_id, False, task.title, _l("Already due on that day.")))
            continue
        done.append(task)
        result.outcomes.append(Outcome(task_id, True, task.title))
    if not done:
        return result
    now = utcnow()
    journal.record_many(
        [
            {
                "task_id": t.id,
                "user_id": user.id,
                "action": "edit",
                "field": "due_on",
                "old": t.due_on,
                "new": due_on,
                "comment": comment,
            }
            for t in done
        ]
    )
    linked = _in_cascades([t.id for t in done])
    plain = [t for t in done if t.id not in linked]
    if plain:
        table = Task.__table__
        statement = (
            table.update()
            .where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
            .values(due_on=bindparam("b_due_on"), version=bindparam("b_new_version"), updated_at=bindparam("b_now"))
        )
        params = [
            {"b_id": t.id, "b_version": t.version, "b_new_version": t.version + 1, "b_due_on": due_on, "b_now": now}
            for t in plain
        ]
        if db.session.execute(statement, params).rowcount != len(params):
            raise StaleDataError("some of the selected tasks changed meanwhile")
        for t in plain:
            db.session.expire(t, ["due_on", "version", "updated_at"])
    for t in done:
        if t.id in linked:
            t.due_on = due_on
            t.updated_at = now
    db.session.flush()  # the cascade sync runs here for the tasks of a cascade
    notify_each(CHANGED, [t.id for t in done], user, audience="owners", message=change_message(done[0], ["due_on"]))
    notify_followers(done[0], user)
    return result


def _in_cascades(task_ids: list[int]) -> set[int]:
    """Which of these tasks are a cascade's template or child (one statement)."""
    from tracker.models import Cascade, CascadeChild

    rows = db.session.scalars(
        union(
            select(CascadeChild.task_id).where(CascadeChild.task_id.in_(task_ids)),
            select(Cascade.template_task_id).where(Cascade.template_task_id.in_(task_ids)),
        )
    )
    return set(rows)
