"""Deadline risk: will a unit finish a phase's work by the phase end, at its own recent pace?

For each unit (with its sub-units) and phase, from the work items of the phase:
- open: items not yet done; done recently: items accepted in the last `window` weeks;
- pace = done recently / window (items per week); weeks left until the phase end;
- projected = pace x weeks left. At risk when projected < open (or when the phase has ended
  with work open). The reason says it in plain words. No hidden model: a reader can redo it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Optional

from flask_babel import gettext as _
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan
from tracker.progress.summary import RECENT_DAYS, figures_by

WINDOW_WEEKS = RECENT_DAYS // 7
LOW, MEDIUM, HIGH = "low", "medium", "high"


@dataclass
class Risk:
    level: str  # low | medium | high
    items: int
    open: int
    done_recently: int
    weeks_left: float
    window: int = WINDOW_WEEKS

    @property
    def at_risk(self) -> bool:
        return self.level != LOW

    @property
    def reason(self) -> str:
        facts = _(
            "%(open)d of %(items)d tasks open, %(done)d done in the last %(weeks)d weeks, %(left)s weeks left",
            open=self.open,
            items=self.items,
            done=self.done_recently,
            weeks=self.window,
            left=_weeks(self.weeks_left),
        )
        return facts


def _weeks(value: float) -> str:
    return f"{max(value, 0):.0f}" if value >= 1 or value <= 0 else f"{value:.1f}"


def assess(items: int, open_items: int, done_recently: int, weeks_left: float, window: int = WINDOW_WEEKS) -> Risk:
    """The rule itself, on plain numbers (tested on hand-built histories)."""
    if open_items == 0:
        return Risk(LOW, items, open_items, done_recently, weeks_left, window)
    if weeks_left <= 0:
        return Risk(HIGH, items, open_items, done_recently, weeks_left, window)
    pace = done_recently / window
    projected = pace * weeks_left
    if projected >= open_items * 1.2:
        level = LOW
    elif projected >= open_items * 0.8:
        level = MEDIUM
    else:
        level = HIGH
    return Risk(level, items, open_items, done_recently, weeks_left, window)


def unit_phase_risks(
    plan: Plan, unit: OrgUnit, today: date, live: bool = False, cells: Optional[dict] = None
) -> dict[tuple[Optional[int], int], Risk]:
    """{(row unit id or None for `unit`'s own tasks, phase id): Risk} for the rows of the unit
    matrix, for every phase that has begun: one still running is at risk by its pace; one that
    has ended (however long ago) is at high risk while work of it is still open, and at none once
    all of it is done. Two statements, or one when the matrix by phases (`cells`, its figures)
    is at hand."""
    window = WINDOW_WEEKS  # = summary.RECENT_DAYS: "done recently" is counted over these weeks
    phases = {
        p.id: p
        for p in db.session.scalars(
            select(Phase).where(Phase.plan_id == plan.id, Phase.end_on.is_not(None), Phase.start_on <= today)
        )
    }
    if not phases:
        return {}
    from tracker.progress.service import _grouped

    risks = {}
    if cells is None:
        cells = _grouped(figures_by("children", unit, "phase", today, plan.id, live=live))
    for (row_id, phase_id), figures in cells.items():
        phase = phases.get(phase_id)
        if phase is None or not figures.items:
            continue
        recent = figures.done_recent
        weeks_left = (phase.end_on - today).days / 7
        risks[(row_id, phase_id)] = assess(figures.items, figures.open, recent, weeks_left, window)
    return risks


@dataclass
class RiskRow:
    plan: Plan
    phase: Phase
    unit: OrgUnit
    risk: Risk


def risks_at(unit: OrgUnit, plans: list[Plan], today: date, limit: int = 10) -> list[RiskRow]:
    """The units under `unit` most at risk of missing a phase end, over the given plans
    (one statement per plan with phases, plus one for the names)."""
    found = []
    for plan in plans:
        for (row_id, phase_id), risk in unit_phase_risks(plan, unit, today).items():
            if risk.at_risk and row_id is not None:
                found.append((plan, phase_id, row_id, risk))
    found.sort(key=lambda f: (f[3].level != HIGH, -f[3].open, f[2]))
    found = found[:limit]
    units = (
        {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_({f[2] for f in found})))}
        if found
        else {}
    )
    phases = (
        {p.id: p for p in db.session.scalars(select(Phase).where(Phase.id.in_({f[1] for f in found})))} if found else {}
    )
    return [RiskRow(plan, phases[phase_id], units[row_id], risk) for plan, phase_id, row_id, risk in found]
