"""Indicator pages: plans and periods, completeness, the aggregate table, the unit's form with
inline validation, approval, and Excel export and import. Thin: parse, check, call a service,
commit, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.extensions import db
from tracker.indicators import excel, service
from tracker.indicators.aggregate import aggregate
from tracker.indicators.forms import ActionForm, ImportForm, PeriodForm, ReturnForm
from tracker.indicators.service import FormInvalid, IndicatorError, period_label
from tracker.indicators.validation import check_form, format_number, meets_target, target_text
from tracker.models import OrgUnit, ReportingPeriod
from tracker.plans.labels import LEVEL_LABELS
from tracker.plans.operations import NotAllowed
from tracker.plans.service import get_plan
from tracker.web import fragment_response, page_number, page_size, render

bp = Blueprint("indicators", __name__, url_prefix="/indicators")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_template_global()
def indicator_period_label(period: ReportingPeriod) -> str:
    return period_label(period.kind, period.year, period.number)


@bp.app_template_filter("indicator_number")
def indicator_number(value) -> str:
    return format_number(value)


INDICATOR_TYPE_LABELS = {
    "count": _l("count"),
    "amount": _l("amount"),
    "percent": _l("percentage"),
    "text": _l("text"),
}
FORM_STATUS_BADGES = {
    "draft": "text-bg-secondary",
    "submitted": "text-bg-primary",
    "returned": "text-bg-warning",
    "approved": "text-bg-success",
}
UNIT_LEVEL_LABELS = dict(LEVEL_LABELS, institution=_l("institution"))


@bp.app_context_processor
def indicator_labels() -> dict:
    return {
        "indicator_type_labels": INDICATOR_TYPE_LABELS,
        "unit_level_labels": UNIT_LEVEL_LABELS,
        "form_status_badges": FORM_STATUS_BADGES,
    }


# --- plans and periods ---------------------------------------------------------------------------


@bp.route("")
@login_required
def index():
    return render(
        "indicators/index.html",
        plans=service.indicator_plans(current_user),
        forms=service.my_forms(current_user),
        status_labels_form=service.FORM_STATUS_LABELS,
    )


def _plan_context(plan, period_form: PeriodForm | None = None) -> dict:
    definitions = service.definitions_of(plan.id)
    levels = service.reporting_levels(plan.id)
    if period_form is None and service.may_open_periods(current_user):
        period_form = PeriodForm(formdata=None, levels=levels, under=current_user.unit.code)
    periods = service.periods_of_plan(current_user, plan.id)
    return {
        "plan": plan,
        "layout": service.build_layout(definitions),
        "periods": periods,
        "period_form": period_form,
        "target_text": target_text,
    }


@bp.route("/plans/<key>", methods=["GET", "POST"])
@login_required
def plan_page(key: str):
    plan = get_plan(key)
    if plan is None:
        abort(404)
    if request.method == "GET":
        return render("indicators/plan.html", **_plan_context(plan))
    if not service.may_open_periods(current_user):
        abort(403)
    form = PeriodForm(levels=service.reporting_levels(plan.id))
    error = None
    if form.validate():
        under = db.session.scalar(select(OrgUnit).where(OrgUnit.code == form.under.data.strip()))
        if under is None:
            form.under.errors.append(_("Unknown unit code."))
        else:
            try:
                period = service.open_period(
                    plan,
                    current_user,
                    form.kind.data,
                    form.year.data,
                    form.number.data,
                    form.due_on.data,
                    form.level.data,
                    under,
                    form.unit_kind.data or None,
                )
                db.session.commit()
            except NotAllowed as exc:
                db.session.rollback()
                error = str(exc)
            except IndicatorError as exc:
                db.session.rollback()
                error = str(exc)
            else:
                flash(_("Period opened: %(n)d forms.", n=service.form_count(period)), "success")
                return redirect(url_for("indicators.period_page", period_id=period.id), code=303)
    context = _plan_context(plan, form)
    return render("indicators/plan.html", status=400, error=error, **context)


def _period_or_404(period_id: int) -> ReportingPeriod:
    """The period, if the current user may see it (scoped like tasks); else 404."""
    period = service.visible_period(current_user, period_id)
    if period is None:
        abort(404)
    return period


@bp.route("/periods/<int:period_id>")
@login_required
def period_page(period_id: int):
    period = _period_or_404(period_id)
    scope = service.scope_unit_for(current_user, period, request.args.get("unit"))
    table = service.completeness(period, scope)
    status = request.args.get("status") or None
    if status not in service.FORM_STATUS_LABELS:
        status = None
    page = service.forms_of_period(period, current_user, page_number(), page_size(), status)
    block = "forms" if request.headers.get("HX-Target") == "forms" else "content"
    return render(
        "indicators/period.html",
        block=block,
        period=period,
        table=table,
        page=page,
        status=status,
        form_status_labels=service.FORM_STATUS_LABELS,
    )


def _aggregate_for(period: ReportingPeriod):
    scope = service.scope_unit_for(current_user, period, request.args.get("unit"))
    return aggregate(period, scope, approved_only=request.args.get("approved") == "1")


@bp.route("/periods/<int:period_id>/aggregate")
@login_required
def aggregate_page(period_id: int):
    period = _period_or_404(period_id)
    return render("indicators/aggregate.html", period=period, table=_aggregate_for(period), target_text=target_text)


@bp.route("/periods/<int:period_id>/aggregate.xlsx")
@login_required
def aggregate_export(period_id: int):
    period = _period_or_404(period_id)
    table = _aggregate_for(period)
    handle = excel.export_aggregate(table, indicator_period_label(period))
    name = f"{period.plan.key}-{period.key}-{period.level}-{table.unit.code}-aggregate.xlsx"
    return send_file(handle, mimetype=XLSX, as_attachment=True, download_name=name)


# --- the form ------------------------------------------------------------------------------------


def _form_or_404(form_id: int):
    form = service.get_form(form_id)
    if form is None or not service.can_view_form(current_user, form):
        abort(404)
    return form


def _form_context(form, values=None, errors=None, raw=None, import_problems=None, return_form=None) -> dict:
    layout = service.layout_for(form.period)
    if values is None:
        values = service.with_rates(layout, service.form_values(form))
    return {
        "form": form,
        "period": form.period,
        "layout": layout,
        "values": values,
        "raw": raw,
        "errors": errors or {},
        "can_edit": service.can_edit_form(current_user, form),
        "can_review": service.can_review_form(current_user, form),
        "action_form": ActionForm(formdata=None),
        "return_form": return_form or ReturnForm(formdata=None),
        "import_form": ImportForm(formdata=None),
        "import_problems": import_problems or [],
        "form_status_labels": service.FORM_STATUS_LABELS,
        "target_text": target_text,
        "meets_target": meets_target,
    }


@bp.route("/forms/<int:form_id>")
@login_required
def form_page(form_id: int):
    form = _form_or_404(form_id)
    return render("indicators/form.html", **_form_context(form))


@bp.route("/forms/<int:form_id>", methods=["POST"])
@login_required
def form_save(form_id: int):
    form = _form_or_404(form_id)
    submit = request.form.get("action") == "submit"
    raw = request.form.to_dict()
    try:
        service.save_form(form, current_user, raw, submit=submit)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except FormInvalid as exc:
        db.session.rollback()
        values = check_form(service.layout_for(form.period), raw)
        return render(
            "indicators/form.html",
            status=400,
            error=str(exc),
            **_form_context(_form_or_404(form_id), values=values, errors=exc.errors, raw=raw),
        )
    except IndicatorError as exc:
        db.session.rollback()
        return render("indicators/form.html", status=400, error=str(exc), **_form_context(_form_or_404(form_id)))
    flash(_("Form submitted for review.") if submit else _("Draft saved."), "success")
    return redirect(url_for("indicators.form_page", form_id=form.id), code=303)


@bp.route("/forms/<int:form_id>/check", methods=["POST"])
@login_required
def form_check(form_id: int):
    """Inline validation as the user types: every field's message slot (and the derived rates),
    out of band; required fields are checked only on submission."""
    form = _form_or_404(form_id)
    layout = service.layout_for(form.period)
    values = check_form(layout, request.form.to_dict())
    body = render_template("indicators/_messages.html", layout=layout, values=values, errors=values.errors)
    return fragment_response(body)


def _review(form_id: int, action):
    form = _form_or_404(form_id)
    try:
        action(form)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except IndicatorError as exc:
        db.session.rollback()
        return render("indicators/form.html", status=400, error=str(exc), **_form_context(_form_or_404(form_id)))
    return redirect(url_for("indicators.form_page", form_id=form.id), code=303)


@bp.route("/forms/<int:form_id>/approve", methods=["POST"])
@login_required
def form_approve(form_id: int):
    if not ActionForm().validate():
        abort(400)

    def approve(form):
        service.approve_form(form, current_user)
        flash(_("Form approved; its values are locked."), "success")

    return _review(form_id, approve)


@bp.route("/forms/<int:form_id>/return", methods=["POST"])
@login_required
def form_return(form_id: int):
    return_form = ReturnForm()
    if not return_form.validate():
        form = _form_or_404(form_id)
        return render(
            "indicators/form.html",
            status=400,
            error=_("A reason is required."),
            **_form_context(form, return_form=return_form),
        )

    def send_back(form):
        service.return_form(form, current_user, return_form.reason.data)
        flash(_("Form returned to the unit."), "success")

    return _review(form_id, send_back)


@bp.route("/forms/<int:form_id>.xlsx")
@login_required
def form_export(form_id: int):
    form = _form_or_404(form_id)
    layout = service.layout_for(form.period)
    values = service.with_rates(layout, service.form_values(form))
    handle = excel.export_form(form, layout, values, indicator_period_label(form.period))
    name = f"{form.period.plan.key}-{form.period.key}-{form.unit.code}.xlsx"
    return send_file(handle, mimetype=XLSX, as_attachment=True, download_name=name)


@bp.route("/forms/<int:form_id>/import", methods=["POST"])
@login_required
def form_import(form_id: int):
    form = _form_or_404(form_id)
    upload = ImportForm()
    if not upload.validate():
        return render(
            "indicators/form.html", status=400, error=_("Choose a filled-in Excel file."), **_form_context(form)
        )
    try:
        excel.import_form(form, current_user, upload.file.data.stream)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except excel.ImportRefused as exc:
        db.session.rollback()
        return render(
            "indicators/form.html",
            status=400,
            error=_("The file was refused; nothing was stored."),
            **_form_context(_form_or_404(form_id), import_problems=exc.problems),
        )
    except IndicatorError as exc:
        db.session.rollback()
        return render("indicators/form.html", status=400, error=str(exc), **_form_context(_form_or_404(form_id)))
    flash(_("File imported as a draft."), "success")
    return redirect(url_for("indicators.form_page", form_id=form.id), code=303)
