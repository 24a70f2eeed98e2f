"""Named queries for task lists: filtered and paginated lists, "my work", tree children.

Every function returns what a page needs in a fixed number of statements, always restricted by
`visible_tasks_clause` (the one scoping rule).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import joinedload

from tracker.auth.scope import visible_clause_for, visible_tasks_clause
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan, Task, User
from tracker.plans.status import OVERDUE_STATUSES, RETURNED, STATUSES, SUBMITTED
from tracker.timeutil import local_today


def overdue_clause(today: date):
    return and_(Task.due_on < today, Task.status.in_(OVERDUE_STATUSES))


@dataclass
class TaskFilters:
    plan_id: Optional[int] = None
    status: Optional[str] = None
    owner: str = ""              # part of the owner unit's name, or its exact code
    phase_id: Optional[int] = None
    overdue: bool = False
    due_from: Optional[date] = None
    due_to: Optional[date] = None
    q: str = ""

    @property
    def active(self) -> bool:
        return bool(self.status or self.owner or self.phase_id or self.overdue or self.due_from
                    or self.due_to or self.q)


def filtered_tasks(user: User, filters: TaskFilters, today: Optional[date] = None) -> Select:
    today = today or local_today()
    query = select(Task).where(visible_tasks_clause(user), Task.owner_selector.is_(None))
    if filters.plan_id:
        query = query.where(Task.plan_id == filters.plan_id)
    if filters.status in STATUSES:
        query = query.where(Task.status == filters.status)
    if filters.owner:
        owners = select(OrgUnit.id).where(or_(OrgUnit.code == filters.owner, OrgUnit.name.contains(filters.owner)))
        query = query.where(Task.owner_unit_id.in_(owners))
    if filters.phase_id:
        query = query.where(Task.phase_id == filters.phase_id)
    if filters.overdue:
        query = query.where(overdue_clause(today))
    if filters.due_from:
        query = query.where(Task.due_on >= filters.due_from)
    if filters.due_to:
        query = query.where(Task.due_on <= filters.due_to)
    if filters.q:
        query = query.where(Task.title.contains(filters.q))
    return query


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def paginate(query: Select, page: int, per_page: int) -> Page:
    """Two statements: the count and one page of rows (owners and plan loaded with them)."""
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(
        query.options(joinedload(Task.owner_unit), joinedload(Task.plan))
        .order_by(Task.due_on.is_(None), Task.due_on, Task.plan_id, Task.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return Page(list(rows), page, per_page, total or 0)


# --- my work ------------------------------------------------------------------------------

WORK_LIMIT = 10


@dataclass
class MyWork:
    counts: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[Task]] = field(default_factory=dict)


def _own_unit_clause(user: User):
    return Task.owner_unit_id == user.unit_id


def awaiting_review_clause(user: User):
    """Submitted tasks this user reviews: owned by units strictly under theirs (admins: all)."""
    if user.role == "admin":
        return Task.status == SUBMITTED
    if user.role != "coordinator":
        return Task.id.is_(None)
    below = select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"), OrgUnit.id != user.unit_id)
    return and_(Task.status == SUBMITTED, Task.owner_unit_id.in_(below))


def work_clauses(user: User, today: date) -> dict:
    own = _own_unit_clause(user)
    return {
        "overdue": and_(own, overdue_clause(today)),
        "due_soon": and_(own, Task.due_on >= today, Task.due_on <= today + timedelta(days=7),
                         Task.status.in_(OVERDUE_STATUSES)),
        "returned": and_(own, Task.status == RETURNED),
        "review": awaiting_review_clause(user),
    }


def my_work(user: User, today: Optional[date] = None, limit: int = WORK_LIMIT) -> MyWork:
    """Counts in one statement, then one short list per kind (at most five statements)."""
    today = today or local_today()
    clauses = work_clauses(user, today)
    base = select(*[func.count().filter(clause).label(name) for name, clause in clauses.items()]).where(
        visible_tasks_clause(user) if not user.sees_everything else True
    ).select_from(Task)
    counts = dict(db.session.execute(base).one()._mapping)
    work = MyWork(counts={k: int(v or 0) for k, v in counts.items()})
    for name, clause in clauses.items():
        if work.counts[name]:
            work.lists[name] = list(db.session.scalars(
                select(Task).where(clause).options(joinedload(Task.owner_unit), joinedload(Task.plan))
                .order_by(Task.due_on.is_(None), Task.due_on, Task.id).limit(limit)
            ))
        else:
            work.lists[name] = []
    return work


def open_work_query(user: User, today: Optional[date] = None):
    """SELECT count(*) of the badge in the navigation: overdue + returned + awaiting my review."""
    today = today or local_today()
    clauses = work_clauses(user, today)
    return select(func.count()).select_from(Task).where(or_(clauses["overdue"], clauses["returned"], clauses["review"]))


def open_work_count(user: User, today: Optional[date] = None) -> int:
    return db.session.scalar(open_work_query(user, today)) or 0


# --- tree -----------------------------------------------------------------------------------


def tree_children(plan: Plan, user: User, parent_id: Optional[int], limit: int = 200) -> tuple[list[Task], dict[int, int], bool]:
    """One level of the tree: the visible children of `parent_id` (roots when None), with how
    many visible children each has (for the expand control). Scoped users also get the headings
    above their tasks, as context rows."""
    visible = visible_tasks_clause(user)
    query = select(Task).where(Task.plan_id == plan.id).options(joinedload(Task.owner_unit))
    query = query.where(Task.parent_id.is_(None) if parent_id is None else Task.parent_id == parent_id)
    if not user.sees_everything:
        # a heading is shown when it is visible or has a visible task under it
        d = Task.__table__.alias("d")
        has_visible_below = (
            select(d.c.id)
            .where(d.c.plan_id == plan.id, d.c.path.like(Task.path + "%"), d.c.id != Task.id)
            .where(_visible_for_alias(user, d))
            .exists()
        )
        query = query.where(or_(visible, has_visible_below))
    rows = list(db.session.scalars(query.order_by(Task.position, Task.id).limit(limit + 1)))
    truncated = len(rows) > limit
    rows = rows[:limit]
    ids = [t.id for t in rows]
    counts: dict[int, int] = {}
    if ids:
        c = Task.__table__.alias("c")
        child_query = select(c.c.parent_id, func.count()).where(c.c.parent_id.in_(ids))
        if not user.sees_everything:
            cc = Task.__table__.alias("cc")
            child_query = child_query.where(
                or_(_visible_for_alias(user, c),
                    select(cc.c.id).where(cc.c.path.like(c.c.path + "%"), cc.c.id != c.c.id,
                                          _visible_for_alias(user, cc)).exists())
            )
        counts = dict(db.session.execute(child_query.group_by(c.c.parent_id)).all())
    return rows, counts, truncated


def _visible_for_alias(user: User, alias):
    """visible_tasks_clause for an alias of the tasks table."""
    return visible_clause_for(user, alias.c.id, alias.c.owner_unit_id)


def ancestors_of(task: Task) -> list[Task]:
    ids = [int(p) for p in task.path.strip("/").split("/") if p][:-1]
    if not ids:
        return []
    found = {t.id: t for t in db.session.scalars(select(Task).where(Task.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def phases_of(plan: Plan) -> list[Phase]:
    return list(plan.phases)
