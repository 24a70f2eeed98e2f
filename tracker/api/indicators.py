"""Indicator forms: read one (its fields and values), submit values with the form's own rules
(tracker/indicators/validation.py): a refused save answers 422 naming every field's error."""

from __future__ import annotations

from tracker.api.core import ApiError, forbidden, not_found, operation
from tracker.api.plans import me, unit_ref
from tracker.api.schemas import (
    FieldError,
    IndicatorField,
    IndicatorFormDetail,
    IndicatorFormList,
    IndicatorFormQuery,
    IndicatorFormSummary,
    IndicatorValues,
    ReportingPeriodOut,
)
from tracker.extensions import db
from tracker.indicators import service
from tracker.indicators.validation import item_name, value_name
from tracker.models import IndicatorForm
from tracker.plans.operations import NotAllowed


def form_summary(form: IndicatorForm) -> dict:
    p = form.period
    return dict(
        id=form.id,
        plan=p.plan.key,
        unit=unit_ref(form.unit),
        status=form.status,
        task=form.task_id,
        submitted_at=form.submitted_at,
        period=ReportingPeriodOut(
            id=p.id, kind=p.kind, year=p.year, number=p.number, start=p.start_on, end=p.end_on, due=p.due_on
        ),
    )


def _form_or_404(form_id: int) -> IndicatorForm:
    form = service.get_form(form_id)
    if form is None or not service.can_view_form(me(), form):
        raise not_found("No such form, or not visible to this token.")
    return form


def form_detail(form: IndicatorForm) -> IndicatorFormDetail:
    layout = service.layout_for(form.period)
    values = service.with_rates(layout, service.form_values(form))
    fields = []
    for item in layout.fields:
        d = item.definition
        value = values.texts.get(item.code) if item.type == "text" else values.numbers.get(item.code)
        fields.append(
            IndicatorField(
                code=item.code,
                name=d.name,
                unit=d.unit or "",
                type=item.type,
                group=d.group or "",
                parent=item.parent.code if item.parent else None,
                required=item.required,
                derived=item.derived,
                has_item=item.has_item,
                classification=item.classification or "",
                value=value if value != "" else None,
                item=values.items.get(item.code) or None,
            )
        )
    return IndicatorFormDetail(
        **form_summary(form),
        editable=service.can_edit_form(me(), form),
        return_reason=form.return_reason or "",
        fields=fields,
    )


@operation(
    "/indicator-forms",
    summary="My indicator forms",
    tag="indicator forms",
    query=IndicatorFormQuery,
    responses={200: IndicatorFormList},
)
def list_forms(query: IndicatorFormQuery):
    """The forms of the token user's unit, and those awaiting their review; latest period first."""
    return IndicatorFormList(
        items=[IndicatorFormSummary(**form_summary(f)) for f in service.my_forms(me(), query.limit)]
    )


@operation(
    "/indicator-forms/<int:form_id>",
    summary="One indicator form with its fields and values",
    tag="indicator forms",
    responses={200: IndicatorFormDetail},
)
def get_form(form_id: int):
    return form_detail(_form_or_404(form_id))


@operation(
    "/indicator-forms/<int:form_id>/values",
    "POST",
    summary="Save (or submit) values",
    tag="indicator forms",
    body=IndicatorValues,
    responses={200: IndicatorFormDetail, 403: None, 409: (None, "The form is submitted or approved: locked.")},
)
def save_form_values(form_id: int, body: IndicatorValues):
    """Values not named keep their stored value; null clears one. Checked with the form's rules
    (numbers only; a count a whole number ≥ 0, a percentage 0-100; a 其中 row at most its total;
    per-disease rows a valid code; with `submit`, every required field): any error answers 422
    naming every field's error, and nothing is written."""
    user = me()
    form = _form_or_404(form_id)
    layout = service.layout_for(form.period)
    unknown = [
        code
        for code in list(body.values) + list(body.items)
        if code not in layout.by_code or layout.by_code[code].derived
    ]
    if unknown:
        raise ApiError(
            422,
            "invalid",
            "Unknown (or derived) indicator codes.",
            [FieldError(field=code, message="not a field of this form to fill in") for code in sorted(set(unknown))],
        )
    raw = service.as_raw(service.form_values(form))
    raw.update({value_name(code): value for code, value in body.values.items()})
    raw.update({item_name(code): value for code, value in body.items.items()})
    try:
        service.save_form(form, user, raw, submit=body.submit)
        db.session.commit()
    except NotAllowed as exc:
        db.session.rollback()
        raise forbidden(str(exc)) from None
    except service.FormLocked as exc:
        db.session.rollback()
        raise ApiError(409, "locked", str(exc)) from None
    except service.FormInvalid as exc:
        db.session.rollback()
        raise ApiError(
            422, "invalid", str(exc), [FieldError(field=code, message=message) for code, message in exc.errors.items()]
        ) from None
    except service.IndicatorError as exc:
        db.session.rollback()
        raise ApiError(422, "refused", str(exc)) from None
    return form_detail(_form_or_404(form_id))
