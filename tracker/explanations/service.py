"""Overdue explanations: asked of the owner when a task is overdue, journaled, kept or missed.

A missed committed date escalates the task one level at once (see `missed_commitments`, run by
the escalation pass); accepting the task by the committed date marks the explanation kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import aliased

from tracker.auth.scope import can_change_task
from tracker.extensions import db
from tracker.models import OrgUnit, Task, User
from tracker.models.explanations import KEPT, MISSED, OPEN, OverdueExplanation
from tracker.plans import journal
from tracker.plans.status import OVERDUE_STATUSES
from tracker.timeutil import local_today

REASONS = {
    "awaiting_superior": _l("Waiting for a higher authority's document or decision"),
    "staff_or_funds": _l("Not enough staff or funds"),
    "depends_on_others": _l("Depends on another unit's work"),
    "data_not_ready": _l("Data not yet collected"),
    "other": _l("Other"),
}


class ExplanationError(ValueError):
    pass


def needs_explanation(task: Task, today: Optional[date] = None) -> bool:
    """Overdue, open, and not yet explained for its current due date."""
    today = today or local_today()
    if not (task.due_on and task.due_on < today and task.status in OVERDUE_STATUSES):
        return False
    return current_explanation(task) is None


def current_explanation(task: Task) -> Optional[OverdueExplanation]:
    if task.due_on is None:
        return None
    return db.session.scalar(
        select(OverdueExplanation).where(
            OverdueExplanation.task_id == task.id, OverdueExplanation.due_on == task.due_on
        )
    )


def explain(
    task: Task, user: User, reason: str, detail: str, committed_on: date, today: Optional[date] = None
) -> OverdueExplanation:
    today = today or local_today()
    if not can_change_task(user, task):
        raise ExplanationError(_l("You are not allowed to change this task."))
    if not (task.due_on and task.due_on < today and task.status in OVERDUE_STATUSES):
        raise ExplanationError(_l("Only an overdue task is explained."))
    if reason not in REASONS:
        raise ExplanationError(_l("Choose a reason."))
    detail = (detail or "").strip()
    if reason == "other" and not detail:
        raise ExplanationError(_l("Say what the reason is."))
    if committed_on <= today:
        raise ExplanationError(_l("The committed date must be after today."))
    existing = current_explanation(task)
    if existing is not None:
        raise ExplanationError(_l("This task is already explained; its committed date stands."))
    explanation = OverdueExplanation(
        task_id=task.id,
        due_on=task.due_on,
        reason=reason,
        detail=detail,
        committed_on=committed_on,
        user_id=user.id,
        state=OPEN,
    )
    db.session.add(explanation)
    journal.record(
        task,
        user,
        "explanation",
        "committed_on",
        None,
        committed_on,
        f"{REASONS[reason]}{'：' + detail if detail else ''}",
    )
    db.session.flush()
    return explanation


def close_on_acceptance(task: Task, today: date) -> None:
    """Called when a task is accepted: its open explanation is kept or missed."""
    close_on_acceptance_of([task.id], today)


def close_on_acceptance_of(task_ids: list[int], today: date) -> None:
    """`close_on_acceptance` of several tasks accepted together: one statement."""
    if not task_ids:
        return
    db.session.execute(
        update(OverdueExplanation)
        .where(OverdueExplanation.task_id.in_(list(task_ids)), OverdueExplanation.state == OPEN)
        .values(state=case((OverdueExplanation.committed_on >= today, KEPT), else_=MISSED), resolved_on=today)
        .execution_options(synchronize_session=False)
    )


def reopen_on_undone_acceptance(task_id: int, accepted_on: date) -> None:
    """An acceptance undone (撤销通过): the explanation it closed (kept or missed that day) is
    open again, to be closed by the acceptance that stands. One statement."""
    db.session.execute(
        update(OverdueExplanation)
        .where(
            OverdueExplanation.task_id == task_id,
            OverdueExplanation.state.in_((KEPT, MISSED)),
            OverdueExplanation.resolved_on == accepted_on,
        )
        .values(state=OPEN, resolved_on=None)
        .execution_options(synchronize_session=False)
    )


def missed_commitments(today: date) -> list[int]:
    """Open explanations whose committed date has passed with the task still open: marked
    missed; returns their ids, for the escalation pass to raise each task one level."""
    rows = db.session.execute(
        select(OverdueExplanation.id, OverdueExplanation.task_id, OverdueExplanation.due_on)
        .join(Task, and_(Task.id == OverdueExplanation.task_id, Task.due_on == OverdueExplanation.due_on))
        .where(
            OverdueExplanation.state == OPEN, OverdueExplanation.committed_on < today, Task.status.in_(OVERDUE_STATUSES)
        )
    ).all()
    if rows:
        db.session.execute(
            update(OverdueExplanation)
            .where(OverdueExplanation.id.in_([r[0] for r in rows]))
            .values(state=MISSED, resolved_on=today)
            .execution_options(synchronize_session=False)
        )
    return [explanation_id for explanation_id, _task_id, _due_on in rows]


def explanations_for(task_ids: list[int]) -> dict[int, OverdueExplanation]:
    """{task id: explanation of its current due date} for the tasks of a list (one query)."""
    if not task_ids:
        return {}
    rows = db.session.scalars(
        select(OverdueExplanation)
        .join(Task, and_(Task.id == OverdueExplanation.task_id, Task.due_on == OverdueExplanation.due_on))
        .where(OverdueExplanation.task_id.in_(task_ids))
    )
    return {e.task_id: e for e in rows}


@dataclass
class UnitExplanations:
    unit: OrgUnit
    overdue: int
    explained: int
    committed_due: int  # explanations whose committed date has come (kept or missed)
    kept: int

    @property
    def explained_rate(self) -> Optional[float]:
        return round(100.0 * self.explained / self.overdue, 1) if self.overdue else None

    @property
    def kept_rate(self) -> Optional[float]:
        return round(100.0 * self.kept / self.committed_due, 1) if self.committed_due else None


def explanation_rates(unit: OrgUnit, today: date) -> list[UnitExplanations]:
    """Per unit directly under `unit`: overdue tasks now, how many explained, committed dates
    come and kept. Two statements whatever the number of units."""
    owner = aliased(OrgUnit)
    row_unit = aliased(OrgUnit)
    explanation = aliased(OverdueExplanation)
    overdue = and_(Task.status.in_(OVERDUE_STATUSES), Task.due_on < today)
    tasks = db.session.execute(
        select(
            row_unit.id,
            func.sum(case((overdue, 1), else_=0)),
            func.sum(case((and_(overdue, explanation.id.is_not(None)), 1), else_=0)),
        )
        .select_from(Task)
        .join(owner, owner.id == Task.owner_unit_id)
        .join(row_unit, and_(row_unit.parent_id == unit.id, owner.path.like(row_unit.path + "%")))
        .outerjoin(explanation, and_(explanation.task_id == Task.id, explanation.due_on == Task.due_on))
        .where(overdue)
        .group_by(row_unit.id)
    ).all()
    commitments = db.session.execute(
        select(row_unit.id, func.count(), func.sum(case((OverdueExplanation.state == KEPT, 1), else_=0)))
        .select_from(OverdueExplanation)
        .join(Task, Task.id == OverdueExplanation.task_id)
        .join(owner, owner.id == Task.owner_unit_id)
        .join(row_unit, and_(row_unit.parent_id == unit.id, owner.path.like(row_unit.path + "%")))
        .where(OverdueExplanation.state.in_([KEPT, MISSED]))
        .group_by(row_unit.id)
    ).all()
    by_unit: dict[int, list[int]] = {}
    for row_id, overdue_n, explained in tasks:
        by_unit.setdefault(row_id, [0, 0, 0, 0])[0:2] = [overdue_n or 0, explained or 0]
    for row_id, due_n, kept in commitments:
        by_unit.setdefault(row_id, [0, 0, 0, 0])[2:4] = [due_n or 0, kept or 0]
    units = (
        {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(by_unit.keys())))} if by_unit else {}
    )
    rows = [UnitExplanations(units[i], *v) for i, v in by_unit.items()]
    rows.sort(key=lambda r: (-r.overdue, r.unit.code))
    return rows
