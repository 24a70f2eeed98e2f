"""Units pages (/admin/units): thin; the rules are in tracker/units/service.py. Administrators only."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import AuditEntry
from tracker.sheets import SheetRefused
from tracker.units import importer
from tracker.units.forms import MoveForm, ReasonForm, SheetForm, UnitFilterForm, UnitForm
from tracker.units.service import (
    UNIT_KIND_LABELS,
    UNIT_LEVEL_LABELS,
    NewUnit,
    UnitError,
    UnitFilters,
    create_unit,
    depth_of,
    edit_unit,
    may_manage_units,
    move_unit,
    restore_unit,
    retire_unit,
    trail_of,
    unit_by_code,
    unit_figures,
    units_page,
)
from tracker.web import form_errors, page_number, page_size, render

bp = Blueprint("units", __name__, url_prefix="/admin/units")

LABELS = {"unit_kind_labels": UNIT_KIND_LABELS, "unit_level_labels": UNIT_LEVEL_LABELS}


@bp.before_request
@login_required
def _only_admins():
    if not may_manage_units(current_user):
        abort(403)


def _unit_or_404(code: str):
    unit = unit_by_code(code)
    if unit is None:
        abort(404)
    return unit


@bp.route("")
def unit_list():
    form = UnitFilterForm(request.args)
    filters = UnitFilters()
    if form.validate():
        filters = UnitFilters(
            q=(form.q.data or "").strip(),
            under=form.under.unit,
            kind=form.kind.data or "",
            level=form.level.data or "",
            state=form.state.data or "",
        )
    page = units_page(filters, page_number(), page_size())
    return render("units/list.html", block="results", form=form, page=page, depth_of=depth_of, **LABELS)


def _field_error(form, exc: UnitError) -> str:
    """Put the refusal next to its field; the banner says it too when it belongs to none."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(exc)]
        return ""
    return str(exc)


@bp.route("/new", methods=["GET", "POST"])
def unit_new():
    form = UnitForm()
    if request.method == "GET":
        parent = unit_by_code(request.args.get("parent", "")) if request.args.get("parent") else None
        if parent is not None:
            form.parent.set_unit(parent)
        return render("units/form.html", form=form, unit=None, error=None, **LABELS)
    if not form.validate():
        return render("units/form.html", status=422, form=form, unit=None, error=form_errors(form), **LABELS)
    values = NewUnit(
        code=form.code.data or "",
        name=form.name.data or "",
        kind=form.kind.data,
        level=form.level.data,
        parent=form.parent.unit,
    )
    try:
        unit = create_unit(current_user, values, form.comment.data or "")
    except UnitError as exc:
        db.session.rollback()
        error = _field_error(form, exc)
        return render("units/form.html", status=422, form=form, unit=None, error=error, **LABELS)
    db.session.commit()
    flash(_("The unit %(name)s is added.", name=unit.name), "success")
    return redirect(url_for("units.unit_edit", code=unit.code), code=303)


def _history(unit_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "unit", AuditEntry.subject_id == unit_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(50)
        )
    )


def _edit_page(unit, form=None, move_form=None, status=200, error=None):
    if form is None:
        form = UnitForm(obj=unit)
    return render(
        "units/form.html",
        status=status,
        form=form,
        move_form=move_form or MoveForm(formdata=None),
        unit=unit,
        trail=trail_of(unit),
        figures=unit_figures(unit),
        history=_history(unit.id),
        error=error,
        **LABELS,
    )


@bp.route("/<code>", methods=["GET", "POST"])
def unit_edit(code: str):
    unit = _unit_or_404(code)
    if request.method == "GET":
        return _edit_page(unit)
    form = UnitForm()
    if not form.validate():
        return _edit_page(unit, form, status=422, error=form_errors(form))
    try:
        changed = edit_unit(
            current_user, unit, form.name.data or "", form.kind.data, form.level.data, form.comment.data or ""
        )
    except UnitError as exc:
        db.session.rollback()
        return _edit_page(unit, form, status=422, error=_field_error(form, exc))
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("units.unit_edit", code=unit.code), code=303)


@bp.route("/<code>/move", methods=["POST"])
def unit_move(code: str):
    unit = _unit_or_404(code)
    form = MoveForm()
    if not form.validate():
        return _edit_page(unit, move_form=form, status=422)
    try:
        moved = move_unit(current_user, unit, form.parent.unit, form.comment.data or "")
    except UnitError as exc:
        db.session.rollback()
        form.parent.errors = list(form.parent.errors) + [str(exc)]
        return _edit_page(db.session.get(type(unit), unit.id), move_form=form, status=422)
    db.session.commit()
    if moved:
        flash(_("Moved under %(name)s (%(n)d units with it).", name=form.parent.unit.name, n=moved), "success")
    else:
        flash(_("It is already there: nothing changed."), "info")
    return redirect(url_for("units.unit_edit", code=unit.code), code=303)


def _state_change(code: str, change, done: str):
    unit = _unit_or_404(code)
    form = ReasonForm()
    if not form.validate():
        abort(400)
    try:
        change(current_user, unit, form.comment.data or "")
    except UnitError as exc:
        db.session.rollback()
        return _edit_page(db.session.get(type(unit), unit.id), status=422, error=str(exc))
    db.session.commit()
    flash(done, "success")
    return redirect(url_for("units.unit_edit", code=unit.code), code=303)


@bp.route("/<code>/retire", methods=["POST"])
def unit_retire(code: str):
    return _state_change(code, retire_unit, _("The unit is retired."))


@bp.route("/<code>/restore", methods=["POST"])
def unit_restore(code: str):
    return _state_change(code, restore_unit, _("The unit is in use again."))


@bp.route("/import", methods=["GET", "POST"])
def unit_import():
    form = SheetForm()
    if request.method == "GET":
        return render("units/import.html", form=form, problems=[], created=[], **LABELS)
    if not form.validate():
        return render("units/import.html", status=422, form=form, problems=[form_errors(form)], created=[], **LABELS)
    upload = form.file.data
    try:
        created = importer.import_units(current_user, upload.filename or "", upload.read())
    except SheetRefused as exc:
        db.session.rollback()
        return render("units/import.html", status=422, form=form, problems=exc.problems, created=[], **LABELS)
    db.session.commit()
    return render("units/import.html", form=SheetForm(formdata=None), problems=[], created=created, **LABELS)


@bp.route("/import/template.xlsx")
def unit_template():
    return send_file(
        importer.units_template(),
        as_attachment=True,
        download_name="units-template.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
