"""Pages of the cascade area: cascade a task (preview, create, withdraw), a duty's rule, provincial
schemes (national overview, a province's scheme), the calendar feed and its settings."""
from __future__ import annotations

from datetime import date
from typing import Optional

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.auth.scope import can_view_task
from tracker.cascade import calendar as calendar_service
from tracker.cascade import schemes as scheme_service
from tracker.cascade.duties import change_rule
from tracker.cascade.forms import (
    CascadeForm,
    DocumentForm,
    EmptyForm,
    ImportForm,
    MapForm,
    RequirementForm,
    ReviewForm,
    RuleForm,
    SchemeTaskForm,
    StartSchemeForm,
    WithdrawForm,
    clean_text,
)
from tracker.cascade.rules import RuleError, describe
from tracker.cascade.service import (
    CascadeError,
        TargetSpec,
    can_cascade,
    cascade_children,
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
from tracker.models.cascade import Cascade, Occurrence, ProvincialScheme
from tracker.plans.operations import InvalidChange, NotAllowed
from tracker.plans.status import TransitionError
from tracker.tasks.recurrence import duty_bounds
from tracker.timeutil import local_today
from tracker.web import form_errors, page_number, render, task_or_404, wants_fragment

bp = Blueprint("cascade", __name__)

OCCURRENCE_LIMIT = 24


# --- the hub -----------------------------------------------------------------------------------


@bp.route("/cascade")
@login_required
def hub():
    items, total = recent_cascades(current_user, page_number(), current_app.config["PAGE_SIZE"])
    plans = list(db.session.scalars(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)))
    filed = scheme_service.filed_counts()
    return render("cascade/hub.html", cascades=items, total=total, page=page_number(),
                  per_page=current_app.config["PAGE_SIZE"], plans=plans, filed=filed)


# --- cascade ----------------------------------------------------------------------------------


def _spec_from(form: CascadeForm) -> TargetSpec:
    return TargetSpec(mode=form.mode.data, kind=form.kind.data or None, level=form.level.data or None,
                      under=(form.under.data or "").strip().upper() or None, codes=split_codes(form.codes.data or ""))


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
    context = {"template_task": template, "form": form, "preview": None, "error": None,
               "cascades": cascades_of(template)}
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
    cascade = db.session.scalar(select(Cascade).where(Cascade.id == cascade_id)
                                .options(joinedload(Cascade.template).joinedload(Task.plan)))
    if cascade is None or not can_view_task(current_user, cascade.template):
        abort(404)
    return cascade


def _detail_context(cascade: Cascade, **extra) -> dict:
    rows, total = cascade_children(cascade, page_number(), current_app.config["PAGE_SIZE"])
    return {"cascade": cascade, "template_task": cascade.template, "rows": rows, "total": total, "page": page_number(),
            "per_page": current_app.config["PAGE_SIZE"], "can_withdraw": can_cascade(current_user, cascade.template),
            "withdraw_form": extra.pop("withdraw_form", None) or WithdrawForm(formdata=None), "error": None, **extra}


@bp.route("/cascades/<int:cascade_id>")
@login_required
def cascade_detail(cascade_id: int):
    cascade = _cascade_or_404(cascade_id)
    block = "children" if request.headers.get("HX-Target") == "cascade-children" else "content"
    return render("cascade/detail.html", block=block, **_detail_context(cascade))


@bp.route("/cascades/<int:cascade_id>/withdraw", methods=["POST"])
@login_required
def cascade_withdraw(cascade_id: int):
    cascade = _cascade_or_404(cascade_id)
    form = WithdrawForm()
    if not form.validate():
        return render("cascade/detail.html", status=400, **_detail_context(cascade, withdraw_form=form,
                                                                          error=form_errors(form)))
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


# --- recurrence -------------------------------------------------------------------------------


def _rule_context(task: Task, form: RuleForm, error: Optional[str] = None, status: int = 200):
    today = local_today()
    begin, _end = duty_bounds(task)
    upcoming: list[date] = []
    if task.recurrence:
        try:
            upcoming = describe(task.recurrence, begin, today)
        except RuleError:
            upcoming = []
    occurrences = list(db.session.scalars(
        select(Task).join(Occurrence, Occurrence.task_id == Task.id).where(Occurrence.duty_task_id == task.id)
        .order_by(Occurrence.due_on.desc()).limit(OCCURRENCE_LIMIT)
    ))
    return render("cascade/recurrence.html", status=status, task=task, form=form, error=error, upcoming=upcoming,
                  occurrences=occurrences, can_edit=can_cascade(current_user, task))


@bp.route("/tasks/<int:task_id>/recurrence", methods=["GET", "POST"])
@login_required
def recurrence_page(task_id: int):
    task = task_or_404(task_id)
    if request.method == "GET":
        return _rule_context(task, RuleForm(formdata=None, rule=task.recurrence or ""))
    if not can_cascade(current_user, task):
        abort(403)
    form = RuleForm()
    if not form.validate():
        return _rule_context(task, form, form_errors(form), 400)
    try:
        report = change_rule(task, current_user, form.rule.data, comment=form.comment.data or "")
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except CascadeError as exc:
        db.session.rollback()
        return _rule_context(task, form, str(exc), 400)
    if report is not None:
        flash(_("Rule saved: %(created)d occurrences made, %(superseded)d future ones cancelled.",
                created=report.created, superseded=report.superseded), "success")
    return redirect(url_for("cascade.recurrence_page", task_id=task.id), code=303)


# --- provincial schemes -----------------------------------------------------------------------


def _plan_or_404(key: str) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.key == key).options(joinedload(Plan.issuer_unit)))
    if plan is None:
        abort(404)
    return plan


def _overview(plan: Plan, status: int = 200, error: Optional[str] = None, start_form=None, requirement_form=None):
    overview = scheme_service.filing_overview(plan, current_user)
    requirement_form = requirement_form or RequirementForm(formdata=None)
    requirement_form.template.choices = [(0, _("None"))] + [
        (t.id, f"{t.ref} {t.title[:60]}") for t in scheme_service.template_candidates(plan)]
    if overview.requirement is not None and request.method == "GET":
        requirement_form.template.data = overview.requirement.template_task_id or 0
    mine = scheme_service.scheme_for(plan, current_user.unit)
    return render("cascade/schemes.html", status=status, plan=plan, overview=overview, error=error,
                  requirement_form=requirement_form, start_form=start_form or StartSchemeForm(formdata=None),
                  can_manage=scheme_service.can_manage_requirement(current_user, plan),
                  can_start=scheme_service.can_start_scheme(current_user) and mine is None, mine=mine)


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
    form.template.choices = [(0, "")] + [(t.id, t.ref) for t in scheme_service.template_candidates(plan)]
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
    return redirect(url_for("cascade.scheme_overview", key=plan.key), code=303)


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
        scheme = scheme_service.start_scheme(plan, current_user, form.title.data, form.doc_number.data or "",
                                             form.issued_on.data)
        db.session.commit()
    except scheme_service.SchemeError as exc:
        db.session.rollback()
        return _overview(plan, 400, str(exc), start_form=form)
    return redirect(url_for("cascade.scheme_page", scheme_id=scheme.id), code=303)


def _scheme_or_404(scheme_id: int) -> ProvincialScheme:
    scheme = db.session.scalar(
        select(ProvincialScheme).where(ProvincialScheme.id == scheme_id)
        .options(joinedload(ProvincialScheme.plan), joinedload(ProvincialScheme.national_plan),
                 joinedload(ProvincialScheme.unit), joinedload(ProvincialScheme.fulfils_task))
    )
    if scheme is None or not scheme_service.can_view_scheme(current_user, scheme):
        abort(404)
    return scheme


def _national_options(national: list[Task]) -> list[tuple[str, str]]:
    return [("", _("None"))] + [(t.ref, f"{t.ref} {t.title[:50]}") for t in national]


def _scheme_context(scheme: ProvincialScheme, **extra) -> dict:
    national = scheme_service.national_choices(scheme)
    task_form = extra.pop("task_form", None) or SchemeTaskForm(formdata=None)
    task_form.implements.choices = _national_options(national)
    return {
        "scheme": scheme, "tasks": scheme_service.scheme_tasks(scheme), "national_tasks": national, "row_error": None,
        "can_edit": scheme_service.can_edit_scheme(current_user, scheme) and scheme.state in ("draft", "returned"),
        "can_review": scheme_service.can_review_scheme(current_user, scheme) and scheme.state == "filed",
        "document_form": extra.pop("document_form", None) or DocumentForm(formdata=None),
        "task_form": task_form,
        "import_form": extra.pop("import_form", None) or ImportForm(formdata=None),
        "review_form": extra.pop("review_form", None) or ReviewForm(formdata=None),
        "error": None, **extra,
    }


def _scheme_page(scheme: ProvincialScheme, status: int = 200, **extra):
    return render("cascade/scheme.html", status=status, **_scheme_context(scheme, **extra))


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
    return redirect(url_for("cascade.scheme_page", scheme_id=scheme.id), code=303)


@bp.route("/schemes/<int:scheme_id>/document", methods=["POST"])
@login_required
def scheme_document(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = DocumentForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), document_form=form)
    upload = form.file.data
    return _scheme_action(scheme, lambda: scheme_service.upload_document(scheme, current_user, upload.stream,
                                                                         upload.filename or ""),
                          _("Document uploaded."), document_form=form)


@bp.route("/schemes/<int:scheme_id>/document")
@login_required
def scheme_document_download(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    path = scheme_service.document_path(scheme)
    if path is None or not path.exists():
        abort(404)
    return send_file(path, mimetype=scheme.mime_type, as_attachment=True, download_name=scheme.original_name)


@bp.route("/schemes/<int:scheme_id>/tasks", methods=["POST"])
@login_required
def scheme_add_task(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = SchemeTaskForm()
    form.implements.choices = _national_options(scheme_service.national_choices(scheme))
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), task_form=form)
    row = scheme_service.NewSchemeTask(form.ref.data.strip(), form.title.data.strip(),
                                       (form.owner.data or "").strip().upper(), form.due_on.data,
                                       (form.deliverable.data or "").strip(), form.implements.data or "")
    return _scheme_action(scheme, lambda: scheme_service.add_tasks(scheme, current_user, [row]),
                          _("Task added."), task_form=form)


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
    form.national.choices = [(0, "")] + [(t.id, t.ref) for t in choices]
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
        return redirect(url_for("cascade.scheme_page", scheme_id=scheme.id), code=303)
    context = _scheme_context(_scheme_or_404(scheme.id))
    context["row_error"] = error
    row = next(((t, n) for t, n in context["tasks"] if t.id == task.id), (task, None))
    return render("cascade/scheme.html", block="task_row", status=status, row=row, **context)


@bp.route("/schemes/<int:scheme_id>/file", methods=["POST"])
@login_required
def scheme_file(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = EmptyForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form))
    return _scheme_action(scheme, lambda: scheme_service.file_scheme(scheme, current_user), _("Scheme filed for review."))


@bp.route("/schemes/<int:scheme_id>/review", methods=["POST"])
@login_required
def scheme_review(scheme_id: int):
    scheme = _scheme_or_404(scheme_id)
    form = ReviewForm()
    if not form.validate():
        return _scheme_page(scheme, 400, error=form_errors(form), review_form=form)
    accept = form.decision.data == "accept"
    return _scheme_action(scheme, lambda: scheme_service.review_scheme(scheme, current_user, accept, form.comment.data or ""),
                          _("Scheme accepted.") if accept else _("Scheme returned."), review_form=form)


# --- calendar ---------------------------------------------------------------------------------


def _calendar_page(new_url: Optional[str] = None, status: int = 200):
    return render("cascade/calendar.html", status=status, token=calendar_service.active_token(current_user),
                  new_url=new_url, form=EmptyForm(formdata=None))


@bp.route("/calendar")
@login_required
def calendar_settings():
    return _calendar_page()


@bp.route("/calendar/token", methods=["POST"])
@login_required
def calendar_token():
    form = EmptyForm()
    if not form.validate():
        return _calendar_page(status=400)
    token = calendar_service.create_token(current_user)
    db.session.commit()
    url = url_for("cascade.calendar_feed", token=token, _external=True)
    response = _calendar_page(new_url=url)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/calendar/revoke", methods=["POST"])
@login_required
def calendar_revoke():
    form = EmptyForm()
    if not form.validate():
        return _calendar_page(status=400)
    calendar_service.revoke_tokens(current_user)
    db.session.commit()
    flash(_("The calendar address no longer works."), "success")
    return redirect(url_for("cascade.calendar_settings"), code=303)


@bp.route("/calendar/<token>.ics")
def calendar_feed(token: str):
    user = calendar_service.user_for_token(token)
    if user is None:
        abort(404)
    tasks = calendar_service.feed_tasks(user, local_today())
    body = calendar_service.build_feed(user, tasks, current_app.config["BASE_URL"])
    db.session.commit()  # last_used_at
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="tracker.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


# --- the task page's cascade block ------------------------------------------------------------


def cascade_info(task: Task) -> dict:
    """What the task page shows about cascades and recurrence (at most three statements)."""
    info = {"child": child_info(task), "cascades": [], "duty": None,
            "can_cascade": current_user.is_authenticated and can_cascade(current_user, task)}
    info["cascades"] = cascades_of(task)
    if task.origin == "recurrence" and task.parent_id:
        info["duty"] = db.session.get(Task, task.parent_id)
    return info
