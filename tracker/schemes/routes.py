"""Provincial schemes (备案) pages: a plan's filing overview, a scheme's document, tasks, import,
mapping to national tasks, filing and review."""

from __future__ import annotations

from typing import Optional

from wtforms.fields.choices import SelectChoice
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.extensions import db
from tracker.models import Plan, Task
from tracker.models.cascade import ProvincialScheme
from tracker.plans.operations import InvalidChange, NotAllowed
from tracker.plans.status import TransitionError
from tracker.plans.stored_download import send_stored
from tracker.schemes import service as scheme_service
from tracker.schemes.forms import (
    DocumentForm,
    ImportForm,
    MapForm,
    RequirementForm,
    ReviewForm,
    SchemeTaskForm,
    StartSchemeForm,
)
from tracker.forms import EmptyForm, clean_text
from tracker.web import form_errors, render, wants_fragment

bp = Blueprint("schemes", __name__)


# --- provincial schemes -----------------------------------------------------------------------


def _plan_or_404(key: str) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.key == key).options(joinedload(Plan.issuer_unit)))
    if plan is None:
        abort(404)
    return plan


def _overview(plan: Plan, status: int = 200, error: Optional[str] = None, start_form=None, requirement_form=None):
    overview = scheme_service.filing_overview(plan, current_user)
    requirement_form = requirement_form or RequirementForm(formdata=None)
    requirement_form.template.choices = [SelectChoice(0, _("None"))] + [
        SelectChoice(t.id, f"{t.ref} {t.title[:60]}") for t in scheme_service.template_candidates(plan)
    ]
    if overview.requirement is not None and request.method == "GET":
        requirement_form.template.data = overview.requirement.template_task_id or 0
    mine = scheme_service.scheme_for(plan, current_user.unit)
    return render(
        "schemes/schemes.html",
        status=status,
        plan=plan,
        overview=overview,
        error=error,
        requirement_form=requirement_form,
        start_form=start_form or StartSchemeForm(formdata=None),
        can_manage=scheme_service.can_manage_requirement(current_user, plan),
        can_start=scheme_service.can_start_scheme(current_user) and mine is None,
        mine=mine,
    )


@bp.route("/plans/<key>/schemes")
@login_required
def scheme_overview(key: str):
    return _overview(_plan_or_404(key))


@bp.route("/plans/<key>/schemes/requirement", methods=["POST"])
@login_required
def scheme_requirement(key: str):
    plan = _plan_or_404(key)
    if not scheme_service.can_manage_requirement(current_user, plan):
        abort(403)
    form = RequirementForm()
    form.template.choices = [SelectChoice(0, "")] + [
        SelectChoice(t.id, t.ref) for t in scheme_service.template_candidates(plan)
    ]
    if not form.validate():
        return _overview(plan, 400, form_errors(form), requirement_form=form)
    template = db.session.get(Task, form.template.data) if form.template.data else None
    try:
        scheme_service.set_requirement(plan, current_user, template)
        db.session.commit()
    except scheme_service.SchemeError as exc:
        db.session.rollback()
        return _overview(plan, 400, str(exc), requirement_form=form)
    flash(_("Saved."), "success")
    return redirect(url_for("schemes.scheme_overview", key=plan.key), code=303)


@bp.route("/plans/<key>/schemes", methods=["POST"])
@login_required
def scheme_start(key: str):
    plan = _plan_or_404(key)
    if not scheme_service.can_start_scheme(current_user):
        abort(403)
    form = StartSchemeForm()
    if not form.validate():
        return _overview(plan, 400, form_errors(form), start_form=form)
    try:
        scheme = scheme_service.start_scheme(
            plan, current_user, form.title.data, form.doc_number.data or "", form.issued_on.data
        )
        db.session.commit()
    except scheme_service.SchemeError as exc:
        db.session.rollback()
        return _overview(plan, 400, str(exc), start_form=form)
    return redirect(url_for("schemes.scheme_page", scheme_id=scheme.id), code=303)


def _scheme_or_404(scheme_id: int) -> ProvincialScheme:
    scheme = db.session.scalar(
        select(ProvincialScheme)
        .where(ProvincialScheme.id == scheme_id)
        .options(
            joinedload(ProvincialScheme.plan),
            joinedload(ProvincialScheme.national_plan),
            joinedload(ProvincialScheme.unit),
            joinedload(ProvincialScheme.fulfils_task),
        )
    )
    if scheme is None or not scheme_service.can_view_scheme(current_user, scheme):
        abort(404)
    return scheme


def _national_options(national: list[Task]) -> list[SelectChoice]:
    return [SelectChoice("", _("None"))] + [SelectChoice(t.ref, f"{t.ref} {t.title[:50]}") for t in national]


def _scheme_context(scheme: ProvincialScheme, **extra) -> dict:
    national = scheme_service.national_choices(scheme)
    task_form = extra.pop("task_form", None) or SchemeTaskForm(formdata=None)
    task_form.implements.choices = _national_options(national)
    return {
        "scheme": scheme,
        "tasks": scheme_service.scheme_tasks(scheme),
        "national_tasks": national,
        "row_error": None,
        "can_edit": scheme_service.can_edit_scheme(current_user, scheme) and scheme.state in ("draft", "returned"),
        "can_review": scheme_service.can_review_scheme(current_user, scheme) and scheme.state == "filed",
        "document_form": extra.pop("document_form", None) or DocumentForm(formdata=None),
        "task_form": task_form,
        "import_form": extra.pop("import_form", None) or ImportForm(formdata=None),
        "review_form": extra.pop("review_form", None) or ReviewForm(formdata=None),
        "error": None,
        **extra,
    }


def _scheme_page(scheme: ProvincialScheme, status: int = 200, **extra):
    return render("schemes/scheme.html", status=status, **_scheme_context(scheme, **extra))


@bp.route("/schemes/<int:scheme_id>")
@login_required
def scheme_page(scheme_id: int):
    return _scheme_page(_scheme_or_404(scheme_id))


def _scheme_action(scheme: ProvincialScheme, action, message: str, **extra):
    try:
        action()
        db.session.commit()
    except (scheme_service.SchemeNotAllowed, NotAllowed):
        db.session.rollback()
        abort(403)
    except (scheme_service.SchemeError, InvalidChange, TransitionError) as exc:
        db.session.rollback()
        return _scheme_page(_scheme_or_404(scheme.id), 400, error=str(exc), **extra)
    flash(message, "success")
    return redirect(url_for("schemes.scheme_page", scheme_id=scheme.id), code=303)


@bp.route("/schemes/<int:scheme_id>/document", methods=["POST"])
@login_required
def scheme_document(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = DocumentForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), document_form=form)
    upload = form.file.data
    return _scheme_action(
        scheme,
        lambda: scheme_service.upload_document(scheme, current_user, upload.stream, upload.filename or ""),
        _("Document uploaded."),
        document_form=form,
    )


@bp.route("/schemes/<int:scheme_id>/document")
@login_required
def scheme_document_download(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    if not scheme.stored_name:
        abort(404)
    return send_stored(scheme.stored_name, scheme.original_name, scheme.mime_type)


@bp.route("/schemes/<int:scheme_id>/tasks", methods=["POST"])
@login_required
def scheme_add_task(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = SchemeTaskForm()
    form.implements.choices = _national_options(scheme_service.national_choices(scheme))
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), task_form=form)
    row = scheme_service.NewSchemeTask(
        form.ref.data.strip(),
        form.title.data.strip(),
        (form.owner.data or "").strip().upper(),
        form.due_on.data,
        (form.deliverable.data or "").strip(),
        form.implements.data or "",
    )
    return _scheme_action(
        scheme, lambda: scheme_service.add_tasks(scheme, current_user, [row]), _("Task added."), task_form=form
    )


@bp.route("/schemes/<int:scheme_id>/import", methods=["POST"])
@login_required
def scheme_import(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = ImportForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), import_form=form)
    text = form.text.data or ""
    if not text.strip() and form.file.data:
        raw = form.file.data.stream.read(1024 * 1024 + 1)
        try:
            text = clean_text(raw.decode("utf-8-sig")) if len(raw) <= 1024 * 1024 else ""
        except UnicodeDecodeError:
            text = ""
        if not text:
            return _scheme_page(scheme, 400, error=_("The file must be UTF-8 CSV of at most 1 MB."), import_form=form)

    def run():
        scheme_service.add_tasks(scheme, current_user, scheme_service.parse_import(text))

    return _scheme_action(scheme, run, _("Tasks imported."), import_form=form)


@bp.route("/schemes/<int:scheme_id>/tasks/<int:task_id>/map", methods=["POST"])
@login_required
def scheme_map(scheme_id: int, task_id: int):
    scheme = _scheme_or_404(scheme_id)
    task = db.session.get(Task, task_id)
    if task is None or task.plan_id != scheme.plan_id:
        abort(404)
    form = MapForm()
    choices = scheme_service.national_choices(scheme)
    form.national.choices = [SelectChoice(0, "")] + [SelectChoice(t.id, t.ref) for t in choices]
    error = None
    if not form.validate():
        error, status = form_errors(form), 400
    else:
        national = next((t for t in choices if t.id == form.national.data), None)
        try:
            scheme_service.map_task(scheme, current_user, task, national)
            db.session.commit()
            status = 200
        except scheme_service.SchemeNotAllowed:
            db.session.rollback()
            abort(403)
        except scheme_service.SchemeError as exc:
            db.session.rollback()
            error, status = str(exc), 400
    if not wants_fragment():
        if error:
            return _scheme_page(_scheme_or_404(scheme.id), status, error=error)
        return redirect(url_for("schemes.scheme_page", scheme_id=scheme.id), code=303)
    context = _scheme_context(_scheme_or_404(scheme.id))
    context["row_error"] = error
    row = next(((t, n) for t, n in context["tasks"] if t.id == task.id), (task, None))
    return render("schemes/scheme.html", block="task_row", status=status, row=row, **context)


@bp.route("/schemes/<int:scheme_id>/file", methods=["POST"])
@login_required
def scheme_file(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = EmptyForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form))
    return _scheme_action(
        scheme, lambda: scheme_service.file_scheme(scheme, current_user), _("Scheme filed for review.")
    )


@bp.route("/schemes/<int:scheme_id>/review", methods=["POST"])
@login_required
def scheme_review(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = ReviewForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), review_form=form)
    accept = form.decision.data == "accept"
    return _scheme_action(
        scheme,
        lambda: scheme_service.review_scheme(scheme, current_user, accept, form.comment.data or ""),
        _("Scheme accepted.") if accept else _("Scheme returned."),
        review_form=form,
    )
