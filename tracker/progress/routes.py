"""Progress pages: unit matrix, phases, ranking, leadership summary, and their exports."""
from __future__ import annotations

import io

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import OrgUnit, Plan
from tracker.plans.forms import TaskFilterForm
from tracker.plans.service import get_plan
from tracker.progress import exports, service
from tracker.progress.charts import gantt_option
from tracker.progress.risk import risks_at, unit_phase_risks
from tracker.timeutil import local_today
from tracker.web import chosen_unit, render, unit_trail

bp = Blueprint("progress", __name__)


def cell_labels() -> dict:
    """The matrix cells' two messages, translated once per page rather than once per cell."""
    return {"title": _("%(done)d of %(items)d done, %(overdue)d overdue"), "overdue": _("%(n)d overdue")}


def _plan_or_404(key: str) -> Plan:
    plan = get_plan(key)
    if plan is None:
        abort(404)
    return plan


@bp.route("/progress/<key>")
@login_required
def matrix(key: str):
    plan = _plan_or_404(key)
    unit = chosen_unit()
    by = "phases" if request.args.get("by") == "phases" else "sections"
    result = service.unit_matrix(plan, unit, by, local_today())
    risks = unit_phase_risks(plan, unit, local_today(), cells=result.cells) if by == "phases" else {}
    block = "matrix" if request.headers.get("HX-Target") == "matrix" else "content"
    return render("progress/matrix.html", block=block, m=result, trail=unit_trail(unit), by=by, risks=risks,
                  labels=cell_labels())


@bp.route("/progress/<key>/matrix.<fmt>")
@login_required
def matrix_export(key: str, fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    plan = _plan_or_404(key)
    unit = chosen_unit()
    by = "phases" if request.args.get("by") == "phases" else "sections"
    result = service.unit_matrix(plan, unit, by, local_today())
    columns, rows = exports.matrix_table(result)
    return exports.send_table(fmt, f"{plan.key}-{unit.code}-matrix", _("Progress by unit"), columns, lambda: rows,
                              preamble=[f"{plan.title}（{unit.name}）", _("As of %(day)s", day=local_today().isoformat())])


@bp.route("/progress/<key>/timeline")
@login_required
def timeline(key: str):
    plan = _plan_or_404(key)
    unit = chosen_unit()
    today = local_today()
    data = service.timeline(plan, unit, today)
    children = db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.position, OrgUnit.code)).all()
    return render("progress/timeline.html", t=data, today=today, trail=unit_trail(unit), children=children,
                  option=gantt_option(data, today))


@bp.route("/progress/<key>/phases")
@login_required
def phases(key: str):
    plan = _plan_or_404(key)
    summaries = service.phase_summaries(plan, current_user, local_today())
    return render("progress/phases.html", plan=plan, summaries=summaries)


@bp.route("/progress/<key>/phases.<fmt>")
@login_required
def phases_export(key: str, fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    plan = _plan_or_404(key)
    summaries = service.phase_summaries(plan, current_user, local_today(), with_burnup=False)
    columns, rows = exports.phase_table(summaries)
    return exports.send_table(fmt, f"{plan.key}-phases", _("Progress by phase"), columns, lambda: rows,
                              preamble=[plan.title, _("As of %(day)s", day=local_today().isoformat())])


@bp.route("/ranking")
@login_required
def ranking():
    unit = chosen_unit()
    plan = get_plan(request.args.get("plan", "")) if request.args.get("plan") else None
    ranked = service.ranking(unit, local_today(), plan)
    plans = db.session.scalars(select(Plan).order_by(Plan.key)).all()
    return render("progress/ranking.html", ranked=ranked, unit=unit, plan=plan, plans=plans, trail=unit_trail(unit))


@bp.route("/ranking.<fmt>")
@login_required
def ranking_export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    unit = chosen_unit()
    plan = get_plan(request.args.get("plan", "")) if request.args.get("plan") else None
    columns, rows = exports.ranking_table(service.ranking(unit, local_today(), plan))
    return exports.send_table(fmt, f"ranking-{unit.code}", _("Ranking"), columns, lambda: rows,
                              preamble=[(plan.title if plan else _("All plans")) + f"（{unit.name}）",
                                        _("As of %(day)s", day=local_today().isoformat())])


@bp.route("/leadership")
@login_required
def leadership():
    unit = chosen_unit()
    summary = service.leadership_summary(current_user, unit, local_today())
    return render("progress/leadership.html", s=summary, unit=unit, today=local_today(), trail=unit_trail(unit),
                  risks=risks_at(unit, [plan for plan, _f, _p in summary.plans], local_today()))


@bp.route("/tasks/export.<fmt>")
@login_required
def tasks_export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form = TaskFilterForm(request.args)
    if request.args and not form.validate():
        abort(400)
    plan = get_plan(request.args["plan"]) if request.args.get("plan") else None
    filters = form.filters(plan.id if plan else None)
    columns = exports.task_columns()
    return exports.send_table(fmt, "tasks", _("Tasks"), columns,
                              lambda: exports.task_rows(current_user, filters),
                              preamble=[_("As of %(day)s", day=local_today().isoformat())])


@bp.route("/leadership/circular.docx")
@login_required
def circular():
    """A draft circular (通报) of the leadership screen's figures, to edit in a word processor."""
    from flask import send_file

    from tracker.progress.circular import build_circular

    unit = chosen_unit()
    today = local_today()
    summary = service.leadership_summary(current_user, unit, today)
    data = build_circular(unit, summary, service.ranking(unit, today), today,
                          masthead=request.args.get("masthead", "1") != "0")
    return send_file(io.BytesIO(data), as_attachment=True, download_name=f"通报-{unit.code}-{today.isoformat()}.docx",
                     mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
