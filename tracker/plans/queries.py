"""Named queries for task lists: filtered and paginated lists, "my work", tree children.

Every function returns what a page needs in a fixed number of statements, always restricted by
`visible_tasks_clause` (the one scoping rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import Date, Select, and_, bindparam, case, func, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from tracker.auth.scope import visible_clause_for, visible_tasks_clause
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan, Task, User
from tracker.pagination import Page
from tracker.pagination import paginate as paginate_rows
from tracker.plans.status import CLOSED_STATUSES, OVERDUE_STATUSES, RETURNED, STATUSES, SUBMITTED
from tracker.plans.work_counts import W_UNIT, review_count_query, review_total_query, reviewed_units
from tracker.timeutil import local_today


def overdue_clause(today: date):
    return and_(Task.due_on < today, Task.status.in_(OVERDUE_STATUSES))


@dataclass
class TaskFilters:
    plan_id: Optional[int] = None
    status: Optional[str] = None
    owner: str = ""  # part of the owner unit's name, or its exact code
    phase_id: Optional[int] = None
    responsible_id: Optional[int] = None  # the 责任人 named on the task
    overdue: bool = False
    due_from: Optional[date] = None
    due_to: Optional[date] = None
    q: str = ""
    sort: str = "due"  # one of SORTS: "due" due date first (none last), "updated" last changed first, …

    @property
    def active(self) -> bool:
        return bool(
            self.status
            or self.owner
            or self.phase_id
            or self.responsible_id
            or self.overdue
            or self.due_from
            or self.due_to
            or self.q
        )


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
    if filters.responsible_id:  # ix_tasks_responsible_user_id
        query = query.where(Task.responsible_user_id == filters.responsible_id)
    if filters.overdue:
        query = query.where(overdue_clause(today))
    if filters.due_from:
        query = query.where(Task.due_on >= filters.due_from)
    if filters.due_to:
        query = query.where(Task.due_on <= filters.due_to)
    if filters.q:
        query = query.where(Task.title.contains(filters.q))
    return query


# The task lists' orders: a column, and "-" before it for the reverse. Each column's own order
# first: due date earliest first (none last), title and owner unit A→Z, status in the workflow's
# order, last changed first.
SORT_KEYS = ("due", "title", "status", "owner", "updated")
SORTS = SORT_KEYS + tuple(f"-{key}" for key in SORT_KEYS)
# the sorts an index reads in order, forwards or backwards (the others sort the matching rows)
INDEXED_SORTS = ("due", "-due", "updated", "-updated")


def _status_rank():
    return case({status: rank for rank, status in enumerate(STATUSES)}, value=Task.status, else_=len(STATUSES))


def _owner_name():
    return select(OrgUnit.name).where(OrgUnit.id == Task.owner_unit_id).scalar_subquery()


def _order_columns(key: str) -> list[tuple]:
    """(expression, ascending, NULLs last when ascending) of a column's own order, ending with id."""
    if key == "updated":
        return [(Task.updated_at, False, False), (Task.id, False, False)]
    if key == "title":
        return [(Task.title, True, False), (Task.id, True, False)]
    if key == "status":
        return [(_status_rank(), True, False), (Task.due_on, True, True), (Task.id, True, False)]
    if key == "owner":
        return [(_owner_name(), True, True), (Task.id, True, False)]
    return [(Task.due_on, True, True), (Task.id, True, False)]


def task_order(sort: str = "due"):
    """The task lists' orders. The default ones are served by an index read in order (so a page
    reads its rows, not a sort of all that match): due date first, none last (ix_tasks_due_on_id,
    and ix_tasks_overdue_due for the overdue tasks), or last changed first
    (ix_tasks_updated_at_id); their reverses ("-due", "-updated") read the same index backwards
    (exactly reversed, NULLs included). Title, status and owner unit sort the matching rows (a
    top-N sort bounded by the page), ids breaking ties."""
    if sort not in SORTS:
        sort = "due"
    reverse = sort.startswith("-")
    order = []
    for expression, ascending, nulls_last in _order_columns(sort.lstrip("-")):
        up = ascending != reverse
        term = expression.asc() if up else expression.desc()
        if nulls_last:
            term = term.nulls_last() if up else term.nulls_first()
        order.append(term)
    return tuple(order)


def paginate(query: Select, page: int, per_page: int, sort: str = "due") -> Page:
    """Two statements: the bounded count and one page of rows (owners and plan loaded with them)."""
    return paginate_rows(
        query.options(joinedload(Task.owner_unit), joinedload(Task.plan)), page, per_page, *task_order(sort)
    )


# --- my work ------------------------------------------------------------------------------

WORK_LIMIT = 10


@dataclass
class MyWork:
    counts: dict[str, int] = field(default_factory=dict)
    lists: dict[str, list[Task]] = field(default_factory=dict)
    scope: str = "unit"  # "unit": the own unit's work; "me": what names me responsible


W_TODAY = bindparam("w_today", type_=Date)
W_WEEK = bindparam("w_week", type_=Date)  # today + 7 days
_MEMO: dict = {}


def memoized(key, build):
    """The statement `build()` makes for `key` (a shape: the role, the list), built once per process.
    Only statements made with bound=True, which hold no user's values, may be kept here; they run
    with `bound_params(user, today)`."""
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO.setdefault(key, build())
    return found


def bound_params(user: User, today: date) -> dict:
    return {
        "w_user": user.id,
        "w_unit": user.unit_id,
        "w_prefix": f"{user.unit.path}%" if user.unit is not None else "",
        "w_today": today,
        "w_week": today + timedelta(days=7),
    }


def _own_unit_clause(user: User, bound: bool = False):
    return Task.owner_unit_id == (W_UNIT if bound else user.unit_id)


def awaiting_review_clause(user: User, bound: bool = False):
    """Submitted tasks this user reviews: owned by units strictly under theirs (admins: all)."""
    if user.role == "admin":
        return Task.status == SUBMITTED
    if user.role != "coordinator":
        return Task.id.is_(None)
    return and_(Task.status == SUBMITTED, Task.owner_unit_id.in_(reviewed_units(user, bound)))


# overdue in a state other than returned: with the returned ones, the badge counts each task once
_OPEN_NOT_RETURNED = tuple(s for s in OVERDUE_STATUSES if s != RETURNED)


def _assigned_to_clause(user: User):
    """The tasks naming `user` responsible (责任人) that they may see (the index on
    responsible_user_id finds the few, the scoping rule checks them)."""
    return and_(Task.responsible_user_id == user.id, visible_tasks_clause(user))


WORK_SCOPES = ("unit", "me")  # my work: the own unit's (default), or only what names me responsible


def work_clauses(user: User, today: date, scope: str = "unit", bound: bool = False) -> dict:
    """What "my work" lists: one's own unit's overdue, due within a week and returned tasks (each
    served by the index (owner_unit_id, status, due_on)), and the submitted tasks one reviews.
    With scope "me", the own unit's lists keep only the tasks naming the user responsible; the
    submissions one reviews are one's own either way. `bound` (scope "unit" only): the user's
    values and the dates as parameters (`bound_params`)."""
    bound = bound and scope != "me"
    own = _assigned_to_clause(user) if scope == "me" else _own_unit_clause(user, bound)
    week = W_WEEK if bound else today + timedelta(days=7)
    today = W_TODAY if bound else today
    return {
        # 待签收 first: given to the unit and not yet signed for (the partial index ix_tasks_unsigned)
        "unsigned": and_(
            own, Task.assigned_at.is_not(None), Task.signed_at.is_(None), Task.status.not_in(CLOSED_STATUSES)
        ),
        "overdue": and_(own, Task.status.in_(OVERDUE_STATUSES), Task.due_on < today),
        "due_soon": and_(own, Task.status.in_(OVERDUE_STATUSES), Task.due_on >= today, Task.due_on <= week),
        "returned": and_(own, Task.status == RETURNED),
        "review": awaiting_review_clause(user, bound),
    }


def _count(clause):
    return select(func.count()).select_from(Task).where(clause).scalar_subquery()


def work_count_columns(user: User, today: date, scope: str = "unit", bound: bool = False) -> dict:
    """The counts of my work as scalar subqueries: own unit's from the index, never a scan of
    the task table; "review" from the maintained figures (tracker/plans/work_counts.py)."""
    clauses = work_clauses(user, today, scope, bound)
    columns = {name: _count(clauses[name]) for name in ("unsigned", "overdue", "due_soon", "returned")}
    columns["review"] = review_count_query(user, bound and scope != "me").scalar_subquery()
    return columns


def work_counts_query(user: User, today: date, scope: str = "unit", bound: bool = False):
    """SELECT my work's counts and the number of all submitted tasks, in one row."""
    columns = work_count_columns(user, today, scope, bound)
    columns["review_total"] = review_total_query().scalar_subquery()
    return select(*[c.label(name) for name, c in columns.items()])


def my_work(user: User, today: Optional[date] = None, limit: int = WORK_LIMIT, scope: str = "unit") -> MyWork:
    """Counts in one statement, then one short list per kind that has any (at most six
    statements), each read in index order within the user's own units. `scope` "me": only the
    tasks naming the user responsible (see `work_clauses`)."""
    today = today or local_today()
    scope = scope if scope in WORK_SCOPES else "unit"
    shared = scope == "unit"  # the own unit's work: statements built once per role (`memoized`)
    params = bound_params(user, today) if shared else {}
    counts_query = (
        memoized(("work counts", user.role), lambda: work_counts_query(user, today, scope, bound=True))
        if shared
        else work_counts_query(user, today, scope)
    )
    row = db.session.execute(counts_query, params).one()._mapping
    counts = {name: int(value or 0) for name, value in row.items()}
    total = counts.pop("review_total")
    work = MyWork(counts=counts, scope=scope)
    clauses = None if shared else work_clauses(user, today, scope)
    for name in ("unsigned", "overdue", "due_soon", "returned", "review"):
        if not work.counts[name]:
            work.lists[name] = []
        elif name == "review":
            work.lists[name] = _review_list(user, limit, work.counts[name], total)
        else:

            def build(clause):
                return (
                    select(Task)
                    .where(clause)
                    .options(joinedload(Task.owner_unit), joinedload(Task.plan))
                    .order_by(*_DUE_ORDER)
                    .limit(limit)
                )

            query = (
                memoized(
                    ("work list", name, limit), lambda name=name: build(work_clauses(user, today, bound=True)[name])
                )
                if shared
                else build(clauses[name])
            )
            work.lists[name] = list(db.session.scalars(query, params))
    return work


_DUE_ORDER = (Task.due_on.asc().nulls_last(), Task.id)  # PostgreSQL's index order (NULLs last)
NARROW_SHARE = 0.05  # below this share of all submitted tasks, read the reviewed units one by one


def _review_list(user: User, limit: int, count: int, total: int) -> list[Task]:
    """The first submitted tasks the user reviews, by due date. An admin's or a wide scope's:
    the (status, due_on) index in order, a few rows read per row shown. A narrow scope's (a
    province, a prefecture) on PostgreSQL: the first few of each reviewed unit from the index
    (owner_unit_id, status, due_on), then the first of those; never every submitted task."""
    options = (joinedload(Task.owner_unit), joinedload(Task.plan))
    units = reviewed_units(user)
    narrow = units is not None and total and count < NARROW_SHARE * total
    if narrow and db.session.get_bind().dialect.name == "postgresql":
        unit = aliased(OrgUnit)
        per_unit = (
            select(Task.id, Task.due_on)
            .where(Task.owner_unit_id == unit.id, Task.status == SUBMITTED)
            .order_by(*_DUE_ORDER)
            .limit(limit)
            .lateral("per_unit")
        )
        first = (
            select(per_unit.c.id)
            .select_from(unit)
            .join(per_unit, true())
            .where(unit.id.in_(units))
            .order_by(per_unit.c.due_on.asc().nulls_last(), per_unit.c.id)
            .limit(limit)
        )
        query = select(Task).where(Task.id.in_(first))  # the rows shown only, joined to their owners
    else:
        query = select(Task).where(awaiting_review_clause(user))
    return list(db.session.scalars(query.options(*options).order_by(*_DUE_ORDER).limit(limit)))


def open_work_query(user: User, today: Optional[date] = None, bound: bool = False):
    """SELECT the badge in the navigation: own unit's overdue + returned tasks (each once) and
    those awaiting my review. Index lookups and the maintained figures: a handful of rows for
    any role and scope."""
    today = W_TODAY if bound else (today or local_today())
    own = _own_unit_clause(user, bound)
    overdue = _count(and_(own, Task.status.in_(_OPEN_NOT_RETURNED), Task.due_on < today))
    returned = _count(and_(own, Task.status == RETURNED))
    return select(overdue + returned + review_count_query(user, bound).scalar_subquery())


def open_work_count(user: User, today: Optional[date] = None) -> int:
    """The badge; the navigation (tracker/web.py nav_counts) and a task action's response read it
    through this one query, built once per role."""
    query = memoized(("badge", user.role), lambda: open_work_query(user, bound=True))
    return int(db.session.scalar(query, bound_params(user, today or local_today())) or 0)


# --- tree -----------------------------------------------------------------------------------


def tree_children(
    plan: Plan, user: User, parent_id: Optional[int], limit: int = 200
) -> tuple[list[Task], dict[int, int], bool]:
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
                or_(
                    _visible_for_alias(user, c),
                    select(cc.c.id)
                    .where(cc.c.path.like(c.c.path + "%"), cc.c.id != c.c.id, _visible_for_alias(user, cc))
                    .exists(),
                )
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
