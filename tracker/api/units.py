"""Units (the tree within the token user's reach) and progress figures: the matrix's numbers,
from the progress service (the maintained summary), for a plan by unit or a unit by plan."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import aliased

from tracker.api.core import not_found, operation
from tracker.api.plans import _cursor_value, decode_cursor, encode_cursor, me, unit_ref, _plan_or_404
from tracker.api.schemas import (
    Figures,
    PlanFigures,
    PlanProgress,
    ProgressColumn,
    ProgressQuery,
    ProgressRow,
    UnitDetail,
    UnitList,
    UnitOut,
    UnitProgress,
    UnitQuery,
)
from tracker.auth.scope import can_view_unit
from tracker.auth.service import root_unit, unit_by_code
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan
from tracker.progress import service as progress
from tracker.timeutil import local_today

CHILDREN_LIMIT = 500


def _depth(unit: OrgUnit) -> int:
    return max(0, len([p for p in unit.path.strip("/").split("/") if p]) - 1)


def unit_out(unit: OrgUnit, parent_code: Optional[str]) -> UnitOut:
    return UnitOut(
        code=unit.code, name=unit.name, kind=unit.kind, level=unit.level, parent=parent_code, depth=_depth(unit)
    )


def _reach() -> OrgUnit:
    user = me()
    return root_unit() if user.sees_everything else user.unit


def _unit_or_404(code: Optional[str]) -> OrgUnit:
    """The unit of this code within the token user's reach (404 otherwise); none: the user's own
    unit (the root for those who see everything), as the progress pages choose."""
    if not code:
        return _reach()
    unit = unit_by_code(code.strip())
    if unit is None or not can_view_unit(me(), unit):
        raise not_found("No such unit within this token's reach.")
    return unit


@operation(
    "/units",
    summary="The unit tree within reach",
    tag="units",
    query=UnitQuery,
    responses={200: UnitList, 404: (None, "The unit `under` is unknown, or outside the token user's reach.")},
)
def list_units(query: UnitQuery):
    """A unit and every unit under it, in tree order (each unit before the units under it), as a
    flat list naming each one's parent; paged by `cursor`. Default: the token user's reach."""
    top = _unit_or_404(query.under)
    parent = aliased(OrgUnit)
    statement = (
        select(OrgUnit, parent.code)
        .outerjoin(parent, parent.id == OrgUnit.parent_id)
        .where(OrgUnit.path.like(f"{top.path}%"))
    )
    cursor = decode_cursor(query.cursor)
    if cursor is not None:
        statement = statement.where(OrgUnit.path > _cursor_value(cursor, "p", str))
    rows = db.session.execute(statement.order_by(OrgUnit.path).limit(query.limit + 1)).all()
    following = encode_cursor({"p": rows[query.limit - 1][0].path}) if len(rows) > query.limit else None
    return UnitList(items=[unit_out(u, code) for u, code in rows[: query.limit]], next=following)


@operation(
    "/units/<code>", summary="One unit and the units directly under it", tag="units", responses={200: UnitDetail}
)
def get_unit(code: str):
    unit = _unit_or_404(code)
    children = db.session.scalars(
        select(OrgUnit)
        .where(OrgUnit.parent_id == unit.id)
        .order_by(OrgUnit.position, OrgUnit.code)
        .limit(CHILDREN_LIMIT)
    )
    return UnitDetail(
        **unit_out(unit, unit.parent.code if unit.parent else None).model_dump(),
        children=[unit_out(c, unit.code) for c in children],
    )


def figures_out(f: progress.Figures) -> Figures:
    return Figures(
        items=f.items,
        done=f.done,
        on_time=f.on_time,
        late=f.late,
        overdue=f.overdue,
        due_so_far=f.due_so_far,
        overdue_days=f.overdue_days,
        completion=f.completion,
        on_time_rate=f.on_time_rate,
    )


@operation(
    "/plans/<key>/progress",
    summary="A plan's progress by unit (the matrix)",
    tag="progress",
    query=ProgressQuery,
    responses={200: PlanProgress},
)
def plan_progress(key: str, query: ProgressQuery):
    """The numbers of the progress matrix (/progress/<plan>?unit=&by=): one row per unit directly
    under `unit` (its whole subtree) and one for the unit's own tasks, one column per top-level
    section or phase. Work items are leaf tasks that are not cancelled."""
    plan = _plan_or_404(key)
    unit = _unit_or_404(query.unit)
    today = local_today()
    m = progress.unit_matrix(plan, unit, query.by, today)
    phase_keys = dict(db.session.execute(select(Phase.id, Phase.key).where(Phase.plan_id == plan.id)).all())
    columns = [
        ProgressColumn(key=(c.ref if query.by == "sections" else phase_keys.get(c.key)), label=c.label)
        for c in m.columns
    ]

    def row(row_id, row_unit) -> ProgressRow:
        return ProgressRow(
            unit=unit_ref(row_unit),
            total=figures_out(m.row_totals.get(row_id, progress.Figures())),
            cells=[figures_out(m.cells[(row_id, c.key)]) if (row_id, c.key) in m.cells else None for c in m.columns],
        )

    rows = [row(u.id, u) for u in m.rows]
    if m.own_row:
        rows.append(row(None, None))
    return PlanProgress(
        plan=plan.key,
        unit=unit_ref(unit),
        by=query.by,
        as_of=today,
        columns=columns,
        rows=rows,
        total=figures_out(m.total),
    )


@operation("/units/<code>/progress", summary="A unit's progress by plan", tag="progress", responses={200: UnitProgress})
def unit_progress(code: str):
    """The work items of the unit's subtree per plan (the leadership screen's per-plan figures)."""
    unit = _unit_or_404(code)
    today = local_today()
    per_plan = progress.plan_figures(unit, today)
    plans = (
        list(
            db.session.scalars(
                select(Plan).where(Plan.id.in_(per_plan.keys())).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)
            )
        )
        if per_plan
        else []
    )
    total = progress.Figures()
    for figures in per_plan.values():
        total.add(figures)
    return UnitProgress(
        unit=unit_ref(unit),
        as_of=today,
        total=figures_out(total),
        plans=[PlanFigures(plan=p.key, title=p.title, figures=figures_out(per_plan[p.id])) for p in plans],
    )
