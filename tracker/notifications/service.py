"""The in-app inbox, escalation history, and the "overdue and escalated" list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Optional

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import joinedload

from tracker.auth.scope import visible_tasks_clause
from tracker.extensions import db
from tracker.models import Escalation, NoticeEvent, Notification, OrgUnit, Task, User
from tracker.pagination import Page
from tracker.pagination import paginate as paginate_rows
from tracker.plans.queries import overdue_clause, paginate


def unread_query(user: User):
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )


def unread_count(user: User) -> int:
    return db.session.scalar(unread_query(user)) or 0


def inbox_page(user: User, page: int, per_page: int, unread_only: bool = False) -> Page:
    """Newest day first, grouped by kind within a day, newest first within a group; two
    statements (bounded count and page, with task, owner, unit, escalation, event and actor joined)."""
    query = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return paginate_rows(
        query.options(
            joinedload(Notification.task).joinedload(Task.owner_unit),
            joinedload(Notification.unit),
            joinedload(Notification.escalation),
            joinedload(Notification.event).joinedload(NoticeEvent.actor),
        ),
        page,
        per_page,
        Notification.day.desc(),
        Notification.kind,
        Notification.created_at.desc(),
        Notification.id.desc(),
    )


@dataclass
class InboxGroup:
    day: date
    kind: str
    total: int
    unread: int


def inbox_groups(user: User, days: list[date]) -> dict[tuple[date, str], InboxGroup]:
    """(day, kind) -> how many notices the user has of that kind that day, and how many unread;
    for the days shown (one statement)."""
    if not days:
        return {}
    rows = db.session.execute(
        select(
            Notification.day,
            Notification.kind,
            func.count(),
            func.count(Notification.id).filter(Notification.read_at.is_(None)),
        )
        .where(Notification.user_id == user.id, Notification.day.in_(sorted(set(days))))
        .group_by(Notification.day, Notification.kind)
    ).all()
    return {(day, kind): InboxGroup(day, kind, total, unread or 0) for day, kind, total, unread in rows}


def mark_group_read(user: User, day: date, kind: str, now: Optional[datetime] = None) -> int:
    """Mark read the user's notices of one kind and day; returns how many were unread."""
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.user_id == user.id,
            Notification.day == day,
            Notification.kind == kind,
            Notification.read_at.is_(None),
        )
        .values(read_at=now or datetime.now(timezone.utc))
    )
    return result.rowcount or 0


def mark_read(user: User, notification_id: int, now: Optional[datetime] = None) -> bool:
    """Mark one of the user's notifications read; False when it is not theirs."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now or datetime.now(timezone.utc))
    )
    exists = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user.id)
    )
    return bool(result.rowcount or exists)


def mark_all_read(user: User, now: Optional[datetime] = None) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=now or datetime.now(timezone.utc))
    )
    return result.rowcount or 0


def escalation_history(task: Task) -> list[Escalation]:
    """The levels this task reached, for every due date it had, newest first."""
    return list(
        db.session.scalars(
            select(Escalation)
            .where(Escalation.task_id == task.id)
            .order_by(Escalation.at.desc(), Escalation.rank.desc())
        )
    )


def notified_counts(escalation_ids: list[int]) -> dict[int, int]:
    if not escalation_ids:
        return {}
    rows = db.session.execute(
        select(Notification.escalation_id, func.count())
        .where(Notification.escalation_id.in_(escalation_ids))
        .group_by(Notification.escalation_id)
    )
    return dict(rows.all())


def current_levels(task_ids: list[int]) -> dict[int, str]:
    """{task id: highest level fired for its current due date} for the tasks shown (one query)."""
    if not task_ids:
        return {}
    top = (
        select(Escalation.task_id, func.max(Escalation.rank).label("rank"))
        .join(Task, and_(Task.id == Escalation.task_id, Task.due_on == Escalation.due_on))
        .where(Escalation.task_id.in_(task_ids), Escalation.state == "fired")
        .group_by(Escalation.task_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Escalation.task_id, Escalation.level)
        .join(top, and_(top.c.task_id == Escalation.task_id, top.c.rank == Escalation.rank))
        .join(Task, and_(Task.id == Escalation.task_id, Task.due_on == Escalation.due_on))
    )
    return dict(rows.all())


@dataclass
class OverdueRow:
    task: Task
    level: Optional[str]
    days_late: int


def overdue_page(
    user: User, today: date, page: int, per_page: int, unit: Optional[OrgUnit] = None, escalated_only: bool = False
) -> tuple[Page, dict[int, str]]:
    """Open tasks past due that `user` may see, optionally within one unit's subtree, most late first."""
    query = select(Task).where(visible_tasks_clause(user), overdue_clause(today), Task.owner_unit_id.is_not(None))
    if unit is not None:
        query = query.join(OrgUnit, OrgUnit.id == Task.owner_unit_id).where(OrgUnit.path.like(f"{unit.path}%"))
    if escalated_only:
        query = query.where(
            select(Escalation.id)
            .where(Escalation.task_id == Task.id, Escalation.due_on == Task.due_on, Escalation.state == "fired")
            .exists()
        )
    result = paginate(query, page, per_page)
    return result, current_levels([t.id for t in result.items])
