"""The in-app inbox, escalation history, and the "overdue and escalated" list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import joinedload

from tracker.auth.scope import visible_tasks_clause
from tracker.extensions import db
from tracker.models import Escalation, NoticeEvent, Notification, OrgUnit, Plan, Task, User
from tracker.pagination import Page
from tracker.notifications.forms import OVERDUE_SORTS
from tracker.pagination import paginate as paginate_rows
from tracker.pagination import paginate_within
from tracker.plans.queries import overdue_clause, task_order


def unread_query(user: User, bound: bool = False):
    """SELECT the user's unread notices; `bound`: the user as the parameter w_user (a statement
    shared by every user, tracker/plans/work_counts.py)."""
    from tracker.plans.work_counts import W_USER

    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == (W_USER if bound else user.id), Notification.read_at.is_(None))
    )


def unread_count(user: User) -> int:
    return db.session.scalar(unread_query(user)) or 0


@dataclass
class InboxFilters:
    """What the inbox shows: one kind or all, read or unread or both, a range of days (the local
    day a notice was raised, which the inbox groups by), one plan (of the notice's task), and the
    order of days ("new": newest first, "old": oldest first)."""

    kind: str = ""
    state: str = ""  # "", "unread", "read"
    day_from: Optional[date] = None
    day_to: Optional[date] = None
    plan_id: Optional[int] = None
    sort: str = "new"

    @property
    def active(self) -> bool:
        return bool(self.kind or self.state or self.day_from or self.day_to or self.plan_id)


def inbox_clauses(user: User, filters: InboxFilters) -> list:
    """The WHERE of the user's notices matching `filters` (the index on (user_id, day) finds
    them; a plan is matched through the notice's task)."""
    clauses = [Notification.user_id == user.id]
    if filters.kind:
        clauses.append(Notification.kind == filters.kind)
    if filters.state == "unread":
        clauses.append(Notification.read_at.is_(None))
    elif filters.state == "read":
        clauses.append(Notification.read_at.is_not(None))
    if filters.day_from:
        clauses.append(Notification.day >= filters.day_from)
    if filters.day_to:
        clauses.append(Notification.day <= filters.day_to)
    if filters.plan_id:
        clauses.append(Notification.task_id.in_(select(Task.id).where(Task.plan_id == filters.plan_id)))
    return clauses


def inbox_order(sort: str = "new") -> tuple:
    """Day by day (newest first, or oldest first with "old"), grouped by kind within a day, and
    within a group in the same direction; ids break ties."""
    if sort == "old":
        return (Notification.day.asc(), Notification.kind, Notification.created_at.asc(), Notification.id.asc())
    return (Notification.day.desc(), Notification.kind, Notification.created_at.desc(), Notification.id.desc())


def inbox_page(
    user: User, page: int, per_page: int, unread_only: bool = False, filters: Optional[InboxFilters] = None
) -> Page:
    """The user's notices matching `filters`, grouped by day and kind; two statements (bounded
    count and page, with task, owner, unit, escalation, event and actor joined)."""
    filters = filters or InboxFilters(state="unread" if unread_only else "")
    query = select(Notification).where(*inbox_clauses(user, filters))
    return paginate_rows(
        query.options(
            joinedload(Notification.task).joinedload(Task.owner_unit),
            joinedload(Notification.unit),
            joinedload(Notification.escalation),
            joinedload(Notification.event).joinedload(NoticeEvent.actor),
        ),
        page,
        per_page,
        *inbox_order(filters.sort),
    )


def mark_matching_read(user: User, filters: InboxFilters, now: Optional[datetime] = None) -> int:
    """Mark read every unread notice of the user matching `filters` (the whole filtered result,
    not only the page shown): one statement; returns how many were unread."""
    result = db.session.execute(
        update(Notification)
        .where(*inbox_clauses(user, filters), Notification.read_at.is_(None))
        .values(read_at=now or datetime.now(timezone.utc))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


MAX_SELECTED_NOTICES = 200


def mark_selected_read(user: User, notification_ids: list[int], now: Optional[datetime] = None) -> int:
    """Mark read the ticked notices that are the user's (another user's are left alone): one
    statement; returns how many were unread."""
    if not notification_ids:
        return 0
    result = db.session.execute(
        update(Notification)
        .where(
            Notification.id.in_(notification_ids[:MAX_SELECTED_NOTICES]),
            Notification.user_id == user.id,
            Notification.read_at.is_(None),
        )
        .values(read_at=now or datetime.now(timezone.utc))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


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


@dataclass
class OverdueFilters:
    """What the overdue list shows: one unit's subtree, one plan (and one of its phases), one
    open status, one responsible person, more than `late_days` days late, escalated only; in
    `sort` order (OVERDUE_SORTS in tracker/notifications/forms.py)."""

    unit: Optional[OrgUnit] = None
    plan_id: Optional[int] = None
    phase_id: Optional[int] = None
    status: str = ""
    responsible_id: Optional[int] = None
    late_days: int = 0
    escalated_only: bool = False
    sort: str = "due"


def _plan_title():
    return select(Plan.title).where(Plan.id == Task.plan_id).scalar_subquery()


def overdue_order(sort: str) -> tuple:
    """The overdue list's orders. "due" (most late first, the default) and "-due" read the
    overdue index (ix_tasks_overdue_due) forwards or backwards; "updated" and the owner unit's
    order are the task lists' (tracker/plans/queries.py task_order); "plan" by the plan's title,
    most late first within a plan. Each reverse is exactly reversed."""
    key = sort.lstrip("-")
    if key != "plan":
        return task_order(sort)
    if sort.startswith("-"):
        return (_plan_title().desc(), Task.due_on.desc(), Task.id.desc())
    return (_plan_title().asc(), Task.due_on.asc(), Task.id.asc())


def overdue_query(user: User, today: date, filters: OverdueFilters):
    """SELECT the open tasks past due that `user` may see, matching `filters` (unordered)."""
    query = select(Task).where(visible_tasks_clause(user), overdue_clause(today), Task.owner_unit_id.is_not(None))
    if filters.unit is not None:
        query = query.join(OrgUnit, OrgUnit.id == Task.owner_unit_id).where(OrgUnit.path.like(f"{filters.unit.path}%"))
    if filters.plan_id:
        query = query.where(Task.plan_id == filters.plan_id)
    if filters.phase_id:
        query = query.where(Task.phase_id == filters.phase_id)
    if filters.status:
        query = query.where(Task.status == filters.status)
    if filters.responsible_id:
        query = query.where(Task.responsible_user_id == filters.responsible_id)
    if filters.late_days:
        query = query.where(Task.due_on < today - timedelta(days=filters.late_days))
    if filters.escalated_only:
        query = query.where(
            select(Escalation.id)
            .where(Escalation.task_id == Task.id, Escalation.due_on == Task.due_on, Escalation.state == "fired")
            .exists()
        )
    return query


def overdue_page(
    user: User,
    today: date,
    page: int,
    per_page: int,
    unit: Optional[OrgUnit] = None,
    escalated_only: bool = False,
    filters: Optional[OverdueFilters] = None,
) -> tuple[Page, dict[int, str]]:
    """Open tasks past due that `user` may see, matching `filters`, most late first (or in the
    chosen order), and the escalation level of each shown. Most late first and its reverse read
    the overdue index in order; the other orders sort the first COUNT_CAP tasks of that order
    (tracker/pagination.py paginate_within), never more."""
    filters = filters or OverdueFilters(unit=unit, escalated_only=escalated_only)
    query = overdue_query(user, today, filters)
    options = (joinedload(Task.owner_unit), joinedload(Task.plan))
    sort = filters.sort if filters.sort in OVERDUE_SORTS else "due"
    if sort in ("due", "-due"):
        result = paginate_rows(query.options(*options), page, per_page, *task_order(sort))
    else:
        result = paginate_within(query, page, per_page, task_order("due"), overdue_order(sort), Task.id, options)
    return result, current_levels([t.id for t in result.items])
