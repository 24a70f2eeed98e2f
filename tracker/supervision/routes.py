"""The supervision panel's actions on the task page (催办, 批示, 签收, 责任人, 关注) and the bulk 催办
of the overdue list. Each task action answers like the task page's own: the task panel in its
new state for HTMX (the panel holds the history the action journaled), otherwise 303 to the task
page, or the page with the error next to its field."""

from __future__ import annotations

from typing import Optional

from wtforms.fields.choices import SelectChoice
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task
from tracker.supervision import service
from tracker.supervision.forms import InstructionForm, ResponsibleForm, UrgeForm
from tracker.web import fragment_response, safe_next, task_or_404, wants_fragment

bp = Blueprint("supervision", __name__)


def supervision_panel(task: Task, state: Optional[dict] = None) -> dict:
    """What the task page's supervision panel shows (a few statements)."""
    state = state or {}
    user = current_user
    return {
        "may_urge": service.may_urge(user, task) and task.status not in service.CLOSED_STATUSES,
        "urges": service.urges_of(task),
        "unit_urges": service.urge_counts([task.owner_unit_id]).get(task.owner_unit_id, 0) if task.owner_unit_id else 0,
        "urge_form": state.get("urge_form") or UrgeForm(formdata=None),
        "instructions": service.instructions_of(task),
        "awaits_signing": service.awaits_signing(task),
        "may_name": service.may_name_responsible(user, task),
        "responsible_form": state.get("responsible_form") or _responsible_form(task, formdata=None),
        "may_sign": service.may_sign(user, task),
        "may_watch": service.may_watch(user, task),
        "watching": service.is_watching(user, task),
        "watchers": service.watcher_count(task),
        "may_instruct": service.may_instruct(user, task),
        "instruction_form": state.get("instruction_form") or InstructionForm(formdata=None),
        "errors": state.get("errors", {}),
        "done": state.get("done"),
    }


def _answer(task: Task, status: int = 200, done: Optional[str] = None, **state):
    """The task panel (HTMX), or 303 to the task page, or the page with the error (no HTMX)."""
    from tracker.plans.task_routes import _panel_context

    if status < 400 and not wants_fragment():
        if done:
            flash(done, "success")
        return redirect(url_for("plans.task_page", task_id=task.id), code=303)
    context = _panel_context(task)
    context["supervision_state"] = {"done": done, **state}
    if wants_fragment():
        response = fragment_response(render_block("plans/task.html", "panel", **context), status)
        if status < 400:
            response.headers["HX-Trigger"] = "task-changed"
        return response
    response = fragment_response(render_template("plans/task.html", **context), status)
    return response


def _refused(task: Task, key: str, exc: Exception, **state):
    db.session.rollback()
    fresh = task_or_404(task.id)
    return _answer(fresh, 422, errors={key: str(exc)}, **state)


@bp.route("/tasks/<int:task_id>/urge", methods=["POST"])
@login_required
def urge(task_id: int):
    task = task_or_404(task_id)
    if not service.may_urge(current_user, task):
        abort(403)
    form = UrgeForm()
    if not form.validate():
        return _answer(task, 422, urge_form=form)
    try:
        service.urge_task(task, current_user, form.message.data or "")
        db.session.commit()
    except service.NotPermitted:
        db.session.rollback()
        abort(403)
    except service.SupervisionError as exc:
        return _refused(task, "urge", exc, urge_form=form)
    except IntegrityError:  # a concurrent 催办 of the same day won the unique key
        return _refused(task, "urge", service.SupervisionError(service.ALREADY_URGED), urge_form=form)
    return _answer(task, done=_("Urged: the owner unit has been notified."))


@bp.route("/tasks/<int:task_id>/instruction", methods=["POST"])
@login_required
def instruct(task_id: int):
    task = task_or_404(task_id)
    if not service.may_instruct(current_user, task):
        abort(403)
    form = InstructionForm()
    if not form.validate():
        return _answer(task, 422, instruction_form=form)
    try:
        service.instruct_task(task, current_user, form.text.data)
        db.session.commit()
    except service.SupervisionError as exc:
        return _refused(task, "instruction", exc, instruction_form=form)
    return _answer(task, done=_("Instruction recorded; the owner unit and the coordinators above it are notified."))


@bp.route("/tasks/<int:task_id>/sign", methods=["POST"])
@login_required
def sign(task_id: int):
    task = task_or_404(task_id)
    if not service.may_sign(current_user, task):
        abort(403)
    try:
        service.sign_task(task, current_user)
        db.session.commit()
    except service.SupervisionError as exc:
        return _refused(task, "sign", exc)
    except StaleDataError:  # signed (or changed) by someone else at the same moment
        return _refused(task, "sign", service.SupervisionError(_("Someone else signed for this task meanwhile.")))
    return _answer(task, done=_("Signed for."))


@bp.route("/tasks/<int:task_id>/watch", methods=["POST"])
@login_required
def watch(task_id: int):
    """关注 (on=1) or stop following (on=0) a task."""
    task = task_or_404(task_id)
    if not service.may_watch(current_user, task):
        abort(403)
    on = request.form.get("on", "1") != "0"
    service.set_watching(task, current_user, on)
    db.session.commit()
    done = _("You follow this task: you are told of its changes.") if on else _("You no longer follow this task.")
    return _answer(task, done=done)


def _responsible_form(task: Task, formdata=...) -> ResponsibleForm:
    kwargs = {} if formdata is ... else {"formdata": formdata}
    if formdata is None:
        kwargs.update(
            responsible=task.responsible_user_id or 0,
            contact_name=task.contact_name,
            contact_phone=task.contact_phone,
        )
    form = ResponsibleForm(**kwargs)
    form.responsible.choices = [SelectChoice(0, "—")]
    if service.may_name_responsible(current_user, task):
        form.responsible.choices += service.responsible_choices(task)
    return form


@bp.route("/tasks/<int:task_id>/responsible", methods=["POST"])
@login_required
def responsible(task_id: int):
    task = task_or_404(task_id)
    if not service.may_name_responsible(current_user, task):
        abort(403)
    form = _responsible_form(task)
    if not form.validate():
        return _answer(task, 422, responsible_form=form)
    try:
        service.set_responsible(
            task, current_user, form.responsible.data or None, form.contact_name.data, form.contact_phone.data
        )
        db.session.commit()
    except service.SupervisionError as exc:
        db.session.rollback()
        field = getattr(form, exc.field or "responsible")
        field.errors = [*field.errors, str(exc)]
        return _answer(task_or_404(task.id), 422, responsible_form=form)
    except StaleDataError:
        return _refused(task, "responsible", service.SupervisionError(_("This task was changed meanwhile; try again.")))
    return _answer(task, done=_("Responsible person saved."))


@bp.route("/supervision/urge", methods=["POST"])
@login_required
def urge_bulk():
    """催办 of the tasks ticked in the overdue list; back to the list with what was done."""
    if current_user.role not in ("leader", "admin", "coordinator"):
        abort(403)
    back = _overdue_url()
    form = UrgeForm()
    ids = [int(v) for v in request.form.getlist("task") if v.isascii() and v.isdigit() and len(v) < 12]
    if not form.validate():
        flash("; ".join(form.message.errors), "danger")
        return redirect(back, code=303)
    if not ids:
        flash(_("Tick the tasks to urge first."), "warning")
        return redirect(back, code=303)
    try:
        result = service.urge_tasks(ids, current_user, form.message.data or "")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash(_("Someone urged these tasks at the same moment; nothing was sent. Try again."), "danger")
        return redirect(back, code=303)
    parts = [_("%(n)d tasks urged.", n=result.urged)]
    if result.already:
        parts.append(_("%(n)d skipped: you already urged them today.", n=result.already))
    if result.refused:
        parts.append(_("%(n)d skipped: not yours to urge, or finished.", n=result.refused))
    flash(" ".join(parts), "success" if result.urged else "warning")
    return redirect(back, code=303)


@bp.route("/supervision/unit-instruction", methods=["GET", "POST"])
@login_required
def unit_instruction():
    """批示 on a unit's row of the leadership screen: the form (loaded into the row on demand, the
    screen itself is cached for everyone), and its answer in the same place."""
    if current_user.role not in ("leader", "admin"):
        abort(403)
    unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == (request.values.get("unit") or "")))
    if unit is None:
        abort(404)
    plan_key = request.values.get("plan") or ""
    plan = db.session.scalar(select(Plan).where(Plan.key == plan_key)) if plan_key else None
    if plan_key and plan is None:
        abort(404)
    form = InstructionForm()
    context = dict(form=form, unit=unit, plan=plan, done=None)
    if request.method == "POST":
        if not form.validate():
            return _unit_instruction_page(context, 422)
        try:
            result = service.instruct_unit(unit, current_user, form.text.data, plan)
            db.session.commit()
        except service.SupervisionError as exc:
            db.session.rollback()
            form.text.errors = [*form.text.errors, str(exc)]
            return _unit_instruction_page(context, 422)
        done = _(
            "Instruction recorded on %(n)d overdue tasks of %(unit)s; their owners are notified.",
            n=result.tasks,
            unit=unit.name,
        )
        if not wants_fragment():
            flash(done, "success")
            return redirect(url_for("progress.leadership", unit=request.values.get("back_unit") or None), code=303)
        context["done"] = done
    return _unit_instruction_page(context, 200)


def _unit_instruction_page(context: dict, status: int):
    if wants_fragment():
        return fragment_response(render_block("supervision/unit_instruction.html", "form", **context), status)
    return render_template("supervision/unit_instruction.html", **context), status


def _overdue_url() -> str:
    """The overdue list the bulk form came from (its filters kept): a same-site path (safe_next)
    of the overdue list, else the list itself."""
    home = url_for("notifications.overdue")
    back = safe_next(request.form.get("back"), home)
    if back == home or back.startswith((home + "?", home + "#")):
        return back
    return home
