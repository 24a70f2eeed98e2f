"""Indicator reporting: periods, forms per unit, saving, submission and approval, completeness.

Each expected form is carried by a Task of the plan (origin "indicator_form", owned by the
reporting unit, due on the period's due date) under one grouping task per period. Saving,
submitting, approving and returning the form move that task through the task status machine
(tracker.plans.operations.change_status), so the task journal records it, "my work" lists it and
the escalation engine escalates an overdue form like any other task.

Services take plain arguments, check permission, flush, and leave the commit to the caller.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Mapping, Optional

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import aliased, joinedload

from tracker.auth.scope import can_change_task, can_view_task, visible_clause_for, visible_tasks_clause
from tracker.extensions import db
from tracker.indicators.validation import FormValues, Layout, build_layout, check_form, format_number
from tracker.models import (
    IndicatorDefinition,
    IndicatorForm,
    IndicatorValue,
    OrgUnit,
    Plan,
    ReportingPeriod,
    Task,
    User,
)
from tracker.models.indicators import (
    APPROVED,
    DRAFT,
    PERIOD_KINDS,
    PERIODS_PER_YEAR,
    RETURNED,
    SUBMITTED,
)
from tracker.models.org import UNIT_KINDS, UNIT_LEVELS
from tracker.pagination import Page
from tracker.pagination import paginate as paginate_rows
from tracker.plans import journal
from tracker.models.notify import ASSIGNED
from tracker.notifications.notices import notify_each
from tracker.plans.operations import NotAllowed, change_status
from tracker.plans.status import ACCEPTED, IN_PROGRESS, NOT_STARTED
from tracker.plans.status import RETURNED as TASK_RETURNED
from tracker.plans.status import SUBMITTED as TASK_SUBMITTED
from tracker.plans.status import TransitionError
from tracker.timeutil import local_today, local_zone

ORIGIN = "indicator_form"


class IndicatorError(ValueError):
    """Refused input; the message is for the user."""


class FormLocked(IndicatorError):
    """The form is submitted or approved: its values cannot change."""


class FormInvalid(IndicatorError):
    """Values that break a rule; `errors` maps a field code (or 'item:CODE') to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(_("The form has %(n)d errors; nothing was saved.", n=len(errors)))


# --- definitions and periods -----------------------------------------------------------------


def definitions_of(plan_id: int, level: Optional[str] = None) -> list[IndicatorDefinition]:
    """A plan's definitions in form order; with `level`, those that units of that level report."""
    rows = list(
        db.session.scalars(
            select(IndicatorDefinition)
            .where(IndicatorDefinition.plan_id == plan_id)
            .order_by(IndicatorDefinition.position, IndicatorDefinition.id)
        )
    )
    if level is None:
        return rows
    return [d for d in rows if not d.levels or level in d.levels]


def layout_for(period: ReportingPeriod) -> Layout:
    return build_layout(definitions_of(period.plan_id, period.level))


def reporting_levels(plan_id: int) -> list[str]:
    levels = {level for d in definitions_of(plan_id) for level in (d.levels or [])}
    return [level for level in UNIT_LEVELS if level in levels]


@dataclass
class IndicatorPlan:
    plan: Plan
    definitions: int
    periods: list[ReportingPeriod]


def indicator_plans(user: User) -> list[IndicatorPlan]:
    """Plans that define indicators, with the periods `user` may see (two statements)."""
    counts = dict(
        db.session.execute(
            select(IndicatorDefinition.plan_id, func.count()).group_by(IndicatorDefinition.plan_id)
        ).all()
    )
    if not counts:
        return []
    plans = list(
        db.session.scalars(
            select(Plan).where(Plan.id.in_(counts)).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)
        )
    )
    periods: dict[int, list[ReportingPeriod]] = {}
    for period in db.session.scalars(
        select(ReportingPeriod)
        .where(ReportingPeriod.plan_id.in_(counts), visible_periods_clause(user))
        .options(joinedload(ReportingPeriod.under_unit))
        .order_by(ReportingPeriod.year.desc(), ReportingPeriod.start_on.desc(), ReportingPeriod.level)
    ):
        periods.setdefault(period.plan_id, []).append(period)
    return [IndicatorPlan(p, counts[p.id], periods.get(p.id, [])) for p in plans]


def period_bounds(kind: str, year: int, number: int) -> tuple[date, date]:
    """The first and last day of a period."""
    if kind not in PERIOD_KINDS:
        raise IndicatorError(_("Unknown period type."))
    if not 1 <= number <= PERIODS_PER_YEAR[kind]:
        raise IndicatorError(_("A %(kind)s has no number %(n)d.", kind=PERIOD_KIND_LABELS[kind], n=number))
    months = 12 // PERIODS_PER_YEAR[kind]
    first_month = (number - 1) * months + 1
    last_month = first_month + months - 1
    return date(year, first_month, 1), date(year, last_month, monthrange(year, last_month)[1])


PERIOD_KIND_LABELS = {
    "year": _l("year"),
    "half": _l("half-year"),
    "quarter": _l("quarter"),
    "month": _l("month"),
}


def period_label(kind: str, year: int, number: int) -> str:
    if kind == "year":
        return _("%(year)d", year=year)
    if kind == "half":
        return _("%(year)d first half", year=year) if number == 1 else _("%(year)d second half", year=year)
    if kind == "quarter":
        return _("%(year)d Q%(n)d", year=year, n=number)
    return _("%(year)d-%(month)02d", year=year, month=number)


def reporting_units(level: str, under: OrgUnit, unit_kind: Optional[str] = None) -> list[OrgUnit]:
    query = select(OrgUnit).where(OrgUnit.level == level, OrgUnit.path.like(f"{under.path}%"))
    if unit_kind:
        query = query.where(OrgUnit.kind == unit_kind)
    return list(db.session.scalars(query.order_by(OrgUnit.path)))


def may_open_periods(user: User) -> bool:
    return user.role in ("admin", "coordinator")


def open_period(
    plan: Plan,
    user: User,
    kind: str,
    year: int,
    number: int,
    due_on: date,
    level: str,
    under: OrgUnit,
    unit_kind: Optional[str] = None,
) -> ReportingPeriod:
    """Open a reporting round: one form (and one task) for each unit of `level` under `under`."""
    if not may_open_periods(user):
        raise NotAllowed(_l("Only a coordinator opens a reporting period."))
    if user.role != "admin" and not under.is_within(user.unit):
        raise NotAllowed(_l("You may open periods only for your unit and the units under it."))
    if not 2000 <= year <= 2100:
        raise IndicatorError(_("The year must be between 2000 and 2100."))
    start_on, end_on = period_bounds(kind, year, number)
    if level not in reporting_levels(plan.id):
        raise IndicatorError(_("No indicator of this plan is reported at this level."))
    if unit_kind and unit_kind not in UNIT_KINDS:
        raise IndicatorError(_("Unknown unit kind."))
    if due_on < start_on:
        raise IndicatorError(_("The due date is before the period starts."))
    duplicate = db.session.scalar(
        select(ReportingPeriod.id).where(
            ReportingPeriod.plan_id == plan.id,
            ReportingPeriod.kind == kind,
            ReportingPeriod.year == year,
            ReportingPeriod.number == number,
            ReportingPeriod.level == level,
        )
    )
    if duplicate:
        raise IndicatorError(_("This period is already open for this level."))
    units = reporting_units(level, under, unit_kind)
    if not units:
        raise IndicatorError(_("No unit of this level lies under %(unit)s.", unit=under.name))

    period = ReportingPeriod(
        plan=plan,
        kind=kind,
        year=year,
        number=number,
        start_on=start_on,
        end_on=end_on,
        due_on=due_on,
        level=level,
        unit_kind=unit_kind,
        under_unit=under,
        created_by_id=user.id,
    )
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        label = period_label(kind, year, number)
        group_title = _("Indicator reporting, %(period)s", period=label)
        deliverable = _("Indicator form, %(period)s", period=label)
    position = db.session.scalar(
        select(func.coalesce(func.max(Task.position), -1) + 1).where(Task.plan_id == plan.id, Task.parent_id.is_(None))
    )
    ref = f"IND-{period.key}-{level}"
    # The grouping task has no due date of its own: its forms carry it (a heading never escalates
    # nor shows as overdue work of the unit that opened the period).
    group = Task(
        plan=plan,
        ref=ref,
        title=group_title,
        owner_unit=under,
        start_on=start_on,
        deliverable=deliverable,
        origin=ORIGIN,
        position=position,
        depth=0,
        status=NOT_STARTED,
    )
    db.session.add(group)
    period.task = group
    db.session.add(period)
    db.session.flush()
    group.path = f"/{group.id}/"
    journal.record(group, user, "create", comment=ORIGIN)
    tasks = []
    for index, unit in enumerate(units):
        task = Task(
            plan=plan,
            parent=group,
            ref=f"{ref}@{unit.code}",
            title=f"{group_title} · {unit.name}",
            owner_unit=unit,
            start_on=start_on,
            due_on=due_on,
            deliverable=deliverable,
            origin=ORIGIN,
            position=index,
            depth=1,
            status=NOT_STARTED,
        )
        db.session.add(task)
        tasks.append(task)
        db.session.add(IndicatorForm(period=period, unit=unit, task=task, status=DRAFT))
        journal.record(task, user, "create", comment=ORIGIN)
    db.session.flush()
    for task in tasks:
        task.path = f"{group.path}{task.id}/"
    db.session.flush()
    notify_each(ASSIGNED, [task.id for task in tasks], user)  # each unit's coordinators: a form to fill
    return period


# --- forms -------------------------------------------------------------------------------------


def get_form(form_id: int) -> Optional[IndicatorForm]:
    return db.session.scalar(
        select(IndicatorForm)
        .where(IndicatorForm.id == form_id)
        .options(
            joinedload(IndicatorForm.unit),
            joinedload(IndicatorForm.task).joinedload(Task.owner_unit),
            joinedload(IndicatorForm.period).joinedload(ReportingPeriod.plan),
        )
    )


def can_view_form(user: User, form: IndicatorForm) -> bool:
    return can_view_task(user, form.task)


def can_edit_form(user: User, form: IndicatorForm) -> bool:
    return form.editable and can_change_task(user, form.task)


def can_review_form(user: User, form: IndicatorForm) -> bool:
    """A coordinator of a unit strictly above the reporting unit (or an admin) reviews."""
    if form.status != SUBMITTED:
        return False
    if user.role == "admin":
        return True
    return user.role == "coordinator" and form.unit.is_within(user.unit) and form.unit_id != user.unit_id


def form_values(form: IndicatorForm) -> FormValues:
    """The stored values of a form, keyed by code (one statement), with derived rates."""
    result = FormValues()
    rows = db.session.execute(
        select(
            IndicatorDefinition.code,
            IndicatorDefinition.type,
            IndicatorValue.number,
            IndicatorValue.text,
            IndicatorValue.item,
        )
        .join(IndicatorDefinition, IndicatorDefinition.id == IndicatorValue.definition_id)
        .where(IndicatorValue.form_id == form.id)
    ).all()
    for code, type_, number, text, item in rows:
        if type_ == "text":
            result.texts[code] = text
        else:
            result.numbers[code] = number
        if item:
            result.items[code] = item
    return result


def as_raw(values: FormValues) -> dict[str, str]:
    """Stored values in the shape of submitted form data (v-CODE, i-CODE)."""
    raw = {f"v-{code}": format_number(number) for code, number in values.numbers.items()}
    raw.update({f"v-{code}": text for code, text in values.texts.items()})
    raw.update({f"i-{code}": item for code, item in values.items.items()})
    return raw


def with_rates(layout: Layout, values: FormValues) -> FormValues:
    """`values` with the derived rates computed (for display of stored forms)."""
    checked = check_form(layout, as_raw(values))
    checked.errors = {}
    return checked


def _store_values(form: IndicatorForm, layout: Layout, values: FormValues, user: User) -> int:
    """Upsert the form's values; journal each change on the form's task. Returns the number changed."""
    existing = {
        v.definition_id: v for v in db.session.scalars(select(IndicatorValue).where(IndicatorValue.form_id == form.id))
    }
    changed = 0
    for item in layout.fields:
        if item.derived:
            continue
        definition = item.definition
        number = values.numbers.get(item.code) if item.type != "text" else None
        text = values.texts.get(item.code, "") if item.type == "text" else ""
        label = values.items.get(item.code, "")
        row = existing.get(definition.id)
        old = (row.number, row.text, row.item) if row else (None, "", "")
        if old == (number, text, label):
            continue
        if row is None:
            row = IndicatorValue(form=form, definition_id=definition.id)
            db.session.add(row)
        row.number, row.text, row.item = number, text, label
        journal.record(
            form.task, user, "indicator_value", item.code, _value_text(*old), _value_text(number, text, label)
        )
        changed += 1
    return changed


def _value_text(number, text, item) -> Optional[str]:
    shown = text or format_number(number)
    if item:
        shown = f"{item}: {shown}"
    return shown or None


def _start_task(form: IndicatorForm, user: User) -> None:
    task = form.task
    if task.status in (NOT_STARTED, TASK_RETURNED):
        change_status(task, user, IN_PROGRESS)


def check_may_edit(form: IndicatorForm, user: User) -> None:
    if not can_view_form(user, form):
        raise NotAllowed(_l("You may not see this form."))
    if not can_change_task(user, form.task):
        raise NotAllowed(_l("You are not allowed to fill in this form."))
    if not form.editable:
        raise FormLocked(_("This form is %(status)s; its values are locked.", status=FORM_STATUS_LABELS[form.status]))


def save_form(
    form: IndicatorForm, user: User, raw: Mapping[str, object], submit: bool = False, now: Optional[datetime] = None
) -> FormValues:
    """Save the values as a draft, or (with `submit`) save them and submit the form for review.

    Any rule broken raises FormInvalid and nothing is written.
    """
    check_may_edit(form, user)
    layout = layout_for(form.period)
    values = check_form(layout, raw, complete=submit)
    if values.errors:
        raise FormInvalid(values.errors)
    try:
        _start_task(form, user)
        _store_values(form, layout, values, user)
        if submit:
            change_status(form.task, user, TASK_SUBMITTED)
            now = now or datetime.now(timezone.utc)
            form.status = SUBMITTED
            form.submitted_at = now
            form.first_submitted_at = form.first_submitted_at or now
            form.submitted_by_id = user.id
    except TransitionError as exc:
        raise IndicatorError(str(exc)) from exc
    form.updated_at = now or datetime.now(timezone.utc)
    db.session.flush()
    return values


def approve_form(form: IndicatorForm, user: User, now: Optional[datetime] = None) -> None:
    """The parent unit approves: the form's task is accepted and its values are locked."""
    _review(form, user, ACCEPTED, "", now)
    form.status = APPROVED


def return_form(form: IndicatorForm, user: User, reason: str, now: Optional[datetime] = None) -> None:
    """The parent unit returns the form with a reason: it is editable again."""
    reason = (reason or "").strip()
    if not reason:
        raise IndicatorError(_("A reason is required."))
    if len(reason) > 2000:
        raise IndicatorError(_("At most %(n)d characters.", n=2000))
    _review(form, user, TASK_RETURNED, reason, now)
    form.status = RETURNED
    form.return_reason = reason


def _review(form: IndicatorForm, user: User, target: str, reason: str, now: Optional[datetime]) -> None:
    if not can_view_form(user, form):
        raise NotAllowed(_l("You may not see this form."))
    if form.status != SUBMITTED:
        raise IndicatorError(_("Only a submitted form can be approved or returned."))
    if not can_review_form(user, form):
        raise NotAllowed(_l("Only a coordinator of a unit above the reporting unit reviews its form."))
    try:
        change_status(form.task, user, target, reason)
    except TransitionError as exc:
        raise IndicatorError(str(exc)) from exc
    form.reviewed_at = now or datetime.now(timezone.utc)
    form.reviewed_by_id = user.id
    form.updated_at = form.reviewed_at
    db.session.flush()


FORM_STATUS_LABELS = {
    DRAFT: _l("draft"),
    SUBMITTED: _l("submitted"),
    RETURNED: _l("returned"),
    APPROVED: _l("approved"),
}


# --- lists -------------------------------------------------------------------------------------


def visible_forms(user: User):
    """A SELECT of the forms `user` may see (those of the tasks they may see)."""
    return select(IndicatorForm).where(visible_clause_for(user, IndicatorForm.task_id, IndicatorForm.unit_id))


def forms_of_period(
    period: ReportingPeriod, user: User, page: int = 1, per_page: int = 50, status: Optional[str] = None
) -> Page:
    """One page of the period's forms the user sees (two statements)."""
    query = visible_forms(user).where(IndicatorForm.period_id == period.id)
    if status:
        query = query.where(IndicatorForm.status == status)
    return paginate_rows(
        query.join(OrgUnit, OrgUnit.id == IndicatorForm.unit_id).options(
            joinedload(IndicatorForm.unit), joinedload(IndicatorForm.task)
        ),
        page,
        per_page,
        OrgUnit.path,
        IndicatorForm.id,
    )


def my_forms(user: User, limit: int = 50) -> list[IndicatorForm]:
    """Forms of the user's own unit, and the forms awaiting their review (one statement)."""
    clauses = [IndicatorForm.unit_id == user.unit_id]
    if user.role == "admin":
        clauses.append(IndicatorForm.status == SUBMITTED)
    elif user.role == "coordinator":
        below = select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"), OrgUnit.id != user.unit_id)
        clauses.append(and_(IndicatorForm.status == SUBMITTED, IndicatorForm.unit_id.in_(below)))
    return list(
        db.session.scalars(
            select(IndicatorForm)
            .where(or_(*clauses))
            .join(ReportingPeriod, ReportingPeriod.id == IndicatorForm.period_id)
            .options(
                joinedload(IndicatorForm.unit),
                joinedload(IndicatorForm.task),
                joinedload(IndicatorForm.period).joinedload(ReportingPeriod.plan),
            )
            .order_by(ReportingPeriod.due_on.desc(), IndicatorForm.id)
            .limit(limit)
        )
    )


# --- completeness and timeliness -----------------------------------------------------------------


@dataclass
class Completeness:
    unit: OrgUnit
    expected: int = 0
    submitted: int = 0
    on_time: int = 0
    approved: int = 0
    overdue: int = 0

    def percent(self, count: int) -> float:
        return round(count * 100.0 / self.expected, 1) if self.expected else 0.0

    @property
    def completeness(self) -> float:
        return self.percent(self.submitted)

    @property
    def timeliness(self) -> float:
        return self.percent(self.on_time)


@dataclass
class CompletenessTable:
    unit: OrgUnit
    total: Completeness
    rows: list[Completeness] = field(default_factory=list)


def completeness(period: ReportingPeriod, unit: OrgUnit, today: Optional[date] = None) -> CompletenessTable:
    """Expected, submitted, on time, approved and overdue forms of the period under `unit`,
    by the unit's direct children that have forms below them (and the unit itself when it
    reports). Submitted counts forms submitted or approved; on time, those whose first
    submission fell on or before the due date (Asia/Shanghai). One statement for the figures."""
    today = today or local_today()
    reporter = aliased(OrgUnit)
    column = aliased(OrgUnit)
    deadline = datetime.combine(period.due_on, datetime.max.time(), tzinfo=local_zone()).astimezone(timezone.utc)
    is_submitted = IndicatorForm.status.in_((SUBMITTED, APPROVED))
    on_time = and_(is_submitted, IndicatorForm.first_submitted_at <= deadline)
    past_due = period.due_on < today
    overdue = IndicatorForm.status.in_((DRAFT, RETURNED)) if past_due else IndicatorForm.id.is_(None)
    rows = db.session.execute(
        select(
            column.id,
            func.count(IndicatorForm.id),
            func.sum(case((is_submitted, 1), else_=0)),
            func.sum(case((on_time, 1), else_=0)),
            func.sum(case((IndicatorForm.status == APPROVED, 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .select_from(IndicatorForm)
        .join(reporter, reporter.id == IndicatorForm.unit_id)
        .join(column, reporter.path.like(column.path + "%"))
        .where(
            IndicatorForm.period_id == period.id,
            or_(column.parent_id == unit.id, column.id == unit.id),
            reporter.path.like(f"{unit.path}%"),
        )
        .group_by(column.id)
    ).all()
    figures = {row[0]: [int(x or 0) for x in row[1:]] for row in rows}
    units = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(figures)))} if figures else {}
    table = CompletenessTable(unit=unit, total=Completeness(unit, *figures.get(unit.id, [0] * 5)))
    # A column for the unit itself counts its whole subtree (the total); its own form is a row only
    # when it reports itself.
    own = db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit.id)
    )
    children = sorted((units[i] for i in figures if i != unit.id), key=lambda u: (u.position, u.path))
    if own is not None:
        table.rows.append(
            Completeness(
                unit,
                1,
                int(own.status in (SUBMITTED, APPROVED)),
                int(
                    own.status in (SUBMITTED, APPROVED)
                    and own.first_submitted_at is not None
                    and own.first_submitted_at <= deadline
                ),
                int(own.status == APPROVED),
                int(own.status in (DRAFT, RETURNED) and past_due),
            )
        )
    table.rows.extend(Completeness(u, *figures[u.id]) for u in children)
    return table


def form_count(period: ReportingPeriod) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(IndicatorForm).where(IndicatorForm.period_id == period.id))
        or 0
    )


def visible_periods_clause(user: User) -> ColumnElement[bool]:
    """Periods are scoped like tasks: a user sees a period when they see one of its tasks, the
    grouping task (owned by the unit it was opened under) or a form's task (owned by the
    reporting unit). Leaders and admins see every period; anyone else outside it does not learn
    that it exists (its plan, unit and dates)."""
    if user.sees_everything:
        return true()
    group_seen = exists().where(Task.id == ReportingPeriod.task_id, visible_tasks_clause(user))
    form_seen = exists().where(
        IndicatorForm.period_id == ReportingPeriod.id,
        visible_clause_for(user, IndicatorForm.task_id, IndicatorForm.unit_id),
    )
    return group_seen | form_seen


def visible_period(user: User, period_id: int) -> Optional[ReportingPeriod]:
    """The period with its plan and unit, or None when it does not exist or `user` may not see it."""
    return db.session.scalar(
        select(ReportingPeriod)
        .where(ReportingPeriod.id == period_id, visible_periods_clause(user))
        .options(joinedload(ReportingPeriod.plan), joinedload(ReportingPeriod.under_unit))
    )


def periods_of_plan(user: User, plan_id: int) -> list[ReportingPeriod]:
    """The plan's periods that `user` may see, the latest first (one statement)."""
    return list(
        db.session.scalars(
            select(ReportingPeriod)
            .where(ReportingPeriod.plan_id == plan_id, visible_periods_clause(user))
            .order_by(ReportingPeriod.year.desc(), ReportingPeriod.start_on.desc())
        )
    )


def scope_unit_for(user: User, period: ReportingPeriod, code: Optional[str] = None) -> OrgUnit:
    """The unit whose subtree a completeness or aggregate view covers: the one asked for when the
    user may see it, else the user's own unit, or the period's unit for those who see all."""
    default = period.under_unit if user.sees_everything or period.under_unit.is_within(user.unit) else user.unit
    if code:
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        if unit is not None and (user.sees_everything or unit.is_within(user.unit)):
            return unit
    return default
