"""Progress figures, computed by aggregate queries (never by walking the tree in Python).

The unit of account is a *work item*: a leaf task (no children) that is not cancelled. Section
headings and cascade templates take their figures from the work items under them.

- completion: the weighted mean of the items' progress (accepted = 100, else reported percent);
- done: accepted; on time: accepted on or before the due date; late: accepted after it;
- overdue: open past its due date; due so far: items whose due date has come;
- on-time rate: on time / due so far (the ranking's measure; ties by total days overdue).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Optional

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import aliased

from tracker.auth.scope import visible_tasks_clause
from tracker.extensions import db
from tracker.models import Escalation, OrgUnit, Phase, Plan, Task, User
from tracker.plans.status import ACCEPTED, CANCELLED, OVERDUE_STATUSES
from tracker.progress.sql import days_after, first_path_id


@dataclass
class Figures:
    items: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    due_so_far: int = 0
    overdue_days: int = 0
    weight: float = 0.0
    weighted: float = 0.0

    @property
    def completion(self) -> float:
        return round(self.weighted / self.weight, 1) if self.weight else 0.0

    @property
    def on_time_rate(self) -> Optional[float]:
        return round(100.0 * self.on_time / self.due_so_far, 1) if self.due_so_far else None

    def add(self, other: "Figures") -> None:
        for name in ("items", "done", "on_time", "late", "overdue", "due_so_far", "overdue_days", "weight", "weighted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _work_item():
    child = aliased(Task)
    return and_(Task.status != CANCELLED, ~select(child.id).where(child.parent_id == Task.id).exists())


def _figure_columns(today: date) -> list:
    overdue = and_(Task.status.in_(OVERDUE_STATUSES), Task.due_on < today)
    accepted = Task.status == ACCEPTED
    return [
        func.count().label("items"),
        func.sum(case((accepted, 1), else_=0)).label("done"),
        func.sum(case((and_(accepted, or_(Task.due_on.is_(None), Task.completed_on <= Task.due_on)), 1), else_=0)).label("on_time"),
        func.sum(case((and_(accepted, Task.completed_on > Task.due_on), 1), else_=0)).label("late"),
        func.sum(case((overdue, 1), else_=0)).label("overdue"),
        func.sum(case((Task.due_on <= today, 1), else_=0)).label("due_so_far"),
        func.sum(case((overdue, days_after(today, Task.due_on)), else_=0)).label("overdue_days"),
        func.sum(Task.weight).label("weight"),
        func.sum(Task.weight * Task.progress).label("weighted"),
    ]


FIGURE_FIELDS = ("items", "done", "on_time", "late", "overdue", "due_so_far", "overdue_days", "weight", "weighted")


def _figures(row, offset: int = 0) -> Figures:
    values = [row[offset + i] or 0 for i in range(len(FIGURE_FIELDS))]
    return Figures(*[int(v) for v in values[:7]], float(values[7]), float(values[8]))


def _outer_sums(inner) -> list:
    return [func.sum(inner.c[name]) for name in FIGURE_FIELDS]


# -- the unit x section (or phase) matrix -------------------------------------------------------

@dataclass
class Column:
    key: Optional[int]
    label: str
    ref: str = ""


@dataclass
class Matrix:
    plan: Plan
    unit: OrgUnit
    by: str  # "sections" | "phases"
    rows: list[OrgUnit]
    columns: list[Column]
    cells: dict[tuple[Optional[int], Optional[int]], Figures]
    row_totals: dict[Optional[int], Figures]
    column_totals: dict[Optional[int], Figures]
    total: Figures
    own_row: bool  # tasks owned by the chosen unit itself (not by a unit under it)


def matrix_columns(plan: Plan, by: str) -> list[Column]:
    if by == "phases":
        phases = db.session.scalars(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position, Phase.id))
        return [Column(p.id, p.name) for p in phases] + [Column(None, "")]
    roots = db.session.execute(
        select(Task.id, Task.ref, Task.title).where(Task.plan_id == plan.id, Task.parent_id.is_(None))
        .order_by(Task.position, Task.id)
    )
    return [Column(i, title, ref) for i, ref, title in roots]


def unit_matrix(plan: Plan, unit: OrgUnit, by: str, today: date) -> Matrix:
    """Rows: the units directly under `unit` (each with its whole subtree) and `unit` itself;
    columns: the plan's top-level sections or its phases. Three statements whatever the size."""
    owner = aliased(OrgUnit)
    column_key = first_path_id(Task.path) if by == "sections" else Task.phase_id
    inner = (
        select(Task.owner_unit_id.label("owner_id"), column_key.label("col"), *_figure_columns(today))
        .join(owner, owner.id == Task.owner_unit_id)
        .where(Task.plan_id == plan.id, _work_item(), owner.path.like(f"{unit.path}%"))
        .group_by(Task.owner_unit_id, column_key)
        .subquery()
    )
    owner2 = aliased(OrgUnit)
    row_unit = aliased(OrgUnit)
    rows_query = (
        select(row_unit.id, inner.c.col, *_outer_sums(inner))
        .select_from(inner)
        .join(owner2, owner2.id == inner.c.owner_id)
        .outerjoin(row_unit, and_(row_unit.parent_id == unit.id, owner2.path.like(row_unit.path + "%")))
        .group_by(row_unit.id, inner.c.col)
    )
    cells: dict = {}
    row_totals: dict = {}
    column_totals: dict = {}
    total = Figures()
    for row in db.session.execute(rows_query):
        figures = _figures(row, 2)
        row_id, col = row[0], row[1]
        cells[(row_id, col)] = figures
        row_totals.setdefault(row_id, Figures()).add(figures)
        column_totals.setdefault(col, Figures()).add(figures)
        total.add(figures)
    children = list(db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.position, OrgUnit.code)))
    rows = [u for u in children if u.id in row_totals]
    columns = matrix_columns(plan, by)
    if by == "phases" and not any(col is None for _row, col in cells):
        columns = [c for c in columns if c.key is not None]  # no column "without phase" when empty
    return Matrix(plan, unit, by, rows, columns, cells, row_totals, column_totals, total, own_row=None in row_totals)


# -- phases ---------------------------------------------------------------------------------------

@dataclass
class PhaseSummary:
    phase: Phase
    figures: Figures
    burnup: list[tuple[date, int, int]] = field(default_factory=list)  # (week end, scope due, done)


def _in_phase(phase_alias_start, phase_alias_end, phase_id_col):
    return or_(Task.phase_id == phase_id_col,
               and_(Task.phase_id.is_(None), Task.due_on >= phase_alias_start, Task.due_on <= phase_alias_end))


def phase_summaries(plan: Plan, user: User, today: date, with_burnup: bool = True) -> list[PhaseSummary]:
    """Per phase: the work items it holds (by phase, or by due date within it when none is set)."""
    phases = list(db.session.scalars(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position, Phase.id)))
    if not phases:
        return []
    scope = visible_tasks_clause(user)
    rows = db.session.execute(
        select(Phase.id, *_figure_columns(today))
        .select_from(Task)
        .join(Phase, and_(Phase.plan_id == plan.id, _in_phase(Phase.start_on, Phase.end_on, Phase.id)))
        .where(Task.plan_id == plan.id, _work_item(), scope)
        .group_by(Phase.id)
    )
    figures = {row[0]: _figures(row, 1) for row in rows}
    summaries = [PhaseSummary(p, figures.get(p.id, Figures())) for p in phases]
    if with_burnup:
        _burnups(plan, user, summaries)
    return summaries


def _burnups(plan: Plan, user: User, summaries: list[PhaseSummary]) -> None:
    """Weekly burn-up per phase: items due so far (scope) and items done, by week; two queries."""
    scope = visible_tasks_clause(user)
    due_rows = db.session.execute(
        select(Phase.id, Task.due_on, func.count())
        .select_from(Task)
        .join(Phase, and_(Phase.plan_id == plan.id, _in_phase(Phase.start_on, Phase.end_on, Phase.id)))
        .where(Task.plan_id == plan.id, _work_item(), scope, Task.due_on.is_not(None))
        .group_by(Phase.id, Task.due_on)
    ).all()
    done_rows = db.session.execute(
        select(Phase.id, Task.completed_on, func.count())
        .select_from(Task)
        .join(Phase, and_(Phase.plan_id == plan.id, _in_phase(Phase.start_on, Phase.end_on, Phase.id)))
        .where(Task.plan_id == plan.id, _work_item(), scope, Task.status == ACCEPTED, Task.completed_on.is_not(None))
        .group_by(Phase.id, Task.completed_on)
    ).all()
    for summary in summaries:
        phase = summary.phase
        if not (phase.start_on and phase.end_on):
            continue
        dues = sorted((d, n) for pid, d, n in due_rows if pid == phase.id)
        dones = sorted((d, n) for pid, d, n in done_rows if pid == phase.id)
        weeks = []
        end = phase.start_on + timedelta(days=6)
        while True:
            week_end = min(end, phase.end_on)
            weeks.append((week_end, sum(n for d, n in dues if d <= week_end), sum(n for d, n in dones if d <= week_end)))
            if week_end >= phase.end_on or len(weeks) > 160:
                break
            end += timedelta(days=7)
        summary.burnup = weeks


# -- ranking and the leadership summary ------------------------------------------------------------

@dataclass
class Ranked:
    unit: OrgUnit
    figures: Figures


def ranking(unit: OrgUnit, today: date, plan: Optional[Plan] = None) -> list[Ranked]:
    """The units directly under `unit`, best first: on-time rate, then fewest days overdue."""
    owner = aliased(OrgUnit)
    inner = (
        select(Task.owner_unit_id.label("owner_id"), *_figure_columns(today))
        .join(owner, owner.id == Task.owner_unit_id)
        .where(_work_item(), owner.path.like(f"{unit.path}%"), owner.id != unit.id)
        .group_by(Task.owner_unit_id)
    )
    if plan is not None:
        inner = inner.where(Task.plan_id == plan.id)
    inner = inner.subquery()
    owner2 = aliased(OrgUnit)
    row_unit = aliased(OrgUnit)
    rows = db.session.execute(
        select(row_unit, *_outer_sums(inner))
        .select_from(inner)
        .join(owner2, owner2.id == inner.c.owner_id)
        .join(row_unit, and_(row_unit.parent_id == unit.id, owner2.path.like(row_unit.path + "%")))
        .group_by(row_unit.id)
    ).all()
    ranked = [Ranked(row[0], _figures(row, 1)) for row in rows]
    # nothing due yet: ranked after everyone who had something due
    ranked.sort(key=lambda r: (r.figures.on_time_rate is None, -(r.figures.on_time_rate or 0.0),
                               r.figures.overdue_days, r.unit.code))
    return ranked


@dataclass
class Leadership:
    plans: list[tuple[Plan, Figures, list[PhaseSummary]]]
    behind: list[Ranked]
    escalations: dict[str, int]
    trend: list[tuple[date, int]]  # (week start, items accepted that week)
    total: Figures


def leadership_summary(user: User, unit: OrgUnit, today: date, weeks: int = 12) -> Leadership:
    """One screen over all plans, within `unit`'s subtree. A fixed number of statements."""
    owner = aliased(OrgUnit)
    within = and_(owner.id == Task.owner_unit_id, owner.path.like(f"{unit.path}%"))
    plan_rows = db.session.execute(
        select(Task.plan_id, *_figure_columns(today)).join(owner, within).where(_work_item()).group_by(Task.plan_id)
    ).all()
    per_plan = {row[0]: _figures(row, 1) for row in plan_rows}
    plans = list(db.session.scalars(select(Plan).where(Plan.id.in_(per_plan.keys())).order_by(Plan.issued_on.desc().nulls_last(), Plan.key))) if per_plan else []
    phase_rows = db.session.execute(
        select(Phase.id, *_figure_columns(today))
        .select_from(Task)
        .join(owner, within)
        .join(Phase, and_(Phase.plan_id == Task.plan_id, _in_phase(Phase.start_on, Phase.end_on, Phase.id)))
        .where(_work_item())
        .group_by(Phase.id)
    ).all()
    per_phase = {row[0]: _figures(row, 1) for row in phase_rows}
    phases = list(db.session.scalars(select(Phase).where(Phase.plan_id.in_(per_plan.keys())).order_by(Phase.plan_id, Phase.position))) if per_plan else []
    total = Figures()
    for figures in per_plan.values():
        total.add(figures)
    behind = [r for r in ranking(unit, today) if r.figures.due_so_far][::-1][:10]
    week_start = today - timedelta(days=today.weekday())
    escalations = dict(db.session.execute(
        select(Escalation.level, func.count())
        .join(Task, Task.id == Escalation.task_id).join(owner, within)
        .where(Escalation.state == "fired", Escalation.at >= _start_of_day_utc(week_start))
        .group_by(Escalation.level)
    ).all())
    first_week = week_start - timedelta(weeks=weeks - 1)
    done = db.session.execute(
        select(Task.completed_on, func.count()).join(owner, within)
        .where(_work_item(), Task.status == ACCEPTED, Task.completed_on >= first_week)
        .group_by(Task.completed_on)
    ).all()
    trend = []
    for i in range(weeks):
        start = first_week + timedelta(weeks=i)
        trend.append((start, sum(n for d, n in done if start <= d < start + timedelta(days=7))))
    return Leadership(
        plans=[(p, per_plan[p.id], [PhaseSummary(ph, per_phase.get(ph.id, Figures())) for ph in phases if ph.plan_id == p.id]) for p in plans],
        behind=behind, escalations=escalations, trend=trend, total=total,
    )


def _start_of_day_utc(day: date):
    from datetime import datetime, timezone

    from tracker.timeutil import local_zone

    return datetime(day.year, day.month, day.day, tzinfo=local_zone()).astimezone(timezone.utc)


# -- timeline ---------------------------------------------------------------------------------------

@dataclass
class TimelineRow:
    section: Task
    first: Optional[date]
    last: Optional[date]
    figures: Figures


@dataclass
class Timeline:
    plan: Plan
    unit: OrgUnit
    rows: list[TimelineRow]
    phases: list[Phase]
    overdue: list[tuple[int, Task]]  # (section id, overdue work item), oldest first
    start: Optional[date]
    end: Optional[date]


def timeline(plan: Plan, unit: OrgUnit, today: date, overdue_limit: int = 300) -> Timeline:
    """Per top-level section, the span of its work items' dates within `unit`'s subtree, with
    the phases and the overdue items; four statements."""
    owner = aliased(OrgUnit)
    section = first_path_id(Task.path)
    rows = db.session.execute(
        select(section, func.min(func.coalesce(Task.start_on, Task.due_on)), func.max(Task.due_on), *_figure_columns(today))
        .join(owner, owner.id == Task.owner_unit_id)
        .where(Task.plan_id == plan.id, _work_item(), owner.path.like(f"{unit.path}%"))
        .group_by(section)
    ).all()
    spans = {row[0]: (row[1], row[2], _figures(row, 3)) for row in rows}
    sections = list(db.session.scalars(select(Task).where(Task.plan_id == plan.id, Task.parent_id.is_(None))
                                       .order_by(Task.position, Task.id)))
    timeline_rows = [TimelineRow(s, *spans[s.id]) for s in sections if s.id in spans]
    phases = list(db.session.scalars(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position)))
    overdue = db.session.execute(
        select(section, Task)
        .join(owner, owner.id == Task.owner_unit_id)
        .where(Task.plan_id == plan.id, owner.path.like(f"{unit.path}%"), Task.status.in_(OVERDUE_STATUSES),
               Task.due_on < today, _work_item())
        .order_by(Task.due_on, Task.id).limit(overdue_limit)
    ).all()
    dates = [d for r in timeline_rows for d in (r.first, r.last) if d] + [d for p in phases for d in (p.start_on, p.end_on) if d]
    return Timeline(plan, unit, timeline_rows, phases, [(sid, task) for sid, task in overdue],
                    min(dates) if dates else None, max(dates) if dates else None)
