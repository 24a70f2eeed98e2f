"""Progress figures, computed by aggregate queries (never by walking the tree in Python).

The unit of account is a *work item*: a leaf task (no children) that is not cancelled. Section
headings and cascade templates take their figures from the work items under them.

- completion: the weighted mean of the items' progress (accepted = 100, else reported percent);
- done: accepted; on time: accepted on or before the due date; late: accepted after it;
- overdue: open past its due date; due so far: items whose due date has come;
- on-time rate: on time / due so far (the ranking's measure; ties by total days overdue).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from typing import Optional

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import aliased, contains_eager

from tracker.auth.scope import visible_tasks_clause
from tracker.extensions import db
from tracker.models import Escalation, OrgUnit, Phase, Plan, Task, User
from tracker.plans.status import ACCEPTED, OVERDUE_STATUSES
from tracker.progress.sql import first_path_id
from tracker.supervision.signing import SignFor, sign_for_by_child
from tracker.progress.summary import (
    FIGURE_FIELDS,
    INT_FIELDS,
    daily_by,
    effective_phase,
    figure_columns,
    figures_by,
    work_item,
)


@dataclass
class Figures:
    items: int = 0
    done: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    due_so_far: int = 0
    overdue_days: int = 0
    done_recent: int = 0
    weight: float = 0.0
    weighted: float = 0.0

    @property
    def completion(self) -> float:
        return round(self.weighted / self.weight, 1) if self.weight else 0.0

    @property
    def on_time_rate(self) -> Optional[float]:
        return round(100.0 * self.on_time / self.due_so_far, 1) if self.due_so_far else None

    @property
    def open(self) -> int:
        return self.items - self.done

    def add(self, other: "Figures") -> None:
        # spelt out: the matrix adds some thousands of these per page
        self.items += other.items
        self.done += other.done
        self.on_time += other.on_time
        self.late += other.late
        self.overdue += other.overdue
        self.due_so_far += other.due_so_far
        self.overdue_days += other.overdue_days
        self.done_recent += other.done_recent
        self.weight += other.weight
        self.weighted += other.weighted


def _figures(row, offset: int = 0) -> Figures:
    values = [row[offset + i] or 0 for i in range(len(FIGURE_FIELDS))]
    ints = len(INT_FIELDS)
    return Figures(*[int(v) for v in values[:ints]], *[float(v) for v in values[ints:]])


def _grouped(rows) -> dict:
    """{(row id, key): Figures} from figures_by rows; phase 0 (none) becomes None."""
    return {(row[0], row[1] if row[1] != 0 else None): _figures(row, 2) for row in rows}


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
        select(Task.id, Task.ref, Task.title)
        .where(Task.plan_id == plan.id, Task.parent_id.is_(None))
        .order_by(Task.position, Task.id)
    )
    return [Column(i, title, ref) for i, ref, title in roots]


def unit_matrix(plan: Plan, unit: OrgUnit, by: str, today: date, live: bool = False) -> Matrix:
    """Rows: the units directly under `unit` (each with its whole subtree) and `unit` itself;
    columns: the plan's top-level sections or its phases. Four statements whatever the size."""
    cells = _grouped(figures_by("children", unit, "phase" if by == "phases" else "section", today, plan.id, live=live))
    row_totals: dict = {}
    column_totals: dict = {}
    total = Figures()
    for (row_id, col), figures in cells.items():
        row_totals.setdefault(row_id, Figures()).add(figures)
        column_totals.setdefault(col, Figures()).add(figures)
        total.add(figures)
    children = list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.position, OrgUnit.code))
    )
    rows = [u for u in children if row_totals.get(u.id, Figures()).items]
    columns = matrix_columns(plan, by)
    if by == "phases" and not any(col is None and f.items for (_row, col), f in cells.items()):
        columns = [c for c in columns if c.key is not None]  # no column "without phase" when empty
    own = row_totals.get(None)
    return Matrix(
        plan, unit, by, rows, columns, cells, row_totals, column_totals, total, own_row=bool(own and own.items)
    )


# -- phases ---------------------------------------------------------------------------------------


@dataclass
class PhaseSummary:
    phase: Phase
    figures: Figures
    # (week end, scope due, done): the due line runs to the phase's end, the done line to today
    # (None after it: nothing is done in the future yet)
    burnup: list[tuple[date, int, Optional[int]]] = field(default_factory=list)


def phase_summaries(
    plan: Plan, user: User, today: date, with_burnup: bool = True, live: bool = False
) -> list[PhaseSummary]:
    """Per phase: the work items it holds (by phase, or by due date within it when none is set).
    Users who see everything read the summary; others the tasks they may see."""
    phases = list(db.session.scalars(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position, Phase.id)))
    if not phases:
        return []
    scope = None if user.sees_everything else visible_tasks_clause(user)
    figures = {
        key: f
        for (_row, key), f in _grouped(figures_by("all", None, "phase", today, plan.id, live=live, scope=scope)).items()
    }
    summaries = [PhaseSummary(p, figures.get(p.id, Figures())) for p in phases]
    if with_burnup:
        _burnups(plan, scope, summaries, today, live)
    return summaries


def _daily_live(plan_id: Optional[int], scope, since: Optional[date] = None, unit: Optional[OrgUnit] = None) -> list:
    """(phase id, day, due, done) from the tasks: two grouped statements."""
    phase = effective_phase()
    conditions = [work_item(), scope if scope is not None else literal(True)]
    if plan_id is not None:
        conditions.append(Task.plan_id == plan_id)
    if unit is not None:
        owner = aliased(OrgUnit)
        conditions.append(Task.owner_unit_id.in_(select(owner.id).where(owner.path.like(f"{unit.path}%"))))
    rows: dict = {}
    for day, extra, index in (
        (Task.due_on, Task.due_on.is_not(None), 0),
        (Task.completed_on, and_(Task.status == ACCEPTED, Task.completed_on.is_not(None)), 1),
    ):
        query = select(phase, day, func.count()).where(*conditions, extra)
        if since is not None:
            query = query.where(day >= since)
        for phase_id, on, n in db.session.execute(query.group_by(phase, day)):
            counts = rows.setdefault((phase_id, on), [0, 0])
            counts[index] += n
    return [(phase_id, on, due, done) for (phase_id, on), (due, done) in rows.items()]


def _burnups(plan: Plan, scope, summaries: list[PhaseSummary], today: date, live: bool) -> None:
    """Weekly burn-up per phase: items due so far (scope) and items done, by week."""
    daily = None if (live or scope is not None) else daily_by(plan.id, None, today)
    if daily is None:
        daily = _daily_live(plan.id, scope)
    for summary in summaries:
        phase = summary.phase
        if not (phase.start_on and phase.end_on):
            continue
        dues = _running_total(sorted((d, n) for pid, d, n, _done in daily if pid == phase.id and n))
        dones = _running_total(sorted((d, n) for pid, d, _due, n in daily if pid == phase.id and n))
        weeks = []
        end = phase.start_on + timedelta(days=6)
        while True:
            week_end = min(end, phase.end_on)
            done = dones(min(week_end, today)) if week_end - timedelta(days=6) <= today else None
            weeks.append((week_end, dues(week_end), done))
            if week_end >= phase.end_on or len(weeks) > 160:
                break
            end += timedelta(days=7)
        summary.burnup = weeks


def _running_total(counts: list[tuple[date, int]]):
    """For (day, n) sorted by day: a function giving the sum of n up to and including a day."""
    days = [d for d, _n in counts]
    totals = list(accumulate(n for _d, n in counts))

    def up_to(day: date) -> int:
        index = bisect_right(days, day)
        return totals[index - 1] if index else 0

    return up_to


# -- ranking and the leadership summary ------------------------------------------------------------


@dataclass
class Ranked:
    unit: OrgUnit
    figures: Figures
    sign_for: SignFor = field(default_factory=SignFor)  # 签收: rate and median time to sign


def ranking(unit: OrgUnit, today: date, plan: Optional[Plan] = None, live: bool = False) -> list[Ranked]:
    """The units directly under `unit`, best first: on-time rate, then fewest days overdue."""
    cells = _grouped(figures_by("children", unit, None, today, plan.id if plan else None, live=live, own=False))
    figures = {row_id: f for (row_id, _key), f in cells.items() if row_id is not None and f.items}
    units = db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(figures.keys()))).all() if figures else []
    signing = sign_for_by_child(unit, plan, figures.keys()) if figures else {}
    ranked = [Ranked(u, figures[u.id], signing.get(u.id) or SignFor()) for u in units]
    # nothing due yet: ranked after everyone who had something due
    ranked.sort(
        key=lambda r: (
            r.figures.on_time_rate is None,
            -(r.figures.on_time_rate or 0.0),
            r.figures.overdue_days,
            r.unit.code,
        )
    )
    return ranked


def plan_figures(unit: OrgUnit, today: date, live: bool = False) -> dict[int, Figures]:
    """{plan id: figures} of the work items in `unit`'s subtree, per plan (one statement; the
    leadership screen's per-plan numbers)."""
    return {
        key: f for (_row, key), f in _grouped(figures_by("self", unit, "plan", today, live=live)).items() if f.items
    }


@dataclass
class Leadership:
    plans: list[tuple[Plan, Figures, list[PhaseSummary]]]
    behind: list[Ranked]
    escalations: dict[str, int]
    trend: list[tuple[date, int]]  # (week start, items accepted that week)
    total: Figures


def leadership_summary(user: User, unit: OrgUnit, today: date, weeks: int = 12, live: bool = False) -> Leadership:
    """One screen over all plans, within `unit`'s subtree. A fixed number of statements."""
    per_plan = {
        key: f for (_row, key), f in _grouped(figures_by("self", unit, "plan", today, live=live)).items() if f.items
    }
    plans = (
        list(
            db.session.scalars(
                select(Plan).where(Plan.id.in_(per_plan.keys())).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)
            )
        )
        if per_plan
        else []
    )
    per_phase = {key: f for (_row, key), f in _grouped(figures_by("self", unit, "phase", today, live=live)).items()}
    phases = (
        list(
            db.session.scalars(
                select(Phase).where(Phase.plan_id.in_(per_plan.keys())).order_by(Phase.plan_id, Phase.position)
            )
        )
        if per_plan
        else []
    )
    total = Figures()
    for figures in per_plan.values():
        total.add(figures)
    behind = [r for r in ranking(unit, today, live=live) if r.figures.due_so_far][::-1][:10]
    week_start = today - timedelta(days=today.weekday())
    owner = aliased(OrgUnit)
    fired = (
        select(Escalation.level, func.count())
        .join(Task, Task.id == Escalation.task_id)
        .where(Escalation.state == "fired", Escalation.at >= _start_of_day_utc(week_start))
    )
    fired = fired.where(Task.owner_unit_id.in_(select(owner.id).where(owner.path.like(f"{unit.path}%"))))
    escalations = dict(db.session.execute(fired.group_by(Escalation.level)).all())
    first_week = week_start - timedelta(weeks=weeks - 1)
    daily = None if live else daily_by(None, unit, today, since=first_week)
    if daily is None:
        daily = _daily_live(None, None, since=first_week, unit=unit)
    done = [(day, n) for _phase, day, _due, n in daily if n and day >= first_week]
    trend = []
    for i in range(weeks):
        start = first_week + timedelta(weeks=i)
        trend.append((start, sum(n for d, n in done if start <= d < start + timedelta(days=7))))
    return Leadership(
        plans=[
            (
                p,
                per_plan[p.id],
                [PhaseSummary(ph, per_phase.get(ph.id, Figures())) for ph in phases if ph.plan_id == p.id],
            )
            for p in plans
        ],
        behind=behind,
        escalations=escalations,
        trend=trend,
        total=total,
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
        select(
            section,
            func.min(func.coalesce(Task.start_on, Task.due_on)),
            func.max(Task.due_on),
            *figure_columns(Task, today),
        )
        .join(owner, owner.id == Task.owner_unit_id)
        .where(Task.plan_id == plan.id, work_item(), owner.path.like(f"{unit.path}%"))
        .group_by(section)
    ).all()
    spans = {row[0]: (row[1], row[2], _figures(row, 3)) for row in rows}
    sections = list(
        db.session.scalars(
            select(Task).where(Task.plan_id == plan.id, Task.parent_id.is_(None)).order_by(Task.position, Task.id)
        )
    )
    timeline_rows = [TimelineRow(s, *spans[s.id]) for s in sections if s.id in spans]
    phases = list(db.session.scalars(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position)))
    overdue = db.session.execute(
        select(section, Task)
        .join(owner, owner.id == Task.owner_unit_id)
        .options(contains_eager(Task.owner_unit.of_type(owner)))  # the chart names each item's owner
        .where(
            Task.plan_id == plan.id,
            owner.path.like(f"{unit.path}%"),
            Task.status.in_(OVERDUE_STATUSES),
            Task.due_on < today,
            work_item(),
        )
        .order_by(Task.due_on, Task.id)
        .limit(overdue_limit)
    ).all()
    dates = [d for r in timeline_rows for d in (r.first, r.last) if d] + [
        d for p in phases for d in (p.start_on, p.end_on) if d
    ]
    return Timeline(
        plan,
        unit,
        timeline_rows,
        phases,
        [(sid, task) for sid, task in overdue],
        min(dates) if dates else None,
        max(dates) if dates else None,
    )
