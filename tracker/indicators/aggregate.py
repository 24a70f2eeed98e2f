"""Aggregation of a period's forms up the unit tree.

For a unit, the table has one column per direct child unit with reporting units below it and a
total over the unit's whole subtree. Counts and amounts are summed; a derived rate is recomputed
from the summed numerator and denominator, never averaged. A rate typed as such, a text or an
enumerated item (病种1 …) cannot be summed: it is shown only where a column holds one form.
Only submitted and approved forms count (approved only, on request). Four SQL statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.indicators.service import layout_for
from tracker.indicators.validation import Field, Layout, meets_target, rate
from tracker.models import IndicatorForm, IndicatorValue, OrgUnit, ReportingPeriod
from tracker.models.indicators import APPROVED, SUBMITTED

SUMMED = ("count", "amount")


@dataclass
class Cell:
    value: Optional[float] = None
    text: str = ""
    meets: Optional[bool] = None
    summed: bool = True  # False: not aggregable here (several forms, a typed rate or a text)


@dataclass
class Row:
    field: Field
    cells: list[Cell]
    total: Cell


@dataclass
class AggregateTable:
    period: ReportingPeriod
    unit: OrgUnit
    columns: list[OrgUnit]
    forms: dict[int, int]  # column unit id (and the unit's own id for the total) -> forms counted
    layout: Layout
    rows: list[Row] = field(default_factory=list)
    approved_only: bool = False

    @property
    def total_forms(self) -> int:
        return self.forms.get(self.unit.id, 0)

    def rows_of(self, group) -> list[Row]:
        codes = {f.code for f in group.fields}
        return [r for r in self.rows if r.field.code in codes]


def aggregate(period: ReportingPeriod, unit: OrgUnit, approved_only: bool = False) -> AggregateTable:
    statuses = (APPROVED,) if approved_only else (SUBMITTED, APPROVED)
    reporter = aliased(OrgUnit)
    column = aliased(OrgUnit)
    scope = (
        select(column.id)
        .select_from(IndicatorForm)
        .join(reporter, reporter.id == IndicatorForm.unit_id)
        .join(column, reporter.path.like(column.path + "%"))
        .where(
            IndicatorForm.period_id == period.id,
            IndicatorForm.status.in_(statuses),
            reporter.path.like(f"{unit.path}%"),
            or_(column.parent_id == unit.id, column.id == unit.id),
        )
    )
    forms = dict(db.session.execute(scope.add_columns(func.count(IndicatorForm.id)).group_by(column.id)).all())
    sums: dict[tuple[int, int], tuple] = {}
    for column_id, definition_id, total, count, text, item in db.session.execute(
        scope.join(IndicatorValue, IndicatorValue.form_id == IndicatorForm.id)
        .add_columns(
            IndicatorValue.definition_id,
            func.sum(IndicatorValue.number),
            func.count(IndicatorValue.number),
            func.max(IndicatorValue.text),
            func.max(IndicatorValue.item),
        )
        .group_by(column.id, IndicatorValue.definition_id)
    ):
        sums[(column_id, definition_id)] = (total, count, text or "", item or "")
    child_ids = [i for i in forms if i != unit.id]
    columns = (
        sorted(db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(child_ids))), key=lambda u: (u.position, u.path))
        if child_ids
        else []
    )
    layout = layout_for(period)
    table = AggregateTable(period, unit, columns, forms, layout, approved_only=approved_only)
    for item in layout.fields:
        cells = [_cell(item, layout, sums, c.id, forms.get(c.id, 0)) for c in columns]
        table.rows.append(Row(item, cells, _cell(item, layout, sums, unit.id, forms.get(unit.id, 0))))
    return table


def _cell(item: Field, layout: Layout, sums: dict, column_id: int, forms: int) -> Cell:
    definition = item.definition
    if item.derived:
        numerator = _sum_of(layout, sums, column_id, definition.numerator_code)
        denominator = _sum_of(layout, sums, column_id, definition.denominator_code)
        value = rate(numerator, denominator)
        return Cell(value=value, meets=meets_target(definition, value))
    total, count, text, label = sums.get((column_id, definition.id), (None, 0, "", ""))
    if definition.type in SUMMED and not item.enumerated:
        value = float(total) if count else None
        return Cell(value=value, meets=meets_target(definition, value))
    if forms == 1:  # one form: its own value, nothing averaged
        value = float(total) if count else None
        return Cell(
            value=value, text=text if definition.type == "text" else label, meets=meets_target(definition, value)
        )
    return Cell(summed=False)


def _sum_of(layout: Layout, sums: dict, column_id: int, code: Optional[str]) -> Optional[float]:
    item = layout.by_code.get(code or "")
    if item is None:
        return None
    total, count, _, _ = sums.get((column_id, item.definition.id), (None, 0, "", ""))
    return float(total) if count else None
