"""签收 figures per unit: of the tasks given to a unit's subtree (assigned_at set), how many were
signed for, and the median time from assignment to signing. One grouped statement for all the
units directly under a unit (the ranking's and the leadership screen's rows)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median
from typing import Iterable, Optional

from sqlalchemy import and_, case, extract, func, select
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task


@dataclass
class SignFor:
    assigned: int = 0
    signed: int = 0
    median_hours: Optional[float] = None

    @property
    def rate(self) -> Optional[float]:
        """Signed for, in per cent of the tasks given (None: nothing given)."""
        return 100.0 * self.signed / self.assigned if self.assigned else None

    @property
    def median_text(self) -> str:
        """ "3.5 h" under two days, else "2.1 d"; "—" when nothing was signed."""
        if self.median_hours is None:
            return "—"
        if self.median_hours < 48:
            return f"{self.median_hours:.1f} h"
        return f"{self.median_hours / 24:.1f} d"


def sign_for_by_child(unit: OrgUnit, plan: Optional[Plan] = None, children: Optional[Iterable[int]] = None):
    """{child unit id: SignFor} for the units directly under `unit` (each with its subtree)."""
    owner, child = aliased(OrgUnit), aliased(OrgUnit)
    conditions = [Task.assigned_at.is_not(None), child.parent_id == unit.id]
    if plan is not None:
        conditions.append(Task.plan_id == plan.id)
    if children is not None:
        conditions.append(child.id.in_(list(children)))
    base = (
        select(child.id)
        .select_from(Task)
        .join(owner, owner.id == Task.owner_unit_id)
        .join(child, and_(owner.path.like(child.path + "%")))
        .where(*conditions)
    )
    signed = Task.signed_at.is_not(None)
    figures: dict[int, SignFor] = defaultdict(SignFor)
    if db.session.get_bind().dialect.name == "postgresql":
        hours = extract("epoch", Task.signed_at - Task.assigned_at) / 3600.0
        query = base.add_columns(
            func.count(),
            func.count(case((signed, 1))),
            func.percentile_cont(0.5).within_group(hours).filter(signed),
        ).group_by(child.id)
        for child_id, assigned, n_signed, middle in db.session.execute(query):
            figures[child_id] = SignFor(assigned, n_signed, float(middle) if middle is not None else None)
        return dict(figures)
    # SQLite (small sites): the durations come back and the median is taken here
    hours = (func.julianday(Task.signed_at) - func.julianday(Task.assigned_at)) * 24.0
    durations: dict[int, list[float]] = defaultdict(list)
    for child_id, duration in db.session.execute(base.add_columns(case((signed, hours)))):
        entry = figures[child_id]
        entry.assigned += 1
        if duration is not None:
            entry.signed += 1
            durations[child_id].append(float(duration))
    for child_id, values in durations.items():
        figures[child_id].median_hours = median(values)
    return dict(figures)
