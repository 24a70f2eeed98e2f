"""A recurring duty's page: its rule (iCalendar RRULE), the dates it gives and its occurrences."""

from __future__ import annotations

from datetime import date
from typing import Optional

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.cascade.service import CascadeError, can_cascade
from tracker.duties.forms import RuleForm
from tracker.duties.rules import RuleError, describe
from tracker.duties.service import change_rule
from tracker.extensions import db
from tracker.models import Task
from tracker.models.cascade import Occurrence
from tracker.plans.operations import NotAllowed
from tracker.tasks.recurrence import duty_bounds
from tracker.timeutil import local_today
from tracker.web import form_errors, render, task_or_404

bp = Blueprint("duties", __name__)

OCCURRENCE_LIMIT = 24


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
    occurrences = list(
        db.session.scalars(
            select(Task)
            .join(Occurrence, Occurrence.task_id == Task.id)
            .where(Occurrence.duty_task_id == task.id)
            .order_by(Occurrence.due_on.desc())
            .limit(OCCURRENCE_LIMIT)
        )
    )
    return render(
        "duties/recurrence.html",
        status=status,
        task=task,
        form=form,
        error=error,
        upcoming=upcoming,
        occurrences=occurrences,
        can_edit=can_cascade(current_user, task),
    )


@bp.route("/tasks/<int:task_id>/recurrence", methods=["GET", "POST"])
@login_required
def recurrence_page(task_id: int):
    task = task_or_404(task_id)
    if request.method == "GET":
        form = RuleForm(formdata=None)
        form.show_rule(task.recurrence or "")
        return _rule_context(task, form)
    if not can_cascade(current_user, task):
        abort(403)
    form = RuleForm()
    if not form.validate():
        return _rule_context(task, form, form_errors(form), 400)
    try:
        report = change_rule(task, current_user, form.rule_value(), comment=form.comment.data or "")
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except CascadeError as exc:
        db.session.rollback()
        return _rule_context(task, form, str(exc), 400)
    if report is not None:
        flash(
            _(
                "Rule saved: %(created)d occurrences made, %(superseded)d future ones cancelled.",
                created=report.created,
                superseded=report.superseded,
            ),
            "success",
        )
    return redirect(url_for("duties.recurrence_page", task_id=task.id), code=303)
