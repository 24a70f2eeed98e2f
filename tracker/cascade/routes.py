"""Cascade (分解下达) pages: the hub, a task's cascade (preview, create), a cascade's children and
its withdrawal, and the task page's cascade block."""

from __future__ import annotations

from datetime import date
from typing import Optional

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.auth.scope import can_view_task, can_view_unit
from tracker.cascade.forms import CascadeForm, ChildFilterForm, WithdrawForm
from tracker.cascade.service import (
    CascadeError,
    ChildFilters,
    TargetSpec,
    can_cascade,
    cascade_children,
    cascade_responsibles,
    cascade_task,
    cascades_of,
    child_info,
    preview_cascade,
    recent_cascades,
    split_codes,
    withdraw_cascade,
)
from tracker.extensions import db
from tracker.models import Plan, Task
from tracker.models.cascade import Cascade
from tracker.schemes import service as scheme_service
from tracker.plans.list_routes import bulk_context
from tracker.plans.operations import NotAllowed
from tracker.web import form_errors, page_number, page_size, render, task_or_404, wants_fragment

bp = Blueprint("cascade", __name__)


# --- the hub -----------------------------------------------------------------------------------


@bp.route("/cascade")
@login_required
def hub():
    page = recent_cascades(current_user, page_number(), page_size())
    if wants_fragment() and request.headers.get("HX-Target") == "cascade-list":
        return render("cascade/hub.html", block="list", page=page)
    plans = list(db.session.scalars(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)))
    return render("cascade/hub.html", page=page, plans=plans, filed=scheme_service.filed_counts())


# --- cascade ----------------------------------------------------------------------------------


def _spec_from(form: CascadeForm) -> TargetSpec:
    return TargetSpec(
        mode=form.mode.data,
        kind=form.kind.data or None,
        level=form.level.data or None,
        under=(form.under.data or "").strip().upper() or None,
        codes=split_codes(form.codes.data or ""),
    )


def _due_overrides(template: Task) -> tuple[dict[str, date], list[str]]:
    """Per-unit due dates posted by the preview table (`due-CODE`), and the bad ones."""
    overrides, bad = {}, []
    for name, value in request.form.items():
        if not name.startswith("due-") or not value.strip():
            continue
        code = name[4:]
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            bad.append(code)
            continue
        if day != template.due_on:
            overrides[code] = day
    return overrides, bad


@bp.route("/tasks/<int:task_id>/cascade", methods=["GET", "POST"])
@login_required
def cascade_page(task_id: int):
    template = task_or_404(task_id)
    if not can_cascade(current_user, template):
        abort(403)
    form = CascadeForm()
    context = {
        "template_task": template,
        "form": form,
        "preview": None,
        "error": None,
        "cascades": cascades_of(template),
    }
    if request.method == "GET":
        return render("cascade/cascade.html", **context)
    if not form.validate():
        context["error"] = form_errors(form)
        return render("cascade/cascade.html", block=_block("preview"), status=400, **context)
    overrides, bad = _due_overrides(template)
    try:
        if bad:
            raise CascadeError(_("Not a date (YYYY-MM-DD) for: %(codes)s", codes=", ".join(bad)))
        if request.form.get("action") == "create":
            cascade = cascade_task(template, current_user, _spec_from(form), overrides)
            db.session.commit()
            flash(_("Cascaded to %(n)d units.", n=len(cascade.children)), "success")
            return redirect(url_for("cascade.cascade_detail", cascade_id=cascade.id), code=303)
        context["preview"] = preview_cascade(template, current_user, _spec_from(form), overrides)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except CascadeError as exc:
        db.session.rollback()
        context["error"] = str(exc)
        return render("cascade/cascade.html", block=_block("preview"), status=400, **context)
    return render("cascade/cascade.html", block=_block("preview"), **context)


def _block(fragment: str) -> str:
    """The fragment an HTMX request targets, else the page's content."""
    return fragment if request.headers.get("HX-Target") == f"cascade-{fragment}" else "content"


def _cascade_or_404(cascade_id: int) -> Cascade:
    cascade = db.session.scalar(
        select(Cascade).where(Cascade.id == cascade_id).options(joinedload(Cascade.template).joinedload(Task.plan))
    )
    if cascade is None or not can_view_task(current_user, cascade.template):
        abort(404)
    return cascade


def _child_filters(cascade: Cascade) -> tuple[ChildFilterForm, ChildFilters, Optional[str]]:
    """The children list's filter form from the query, its filters, and the error of a bad one
    (shown next to its field; the list then unfiltered)."""
    form = ChildFilterForm(request.args, responsibles=cascade_responsibles(cascade, current_user))
    if not request.args or form.validate():
        unit = form.unit.unit if form.unit.data else None
        if unit is not None and not can_view_unit(current_user, unit):
            form.unit.errors = [_("Not found, or not yours to see.")]
            return form, ChildFilters(), str(form.unit.errors[0])
        responsible = form.responsible.data
        filters = ChildFilters(
            status=form.status.data or "",
            overdue=bool(form.overdue.data),
            unit=unit,
            responsible_id=int(responsible) if responsible and responsible.isdigit() else None,
            sort=form.sort.data or "",
        )
        return form, filters, None
    return form, ChildFilters(), form_errors(form)


def _children_url(cascade: Cascade) -> str:
    query = request.query_string.decode("utf-8", "replace") if request.method == "GET" else ""
    return url_for("cascade.cascade_detail", cascade_id=cascade.id) + (f"?{query}" if query else "")


def _detail_context(cascade: Cascade, **extra) -> dict:
    form, filters, filter_error = _child_filters(cascade)
    return {
        "cascade": cascade,
        "template_task": cascade.template,
        "page": cascade_children(cascade, page_number(), page_size(), current_user, filters),
        "filter_form": form,
        "filters": filters,
        "filter_error": filter_error,
        "bulk": bulk_context("cascade", _children_url(cascade)),
        "can_withdraw": can_cascade(current_user, cascade.template),
        "withdraw_form": extra.pop("withdraw_form", None) or WithdrawForm(formdata=None),
        "error": None,
        **extra,
    }


@bp.route("/cascades/<int:cascade_id>")
@login_required
def cascade_detail(cascade_id: int):
    cascade = _cascade_or_404(cascade_id)
    block = "children" if request.headers.get("HX-Target") == "cascade-children" else "content"
    context = _detail_context(cascade)
    return render("cascade/detail.html", block=block, status=400 if context["filter_error"] else 200, **context)


@bp.route("/cascades/<int:cascade_id>/withdraw", methods=["POST"])
@login_required
def cascade_withdraw(cascade_id: int):
    cascade = _cascade_or_404(cascade_id)
    form = WithdrawForm()
    if not form.validate():
        return render(
            "cascade/detail.html", status=400, **_detail_context(cascade, withdraw_form=form, error=form_errors(form))
        )
    try:
        count = withdraw_cascade(cascade, current_user, form.reason.data)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except CascadeError as exc:
        db.session.rollback()
        return render("cascade/detail.html", status=400, **_detail_context(cascade, withdraw_form=form, error=str(exc)))
    flash(_("Cascade withdrawn: %(n)d tasks cancelled.", n=count), "success")
    return redirect(url_for("cascade.cascade_detail", cascade_id=cascade.id), code=303)


# --- the task page's cascade block ------------------------------------------------------------


def cascade_info(task: Task) -> dict:
    """What the task page shows about cascades and recurrence (at most three statements)."""
    info = {
        "child": child_info(task),
        "cascades": [],
        "duty": None,
        "can_cascade": current_user.is_authenticated and can_cascade(current_user, task),
    }
    info["cascades"] = cascades_of(task)
    if task.origin == "recurrence" and task.parent_id:
        info["duty"] = db.session.get(Task, task.parent_id)
    return info
