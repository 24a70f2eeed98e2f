"""The task page and its actions. Each action is one request: for HTMX it returns the task
panel in its new state plus, out of band, the tree rows above it and the work counter; without
JavaScript it redirects (303) to the task page."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.scope import actor_for, can_change_task, can_view_task
from tracker.extensions import db
from tracker.models import Evidence, JournalEntry, Task
from tracker.plans import evidence as evidence_service
from tracker.explanations.forms import ExplanationForm
from tracker.explanations.service import REASONS, current_explanation, needs_explanation
from tracker.notifications.service import escalation_history, notified_counts
from tracker.plans.forms import CommentForm, EditTaskForm, EvidenceForm, HandleForm, PercentForm, StatusForm
from tracker.plans.handling import HANDLED_IN, FieldError, Handling, Upload, handle, owner_targets, withdraw
from tracker.plans.handling import withdrawal_refusal
from tracker.plans.operations import (
    undo_acceptance,
    InvalidChange,
    NotAllowed,
    StaleVersion,
    add_comment,
    change_status,
    edit_task,
    update_percent,
)
from tracker.plans.queries import ancestors_of, open_work_count
from tracker.pickers.units import resolve_units, split_unit_list
from tracker.plans.blueprint import bp
from tracker.plans.status import ACCEPTED, BLOCKED, CANCELLED, RETURNED, SUBMITTED, TRANSITIONS
from tracker.plans.status import UNDO_ACCEPT_LABEL, TransitionError, allowed_targets
from tracker.plans.undo_window import acceptance_undo_until
from tracker.plans.stored_download import send_stored
from tracker.web import form_errors, fragment_response, render, task_or_404, wants_fragment

HISTORY_LIMIT = 100
CHILDREN_LIMIT = 50
# The review bar: main actions, and those in its secondary menu (one reason field for both).
REVIEW_MAIN = (ACCEPTED, RETURNED)
REVIEW_MORE = (BLOCKED, CANCELLED)


def _conflict() -> str:
    return _("This task was changed by someone else meanwhile; here is its current state. Nothing was overwritten.")


def _review_targets(task: Task, targets: list[str]) -> list[str]:
    """The review bar's actions: the reviewer's and coordinator's transitions (the owner's own
    steps are in the 办理 form)."""
    return [
        t
        for t in targets
        if TRANSITIONS[(task.status, t)][0] not in ("owner", "acceptor")  # 撤销通过 has its own button
    ]


def _handle_form(task: Task, actor) -> HandleForm:
    return HandleForm(
        formdata=None, current_status=task.status, targets=owner_targets(task.status, actor), percent=str(task.percent)
    )


def _panel_context(
    task: Task,
    error: str | None = None,
    edit_form: EditTaskForm | None = None,
    conflict: bool = False,
    explanation_form=None,
    handle_form: HandleForm | None = None,
    review_errors: dict | None = None,
) -> dict:
    actor = actor_for(current_user, task)
    targets = allowed_targets(task.status, actor)
    review = _review_targets(task, targets)
    can_change = can_change_task(current_user, task)
    children = list(
        db.session.scalars(
            select(Task)
            .where(Task.parent_id == task.id)
            .options(joinedload(Task.owner_unit))
            .order_by(Task.position, Task.id)
            .limit(CHILDREN_LIMIT + 1)
        )
    )
    history = list(
        db.session.scalars(
            select(JournalEntry)
            .where(JournalEntry.task_id == task.id)
            .options(joinedload(JournalEntry.user))
            .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
            .limit(HISTORY_LIMIT)
        )
    )
    escalations = escalation_history(task)
    return {
        "explanation": current_explanation(task),
        "asks_explanation": can_change_task(current_user, task) and needs_explanation(task),
        "explanation_form": explanation_form or ExplanationForm(formdata=None),
        "explanation_reasons": REASONS,
        "task": task,
        "escalations": escalations,
        "escalation_counts": notified_counts([e.id for e in escalations if e.state == "fired"]),
        "ancestors": ancestors_of(task),
        "children": children[:CHILDREN_LIMIT],
        "more_children": len(children) > CHILDREN_LIMIT,
        "evidence": evidence_service.evidence_for(task),
        "history": history,
        "targets": targets,
        "review_main": [t for t in review if t not in REVIEW_MORE],
        "review_more": [t for t in review if t in REVIEW_MORE],
        "review_errors": review_errors or {},
        "review_conflict": actor.review_conflict,
        "is_reviewer": actor.is_reviewer,
        "undo_until": acceptance_undo_until(current_user, task) if actor.is_acceptor else None,
        "undo_label": UNDO_ACCEPT_LABEL,
        "can_change": can_change,
        "can_handle": can_change and task.status in HANDLED_IN,
        "handle_form": handle_form or _handle_form(task, actor),
        "withdraw_refusal": withdrawal_refusal(task, current_user) if can_change and task.status == SUBMITTED else None,
        "can_edit": actor.is_coordinator,
        "error": error,
        "status_form": StatusForm(formdata=None),
        "percent_form": PercentForm(formdata=None, percent=task.percent),
        "comment_form": CommentForm(formdata=None),
        "evidence_form": EvidenceForm(formdata=None),
        "edit_form": edit_form,
        "conflict": conflict,
    }


@bp.route("/tasks/<int:task_id>")
@login_required
def task_page(task_id: int):
    task = task_or_404(task_id)
    return render("plans/task.html", block="panel", **_panel_context(task))


def _respond(task: Task, status: int = 200, error: str | None = None, **extra):
    """The panel (with OOB tree rows and counter) for HTMX; otherwise PRG or the page with the error."""
    if not wants_fragment():
        if error:
            return render("plans/task.html", status=status, **_panel_context(task, error=error, **extra))
        return redirect(url_for("plans.task_page", task_id=task.id), code=303)
    context = _panel_context(task, error=error, **extra)
    body = render_block("plans/task.html", "panel", **context)
    if status < 400:
        # the plan tree's rows out of band: those the page shows (none on the task's own page,
        # whose panel says so; on the plan page the ancestors the user sees, not context rows)
        rows = []
        if request.headers.get("X-Task-Panel") != "page":
            rows = [r for r in [task] + list(reversed(ancestors_of(task))) if can_view_task(current_user, r)]
        body += render_block("plans/_oob.html", "oob", rows=rows, work_count=open_work_count(current_user))
    response = fragment_response(body, status)
    if status < 400:
        response.headers["HX-Trigger"] = "task-changed"
    return response


def _fragment_error(task: Task, block: str, target: str, status: int = 422, **extra):
    """A refused form: for HTMX only its own fragment (which it replaces), with the errors next to
    their fields; without JavaScript the whole page."""
    context = _panel_context(task, **extra)
    if not wants_fragment():
        return render("plans/task.html", status=status, **context)
    response = fragment_response(render_block("plans/task.html", block, **context), status)
    response.headers["HX-Retarget"] = target
    response.headers["HX-Reswap"] = "outerHTML"
    return response


def _to_panel(response):
    """A form that replaces only itself on a refusal replaces the whole panel on success."""
    if wants_fragment():
        response.headers["HX-Retarget"] = "#task-panel"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


def _run(task: Task, action, **extra):
    """Apply an action, commit, and answer; refusals answer with the reason and change nothing."""
    try:
        action()
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except StaleVersion as exc:
        db.session.rollback()
        db.session.refresh(exc.task)
        return _respond(
            exc.task,
            409,
            _conflict(),
            conflict=True,
        )
    except StaleDataError:
        db.session.rollback()
        fresh = task_or_404(task.id)
        return _respond(
            fresh,
            409,
            _conflict(),
            conflict=True,
        )
    except (TransitionError, InvalidChange) as exc:
        db.session.rollback()
        return _respond(task_or_404(task.id), 422, str(exc), **extra)
    if not wants_fragment():
        flash(_("Saved."), "success")
    return _respond(task)


@bp.route("/tasks/<int:task_id>/status", methods=["POST"])
@login_required
def task_status(task_id: int):
    task = task_or_404(task_id)
    actor = actor_for(current_user, task)
    if not (actor.is_owner or actor.is_reviewer or actor.is_coordinator):
        abort(403)  # seen (a leader, a co-owner) but no part in the workflow
    form = StatusForm()
    if not form.validate():
        return _respond(task, 422, form_errors(form))
    rule = TRANSITIONS.get((task.status, form.target.data))
    if rule is not None and rule[1] and not (form.comment.data or "").strip():
        # the reason goes next to its field in the review bar; nothing is written
        key = "more" if form.target.data in REVIEW_MORE else form.target.data
        return _fragment_error(task, "review_bar", "#review-bar", review_errors={key: _("A reason is required.")})
    return _run(
        task,
        lambda: change_status(
            task, current_user, form.target.data, form.comment.data or "", expected_version=form.version.data
        ),
    )


@bp.route("/tasks/<int:task_id>/undo-accept", methods=["POST"])
@login_required
def task_undo_accept(task_id: int):
    """撤销通过: the reviewer who accepted takes it back within ACCEPT_UNDO_MINUTES; after that the
    answer says so (422) and a coordinator above reopens it instead."""
    task = task_or_404(task_id)
    if not actor_for(current_user, task).is_reviewer:
        abort(403)  # seen (the owner, a leader) but no part in the review
    version = request.form.get("version", "")
    expected = int(version) if version.isdigit() else None
    if expected is None:
        return _respond(task, 422, _("The form is incomplete; reload the page and try again."))
    return _run(task, lambda: undo_acceptance(task, current_user, expected_version=expected))


@bp.route("/tasks/<int:task_id>/handle", methods=["POST"])
@login_required
def task_handle(task_id: int):
    """The owner's 办理 form: status, percent, evidence files and a note in one submit."""
    task = task_or_404(task_id)
    if not can_change_task(current_user, task):
        abort(403)  # seen (a leader, a co-owner) but not theirs to handle
    form = HandleForm(current_status=task.status, targets=owner_targets(task.status, actor_for(current_user, task)))
    if not form.validate():
        return _fragment_error(task, "handle_form", "#handle-form", handle_form=form)
    handling = Handling(
        target=form.target.data or "",
        percent=form.percent_value,
        files=[Upload(f.stream, f.filename or "") for f in form.uploads],
        note=form.note.data or "",
    )
    try:
        handle(task, current_user, handling, expected_version=form.version.data)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except (StaleVersion, StaleDataError):
        db.session.rollback()
        return _to_panel(_respond(task_or_404(task_id), 409, _conflict(), conflict=True))
    except FieldError as exc:
        db.session.rollback()
        getattr(form, exc.field).errors = list(getattr(form, exc.field).errors) + [str(exc)]
        return _fragment_error(task_or_404(task_id), "handle_form", "#handle-form", handle_form=form)
    except (TransitionError, InvalidChange) as exc:
        db.session.rollback()
        form.target.errors = list(form.target.errors) + [str(exc)]
        return _fragment_error(task_or_404(task_id), "handle_form", "#handle-form", handle_form=form)
    if not wants_fragment():
        flash(_("Saved."), "success")
    return _to_panel(_respond(task))


@bp.route("/tasks/<int:task_id>/withdraw", methods=["POST"])
@login_required
def task_withdraw(task_id: int):
    """撤回: the submitter's unit takes back a submission not yet reviewed."""
    task = task_or_404(task_id)
    if not can_change_task(current_user, task):
        abort(403)
    version = request.form.get("version", "")
    expected = int(version) if version.isdigit() else None
    if expected is None:
        return _respond(task, 422, _("The form is incomplete; reload the page and try again."))
    return _run(task, lambda: withdraw(task, current_user, expected_version=expected))


@bp.route("/tasks/<int:task_id>/percent", methods=["POST"])
@login_required
def task_percent(task_id: int):
    task = task_or_404(task_id)
    form = PercentForm()
    if not form.validate():
        return _respond(task, 422, form_errors(form))
    return _run(task, lambda: update_percent(task, current_user, form.percent.data, expected_version=form.version.data))


@bp.route("/tasks/<int:task_id>/comments", methods=["POST"])
@login_required
def task_comment(task_id: int):
    task = task_or_404(task_id)
    form = CommentForm()
    if not form.validate():
        return _respond(task, 422, form_errors(form))
    return _run(task, lambda: add_comment(task, current_user, form.text.data))


@bp.route("/tasks/<int:task_id>/evidence", methods=["POST"])
@login_required
def task_evidence(task_id: int):
    task = task_or_404(task_id)
    form = EvidenceForm()
    if not form.validate():
        return _respond(task, 422, form_errors(form))
    supersedes = None
    if form.supersedes.data:
        supersedes = db.session.get(Evidence, int(form.supersedes.data)) if form.supersedes.data.isdigit() else None
        if supersedes is None or supersedes.task_id != task.id:
            return _respond(task, 422, _("That evidence cannot be replaced."))
    upload = form.file.data
    return _run(
        task,
        lambda: evidence_service.add_file(
            task, current_user, upload.stream, upload.filename or "", form.note.data or "", supersedes
        ),
    )


@bp.route("/evidence/<int:evidence_id>")
@login_required
def evidence_download(evidence_id: int):
    item = db.session.get(Evidence, evidence_id)
    if item is None or item.kind != "file" or not can_view_task(current_user, item.task):
        abort(404)
    return send_stored(item.stored_name, item.original_name, item.mime_type)


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@login_required
def task_edit(task_id: int):
    task = task_or_404(task_id)
    if not actor_for(current_user, task).is_coordinator:
        abort(403)
    form = EditTaskForm(obj=task if request.method == "GET" else None)
    if request.method == "GET":
        form.owner.set_unit(task.owner_unit)
        form.co_owners.data = ", ".join(u.code for u in task.co_owners)
        return render("plans/task.html", block="panel", **_panel_context(task, edit_form=form))
    if not form.validate():
        return _respond(task, 422, form_errors(form), edit_form=form)
    co_owners, unknown = resolve_units(split_unit_list(form.co_owners.data or ""))
    if unknown:
        form.co_owners.errors = [_("No unit found: %(text)s", text="、".join(unknown))]
        return _respond(task, 422, form_errors(form), edit_form=form)
    values = {
        "title": form.title.data.strip(),
        "description": form.description.data or "",
        "owner_unit_id": form.owner.unit.id,
        "due_on": form.due_on.data,
        "deliverable": (form.deliverable.data or "").strip(),
        "weight": form.weight.data,
    }
    return _run(
        task,
        lambda: edit_task(
            task,
            current_user,
            values,
            [u.id for u in co_owners],
            expected_version=form.version.data,
            comment=form.comment.data or "",
        ),
        edit_form=form,
    )
