"""Queries behind the plan pages. Each runs a fixed number of SQL statements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from tracker.auth.scope import can_view_task, visible_tasks_clause
from tracker.extensions import db
from tracker.models import Plan, Task, User
from tracker.plans.status import ACCEPTED


@dataclass
class PlanSummary:
    plan: Plan
    visible: int
    accepted: int


def plans_for(user: User) -> list[PlanSummary]:
    """Every plan with the number of its tasks the user sees and how many are accepted."""
    counts = (
        select(
            Task.plan_id,
            func.count().label("visible"),
            func.sum(case((Task.status == ACCEPTED, 1), else_=0)).label("accepted"),
        )
        .where(visible_tasks_clause(user))
        .group_by(Task.plan_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Plan, counts.c.visible, counts.c.accepted)
        .outerjoin(counts, counts.c.plan_id == Plan.id)
        .options(joinedload(Plan.issuer_unit))
        .order_by(Plan.issued_on.desc().nulls_last(), Plan.key)
    ).all()
    return [PlanSummary(plan, visible or 0, accepted or 0) for plan, visible, accepted in rows]


def visible_task(user: User, task_id: int) -> Optional[Task]:
    """The task with its owner, plan and phase, or None when it does not exist or `user` may not see it."""
    task = db.session.scalar(
        select(Task)
        .where(Task.id == task_id)
        .options(joinedload(Task.owner_unit), joinedload(Task.plan), joinedload(Task.phase))
    )
    if task is None or not can_view_task(user, task):
        return None
    return task


def get_plan(key: str) -> Optional[Plan]:
    return db.session.scalar(select(Plan).where(Plan.key == key))
