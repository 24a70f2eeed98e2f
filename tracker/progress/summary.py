"""The maintained progress summary (see tracker/models/progress.py for the tables).

How it stays right:
- database triggers on `tasks` mark the tasks whose figures may have changed (status, percent,
  weight, dates, owner, phase, parent) and the parents that gained or lost a child (they stop or
  start being work items) in `progress_dirty_tasks`, in the writer's own transaction: ORM writes
  and bulk statements alike; a phase whose dates move marks the (plan, owner) pairs of the
  plan's tasks without a phase of their own in `progress_dirty` (all their items may move);
- `fold()` (the scheduler, every minute) moves the marked tasks and pairs into the summary: it
  subtracts their folded items from the roll-up, re-reads them from `tasks`, and adds them
  back; every ancestor unit of the owner is adjusted in the same statement;
- the figures of a day depend on the day (overdue, due so far, days overdue), so the summary
  holds them as of `progress_state.as_of`; `rebuild()` recomputes everything for a new day
  (the scheduler does it after midnight, Asia/Shanghai);
- a page reads the roll-up *plus* the live figures of the still-marked tasks (and pairs) under
  the unit *minus* their folded ones, in one statement: exact at every moment, whatever the fold
  lag, and at a cost that grows with the changes since the fold, not with the owners' sizes.
  When the summary is not as of today (or a unit moved), pages read the tasks themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Task
from tracker.models.progress import (
    ProgressDaily,
    ProgressDirty,
    ProgressDirtyTask,
    ProgressItem,
    ProgressRollup,
    ProgressState,
)
from tracker.plans.status import ACCEPTED, CANCELLED, OVERDUE_STATUSES
from tracker.progress.sql import days_after, dialect, first_path_id
from tracker.models.base import utcnow

RECENT_DAYS = 28  # "done recently" for the deadline risk (four weeks)
FOLD_LOCK_KEY = 7_314_100
INT_FIELDS = ("items", "done", "on_time", "late", "overdue", "due_so_far", "overdue_days", "done_recent")
FLOAT_FIELDS = ("weight", "weighted")
FIGURE_FIELDS = INT_FIELDS + FLOAT_FIELDS


# -- building blocks ---------------------------------------------------------------------------------


def figure_columns(t, today, since=None) -> list:
    """The figures of the rows of `t` (tasks or progress_items) as of `today`, in FIGURE_FIELDS
    order; `today` a date, or a Date bind parameter with `since` (RECENT_DAYS before) another."""
    overdue = and_(t.status.in_(OVERDUE_STATUSES), t.due_on < today)
    accepted = t.status == ACCEPTED
    if since is None:
        since = today - timedelta(days=RECENT_DAYS)
    return [
        func.count().label("items"),
        func.sum(case((accepted, 1), else_=0)).label("done"),
        func.sum(case((and_(accepted, or_(t.due_on.is_(None), t.completed_on <= t.due_on)), 1), else_=0)).label(
            "on_time"
        ),
        func.sum(case((and_(accepted, t.completed_on > t.due_on), 1), else_=0)).label("late"),
        func.sum(case((overdue, 1), else_=0)).label("overdue"),
        func.sum(case((t.due_on <= today, 1), else_=0)).label("due_so_far"),
        func.sum(case((overdue, days_after(today, t.due_on)), else_=0)).label("overdue_days"),
        func.sum(case((and_(accepted, t.completed_on > since, t.completed_on <= today), 1), else_=0)).label(
            "done_recent"
        ),
        func.sum(t.weight).label("weight"),
        func.sum(t.weight * t.progress).label("weighted"),
    ]


def work_item(t=Task):
    """A leaf task that is not cancelled: what progress counts."""
    child = aliased(Task)
    return and_(t.status != CANCELLED, ~select(child.id).where(child.parent_id == t.id).exists())


def effective_phase(t=Task):
    """The task's phase, else the first phase of its plan whose dates hold its due date, else 0."""
    p = aliased(Phase)
    by_date = (
        select(p.id)
        .where(p.plan_id == t.plan_id, p.start_on <= t.due_on, p.end_on >= t.due_on)
        .order_by(p.position, p.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(t.phase_id, by_date, 0)


def child_of(unit, path_column):
    """For a path under `unit`: the id of the unit directly under `unit` on that path. `unit` an
    OrgUnit, or a bind parameter holding where the rest of the path starts (len(path) + 1)."""
    start = len(unit.path) + 1 if isinstance(unit, OrgUnit) else unit
    rest = func.substr(path_column, start)
    find = func.strpos if dialect() == "postgresql" else func.instr
    return cast(func.substr(rest, 1, find(rest, "/") - 1), Integer)


MAX_LISTED = 2000  # marks a page names by value (the planner then uses the owner's or the task's index)


@dataclass
class DirtyMarks:
    """The marks read by a page: (plan, owner) pairs and task ids, each list cut at MAX_LISTED + 1."""

    pairs: list = field(default_factory=list)
    tasks: list = field(default_factory=list)

    @property
    def listed(self) -> bool:
        """Short enough to be named by value."""
        return len(self.pairs) <= MAX_LISTED and len(self.tasks) <= MAX_LISTED

    def __bool__(self) -> bool:
        return bool(self.pairs or self.tasks)


def dirty_marks() -> DirtyMarks:
    """The marked pairs and tasks now, in one statement."""
    d, dt = ProgressDirty, ProgressDirtyTask
    pairs = (
        select(d.plan_id.label("a"), d.owner_unit_id.label("b"), literal(0).label("kind"))
        .limit(MAX_LISTED + 1)
        .subquery()
    )
    tasks = (
        select(dt.task_id.label("a"), literal(0).label("b"), literal(1).label("kind")).limit(MAX_LISTED + 1).subquery()
    )
    marks = DirtyMarks()
    for a, b, kind in db.session.execute(select(pairs).union_all(select(tasks))):
        if kind:
            marks.tasks.append(a)
        else:
            marks.pairs.append((a, b))
    return marks


def _pair_clauses(source, taken: bool, pairs: Optional[list]) -> list:
    """The rows of `source` of the marked (plan, owner) pairs: two clauses (owned, unowned), each
    served by an index: the owner's, or the plan's."""
    d = ProgressDirty
    state = d.marks == -1 if taken else true()
    owner = source.owner_unit_id
    unowned = owner.is_(None) if source is Task else owner == 0
    pair = exists().where(state, d.plan_id == source.plan_id, d.owner_unit_id == owner)
    if pairs is not None:  # named by value, through bind parameters (see dirty_params)
        clauses = []
        if any(o for _p, o in pairs):
            clauses.append(and_(owner.in_(bindparam("dirty_owners", expanding=True)), pair))
        if any(not o for _p, o in pairs):
            clauses.append(and_(source.plan_id.in_(bindparam("dirty_plans", expanding=True)), unowned))
        return clauses
    owners = select(d.owner_unit_id).where(state, d.owner_unit_id != 0)
    unowned_plans = select(d.plan_id).where(state, d.owner_unit_id == 0)
    return [and_(owner.in_(owners), pair), and_(source.plan_id.in_(unowned_plans), unowned)]


def dirty_params(marks: Optional[DirtyMarks]) -> dict:
    """The values of the bind parameters of dirty_clauses(marks=marks)."""
    if not marks or not marks.listed:
        return {}
    return {
        "dirty_owners": sorted({o for _p, o in marks.pairs if o}),
        "dirty_plans": sorted({p for p, o in marks.pairs if not o}),
        "dirty_tasks": marks.tasks,
    }


def marks_shape(marks: Optional[DirtyMarks]) -> Optional[tuple]:
    """What of dirty_clauses(marks=marks) depends on the marks, besides the bound values."""
    if not marks:
        return None
    return (marks.listed, any(o for _p, o in marks.pairs), any(not o for _p, o in marks.pairs), bool(marks.tasks))


def dirty_clauses(
    source=Task, taken: bool = False, marks: Optional[DirtyMarks] = None, pairs: bool = True, tasks: bool = True
) -> list:
    """Disjoint clauses selecting the rows of `source` (tasks or progress_items) that changed
    since the last fold: those of the marked pairs, then the marked tasks outside them. Marks
    taken by this fold (`taken`), or all; with `marks` (read by the caller) named by value
    (bind parameters: execute with dirty_params(marks));
    `pairs`/`tasks` False leaves a kind out (the fold knows when it took none)."""
    if marks is not None:
        pairs, tasks = bool(marks.pairs), bool(marks.tasks)
    listed = marks is not None and marks.listed
    clauses = _pair_clauses(source, taken, marks.pairs if listed else None) if pairs else []
    if tasks:
        dt, d = ProgressDirtyTask, ProgressDirty
        column = source.id if source is Task else source.task_id
        state = dt.marks == -1 if taken else true()
        clause = (
            column.in_(bindparam("dirty_tasks", expanding=True))
            if listed
            else column.in_(select(dt.task_id).where(state))
        )
        if pairs:  # a task of a marked pair is counted with its pair
            owner = func.coalesce(source.owner_unit_id, 0) if source is Task else source.owner_unit_id
            pair_state = d.marks == -1 if taken else true()
            clause = and_(clause, ~exists().where(pair_state, d.plan_id == source.plan_id, d.owner_unit_id == owner))
        clauses.append(clause)
    return clauses


def _state() -> Optional[ProgressState]:
    return db.session.get(ProgressState, 1)


def summary_as_of() -> Optional[date]:
    state = _state()
    return state.as_of if state else None


def ready(today: date) -> bool:
    """Can the pages read the summary today?"""
    return summary_as_of() == today


# -- rebuild and fold -----------------------------------------------------------------------------------


def _items_from_tasks(where):
    """INSERT INTO progress_items the work items of `tasks` matching `where`."""
    columns = [
        Task.id,
        Task.plan_id,
        func.coalesce(Task.owner_unit_id, 0),
        first_path_id(Task.path),
        effective_phase(),
        Task.status,
        Task.due_on,
        Task.completed_on,
        Task.weight,
        Task.progress,
    ]
    return insert(ProgressItem).from_select(
        [
            "task_id",
            "plan_id",
            "owner_unit_id",
            "section_id",
            "phase_id",
            "status",
            "due_on",
            "completed_on",
            "weight",
            "progress",
        ],
        select(*columns).where(work_item(), where),
    )


def _ancestors(units=None):
    """(unit_id, ancestor_id) for each unit (of `units`, a select of ids, or all) and each unit
    above it, itself included (recursive)."""
    base = select(OrgUnit.id.label("unit_id"), OrgUnit.id.label("ancestor_id"), OrgUnit.parent_id.label("up"))
    if units is not None:
        base = base.where(OrgUnit.id.in_(units))
    base = base.cte("ancestry", recursive=True)
    parent = aliased(OrgUnit)
    return base.union_all(select(base.c.unit_id, parent.id, parent.parent_id).join(parent, parent.id == base.c.up))


def _upsert(model, keys: list[str], columns: list[str], source):
    if dialect() == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(model).from_select(keys + columns, source)
    table = model.__table__
    return statement.on_conflict_do_update(
        index_elements=keys, set_={c: table.c[c] + statement.excluded[c] for c in columns}
    )


def _apply(sign: int, today: date, items_where, owners=None, by_unit: bool = False) -> None:
    """Add (sign=1) or subtract (sign=-1) the figures of the progress_items matching
    `items_where` to the roll-up of their owners and every unit above, and to the daily counts.
    `by_unit` (a rebuild into an empty roll-up): the rows are written in unit order, so that a
    page reading the rows of some units finds them together (the planner then walks the units'
    index rather than scanning the roll-up)."""
    i = ProgressItem
    figures = figure_columns(i, today)
    ancestry = _ancestors(owners)
    keys = ["plan_id", "unit_id", "section_id", "phase_id"]
    owned = (
        select(i.plan_id, ancestry.c.ancestor_id, i.section_id, i.phase_id, *[f * sign for f in figures])
        .join(ancestry, ancestry.c.unit_id == i.owner_unit_id)
        .where(items_where, i.owner_unit_id != 0)
        .group_by(i.plan_id, ancestry.c.ancestor_id, i.section_id, i.phase_id)
    )
    if by_unit:
        owned = owned.order_by(ancestry.c.ancestor_id)
    unowned = (
        select(i.plan_id, literal(0), i.section_id, i.phase_id, *[f * sign for f in figures])
        .where(items_where, i.owner_unit_id == 0)
        .group_by(i.plan_id, i.section_id, i.phase_id)
    )
    for source in (owned, unowned):
        db.session.execute(_upsert(ProgressRollup, keys, list(FIGURE_FIELDS), source))
    # daily: due and done per day, under the owner's top-level unit (0 without an owner)
    owner = aliased(OrgUnit)
    root = func.coalesce(first_path_id(owner.path), 0)
    due = (
        select(
            i.plan_id.label("plan_id"),
            root.label("unit_id"),
            i.phase_id.label("phase_id"),
            i.due_on.label("day"),
            literal(1).label("due"),
            literal(0).label("done"),
        )
        .outerjoin(owner, owner.id == i.owner_unit_id)
        .where(items_where, i.due_on.is_not(None))
    )
    done = (
        select(i.plan_id, root, i.phase_id, i.completed_on, literal(0), literal(1))
        .outerjoin(owner, owner.id == i.owner_unit_id)
        .where(items_where, i.status == ACCEPTED, i.completed_on.is_not(None))
    )
    both = due.union_all(done).subquery()
    daily = (
        select(
            both.c.plan_id,
            both.c.unit_id,
            both.c.phase_id,
            both.c.day,
            func.sum(both.c.due) * sign,
            func.sum(both.c.done) * sign,
        )
        .where(true())
        .group_by(both.c.plan_id, both.c.unit_id, both.c.phase_id, both.c.day)
    )
    db.session.execute(_upsert(ProgressDaily, ["plan_id", "unit_id", "phase_id", "day"], ["due", "done"], daily))


def _lock() -> None:
    """One fold or rebuild at a time; and progress_state locked *first*, before any mark, in the
    order a writer that moves a unit takes them (its trigger sets the summary aside, then its
    task changes mark tasks): no deadlock. Readers are not held up (FOR UPDATE)."""
    if dialect() == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK_KEY})
        db.session.execute(select(ProgressState.id).where(ProgressState.id == 1).with_for_update())


def _set_state(**values) -> None:
    """Record a fold or rebuild: its times, and one more generation (part of the pages' version)."""
    state = _state()
    if state is None:
        db.session.add(ProgressState(id=1, generation=1, **values))
    else:
        for name, value in values.items():
            setattr(state, name, value)
        state.generation = ProgressState.generation + 1  # in SQL: never two folds on one number
    db.session.flush()


def _take_dirty() -> tuple[int, int]:
    """Mark the marks this fold handles (marks = -1); rows another transaction is writing are
    left for the next fold. Returns how many pairs and tasks were taken."""
    d, dt = ProgressDirty, ProgressDirtyTask
    if dialect() == "postgresql":
        chosen = select(d.plan_id, d.owner_unit_id).where(d.marks > 0).with_for_update(skip_locked=True)
        pairs = db.session.execute(
            update(d)
            .where(tuple_(d.plan_id, d.owner_unit_id).in_(chosen))
            .values(marks=-1)
            .execution_options(synchronize_session=False)
        )
        chosen_tasks = select(dt.task_id).where(dt.marks > 0).with_for_update(skip_locked=True)
        tasks = db.session.execute(
            update(dt).where(dt.task_id.in_(chosen_tasks)).values(marks=-1).execution_options(synchronize_session=False)
        )
    else:
        pairs = db.session.execute(
            update(d).where(d.marks > 0).values(marks=-1).execution_options(synchronize_session=False)
        )
        tasks = db.session.execute(
            update(dt).where(dt.marks > 0).values(marks=-1).execution_options(synchronize_session=False)
        )
    return pairs.rowcount or 0, tasks.rowcount or 0


def rebuild(today: date) -> dict:
    """Recompute the whole summary as of `today` (in the caller's transaction)."""
    _lock()
    d, dt = ProgressDirty, ProgressDirtyTask
    if dialect() == "postgresql":  # marks of transactions still writing stay for the next fold
        chosen = select(d.plan_id, d.owner_unit_id).with_for_update(skip_locked=True)
        db.session.execute(
            delete(d).where(tuple_(d.plan_id, d.owner_unit_id).in_(chosen)).execution_options(synchronize_session=False)
        )
        chosen_tasks = select(dt.task_id).with_for_update(skip_locked=True)
        db.session.execute(delete(dt).where(dt.task_id.in_(chosen_tasks)).execution_options(synchronize_session=False))
    else:
        db.session.execute(delete(d))
        db.session.execute(delete(dt))
    for model in (ProgressItem, ProgressRollup, ProgressDaily):
        db.session.execute(delete(model))
    db.session.execute(_items_from_tasks(true()))
    _apply(1, today, true(), by_unit=True)
    _set_state(as_of=today, built_at=utcnow(), folded_at=utcnow())
    return {
        "items": db.session.scalar(select(func.count()).select_from(ProgressItem)),
        "rollup": db.session.scalar(select(func.count()).select_from(ProgressRollup)),
    }


def fold(today: date) -> int:
    """Move the marked tasks and pairs into the summary (in the caller's transaction); returns
    how many marks were folded. A summary not as of `today` is rebuilt instead."""
    if summary_as_of() != today:
        rebuild(today)
        return -1
    _lock()
    pairs, tasks = _take_dirty()
    if not (pairs or tasks):
        return 0
    i = ProgressItem
    kinds = {"taken": True, "pairs": bool(pairs), "tasks": bool(tasks)}
    items = dirty_clauses(ProgressItem, **kinds)  # disjoint: each item is applied once

    def touched_plans() -> set:
        return set(db.session.scalars(select(i.plan_id).where(or_(*items)).distinct()))

    plans = touched_plans()
    for clause in items:  # out with the folded figures, over the owners of these items and above
        _apply(-1, today, clause, select(i.owner_unit_id).where(clause))
    db.session.execute(delete(i).where(or_(*items)).execution_options(synchronize_session=False))
    for clause in dirty_clauses(Task, **kinds):
        db.session.execute(_items_from_tasks(clause))
    plans |= touched_plans()
    for clause in items:  # in with the figures as they are now
        _apply(1, today, clause, select(i.owner_unit_id).where(clause))
    if plans:
        r, daily = ProgressRollup, ProgressDaily
        db.session.execute(
            delete(r).where(r.plan_id.in_(plans), r.items == 0).execution_options(synchronize_session=False)
        )
        db.session.execute(
            delete(daily)
            .where(daily.plan_id.in_(plans), daily.due == 0, daily.done == 0)
            .execution_options(synchronize_session=False)
        )
    count = 0
    for model in (ProgressDirty, ProgressDirtyTask):
        count += db.session.execute(
            delete(model).where(model.marks == -1).execution_options(synchronize_session=False)
        ).rowcount
    _set_state(folded_at=utcnow())
    return count


def refresh(today: date, full: bool = False) -> int:
    """The scheduler's job body: rebuild on a new day (or when asked), else fold; commits."""
    from tracker.plans.work_counts import fold_review_marks, rebuild_review_counts

    if full:
        rebuild(today)
        rebuild_review_counts()  # the badge's figures (tracker/models/work.py), folded alike
        folded = -1
    else:
        folded = fold(today)
        fold_review_marks()
    db.session.commit()
    return folded


# -- reading --------------------------------------------------------------------------------------------


def _key(t, key: Optional[str], phase_column=None):
    if key == "section":
        return t.section_id if t is not Task else first_path_id(Task.path)
    if key == "phase":
        return phase_column if phase_column is not None else t.phase_id
    if key == "plan":
        return t.plan_id
    return null()


def _grouping(*columns) -> list:
    """The GROUP BY list without constants (PostgreSQL refuses `GROUP BY NULL`)."""
    from sqlalchemy.sql.elements import BindParameter, Null

    return [c for c in columns if not isinstance(c, (BindParameter, Null))]


# The bind parameters of the figures statements, whose values figures_by passes at each call.
UNIT_ID = bindparam("unit_id", type_=Integer)
UNIT_LIKE = bindparam("unit_like", type_=String)  # the unit's path followed by %
REST_FROM = bindparam("rest_from", type_=Integer)  # where a path under the unit continues
PLAN_ID = bindparam("plan_id", type_=Integer)
TODAY = bindparam("today", type_=Date)
SINCE = bindparam("since", type_=Date)  # RECENT_DAYS before today

_statements: dict = {}  # (dialect, shape) -> statement, built once: the build costs more than the run


def figures_by(
    mode: str,
    unit: Optional[OrgUnit],
    key: Optional[str],
    today: date,
    plan_id: Optional[int] = None,
    live: bool = False,
    scope=None,
    own: bool = True,
) -> list:
    """Rows (row unit id, key, *FIGURE_FIELDS) of the work items

    - mode "children": under `unit`, one row per unit directly under it (its whole subtree),
      and row None for the items `unit` owns itself (left out with own=False);
    - mode "self": `unit` and everything under it, one row (row = unit.id);
    - mode "all": every work item, with or without an owner (row None);

    split by key: "section" (root task id), "phase" (effective phase, 0 = none), "plan" or None.
    From the summary when it is as of today (one statement), else from the tasks (one statement);
    `scope` (a WHERE clause on tasks) forces the tasks. The statement is built once per shape,
    with bind parameters for the unit, plan, day and marks.
    """
    use_summary = not live and scope is None and ready(today)
    marks = dirty_marks() if use_summary else None
    shape = (dialect(), mode, key, plan_id is not None, own, use_summary, marks_shape(marks))
    if scope is not None:  # a user's own scope: built for this call
        statement = _figures_statement(mode, key, plan_id is not None, own, use_summary, marks, scope)
    else:
        statement = _statements.get(shape)
        if statement is None:
            statement = _statements.setdefault(
                shape, _figures_statement(mode, key, plan_id is not None, own, use_summary, marks)
            )
    params = {"today": today, "since": today - timedelta(days=RECENT_DAYS), **dirty_params(marks)}
    if unit is not None:
        params.update(unit_id=unit.id, unit_like=f"{unit.path}%", rest_from=len(unit.path) + 1)
    if plan_id is not None:
        params["plan_id"] = plan_id
    return [tuple(r) for r in db.session.execute(statement, params)]


def _figures_statement(
    mode: str,
    key: Optional[str],
    with_plan: bool,
    own: bool,
    use_summary: bool,
    marks: Optional[DirtyMarks],
    scope=None,
):
    """The statement of figures_by for one shape (see there), with bind parameters."""
    parts = []
    owner = aliased(OrgUnit)

    def row_for(o):
        if mode == "children":
            return case((o.id == UNIT_ID, null()), else_=child_of(REST_FROM, o.path))
        return UNIT_ID if mode == "self" else null()

    def within(o):
        if mode == "all":
            return true()
        return o.path.like(UNIT_LIKE)

    def from_rows(source, extra, sign: int = 1):
        """Figures grouped by row and key from the tasks (work items only) or from progress_items."""
        if source is Task:
            key_column = _key(Task, key, effective_phase())
            conditions = [work_item(), extra]
        else:
            key_column = _key(source, key)
            conditions = [extra]
        row = row_for(owner)
        query = select(
            row.label("row_id"), key_column.label("key"), *[f * sign for f in figure_columns(source, TODAY, SINCE)]
        ).select_from(source)
        joined = owner.id == source.owner_unit_id
        query = query.outerjoin(owner, joined) if mode == "all" else query.join(owner, joined)
        query = query.where(within(owner), *conditions)
        if with_plan:
            query = query.where(source.plan_id == PLAN_ID)
        return query.group_by(*_grouping(row, key_column))

    if not use_summary:
        return from_rows(Task, scope if scope is not None else true())

    r = ProgressRollup
    units = aliased(OrgUnit)
    rollup_key = {"section": r.section_id, "phase": r.phase_id, "plan": r.plan_id}.get(key, null())
    figures = [r.__table__.c[name] for name in FIGURE_FIELDS]

    def rollup(row, *conditions, units_where=None):
        query = select(row.label("row_id"), rollup_key.label("key"), *figures).select_from(r)
        if units_where is not None:  # joined, so that the planner walks the units' index, then the roll-up's
            query = query.join(units, and_(units.id == r.unit_id, units_where))
        query = query.where(*conditions)
        return query.where(r.plan_id == PLAN_ID) if with_plan else query

    if mode == "children":
        parts.append(rollup(r.unit_id, units_where=units.parent_id == UNIT_ID))
    elif mode == "self":
        parts.append(rollup(r.unit_id, r.unit_id == UNIT_ID))
    else:
        parts.append(rollup(null(), units_where=units.parent_id.is_(None)))
        parts.append(rollup(null(), r.unit_id == 0))
    if mode == "children" and own:
        parts.append(from_rows(ProgressItem, ProgressItem.owner_unit_id == UNIT_ID))
    # what changed since the last fold: the live figures in, the folded ones out
    if marks:
        parts.extend(from_rows(Task, clause) for clause in dirty_clauses(Task, marks=marks))
        parts.extend(from_rows(ProgressItem, clause, sign=-1) for clause in dirty_clauses(ProgressItem, marks=marks))
    union = parts[0].union_all(*parts[1:]).subquery()
    return select(union.c.row_id, union.c.key, *[func.sum(union.c[name]) for name in FIGURE_FIELDS]).group_by(
        union.c.row_id, union.c.key
    )


FROM_DAY = bindparam("from_day", type_=Date)


def daily_by(
    plan_id: Optional[int], unit: Optional[OrgUnit], today: date, since: Optional[date] = None
) -> Optional[list]:
    """(phase id, day, due, done) of every work item (unit None) or of a top-level unit's, from
    the summary plus the correction for what changed since the fold; None when the summary
    cannot answer. The statement is built once per shape, like figures_by's."""
    if not ready(today) or (unit is not None and unit.parent_id is not None):
        return None
    marks = dirty_marks()
    shape = ("daily", dialect(), plan_id is not None, unit is not None, since is not None, marks_shape(marks))
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements.setdefault(
            shape, _daily_statement(plan_id is not None, unit is not None, since is not None, marks)
        )
    params = dirty_params(marks)
    if plan_id is not None:
        params["plan_id"] = plan_id
    if unit is not None:
        params.update(unit_id=unit.id, unit_like=f"{unit.path}%")
    if since is not None:
        params["from_day"] = since
    return [tuple(r) for r in db.session.execute(statement, params)]


def _daily_statement(with_plan: bool, with_unit: bool, with_since: bool, marks: Optional[DirtyMarks]):
    daily = ProgressDaily
    rows = select(
        daily.phase_id.label("phase_id"), daily.day.label("day"), daily.due.label("due"), daily.done.label("done")
    )
    if with_plan:
        rows = rows.where(daily.plan_id == PLAN_ID)
    if with_unit:
        rows = rows.where(daily.unit_id == UNIT_ID)
    if with_since:
        rows = rows.where(daily.day >= FROM_DAY)
    parts = [rows]
    corrections = (
        [(Task, 1, c) for c in dirty_clauses(Task, marks=marks)]
        + [(ProgressItem, -1, c) for c in dirty_clauses(ProgressItem, marks=marks)]
        if marks
        else []
    )
    for source, sign, dirty in corrections:
        if source is Task:
            base = [work_item(), dirty]
            phase = effective_phase()
        else:
            base = [dirty]
            phase = ProgressItem.phase_id
        owner = aliased(OrgUnit)
        if with_plan:
            base.append(source.plan_id == PLAN_ID)
        if with_unit:
            base.append(owner.path.like(UNIT_LIKE))
        for day_column, due, done, extra in (
            (source.due_on, 1, 0, source.due_on.is_not(None)),
            (source.completed_on, 0, 1, and_(source.status == ACCEPTED, source.completed_on.is_not(None))),
        ):
            part = (
                select(phase, day_column, literal(due * sign), literal(done * sign))
                .select_from(source)
                .outerjoin(owner, owner.id == source.owner_unit_id)
                .where(*base, extra)
            )
            if with_since:
                part = part.where(day_column >= FROM_DAY)
            parts.append(part)
    union = parts[0].union_all(*parts[1:]).subquery()
    return select(union.c.phase_id, union.c.day, func.sum(union.c.due), func.sum(union.c.done)).group_by(
        union.c.phase_id, union.c.day
    )
