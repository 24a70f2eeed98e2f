"""The overdue explanation form on the task page, and the explanation rates for leaders."""

from flask import Blueprint, abort
from flask_login import current_user, login_required

from tracker.auth.scope import can_change_task
from tracker.explanations import service
from tracker.explanations.forms import ExplanationForm
from tracker.extensions import db
from tracker.timeutil import local_today
from tracker.web import chosen_unit, render, task_or_404, unit_trail

bp = Blueprint("explanations", __name__)


@bp.route("/tasks/<int:task_id>/explanation", methods=["POST"])
@login_required
def explain(task_id: int):
    from tracker.plans.task_routes import _respond

    task = task_or_404(task_id)
    if not can_change_task(current_user, task):
        abort(403)
    form = ExplanationForm()
    if not form.validate_on_submit():
        message = "; ".join(str(e) for field in form for e in field.errors) or None
        return _respond(task, status=400, error=message, explanation_form=form)
    try:
        service.explain(task, current_user, form.reason.data, form.detail.data, form.committed_on.data)
    except service.ExplanationError as exc:
        db.session.rollback()
        return _respond(task, status=400, error=str(exc), explanation_form=form)
    db.session.commit()
    return _respond(task)


@bp.route("/explanations")
@login_required
def rates():
    unit = chosen_unit()
    return render(
        "explanations/rates.html",
        rows=service.explanation_rates(unit, local_today()),
        unit=unit,
        trail=unit_trail(unit),
    )
