"""Progress pages: unit matrix, phases, ranking, leadership summary, and their exports."""
from __future__ import annotations

import io

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.auth.service import unit_by_code
from tracker.extensions import db
from tracker.models import OrgUnit, Plan
from tracker.plans.forms import TaskFilterForm
from tracker.plans.service import get_plan
from tracker.progress import exports, service
from tracker.progress.risk import risks_at, unit_phase_risks
from tracker.timeutil import local_today
from tracker.web import render

bp = Blueprint("progress", __name__)


def _root_unit() -> OrgUnit:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.position, OrgUnit.id))


def chosen_unit() -> OrgUnit:
    """The unit named by ?unit=CODE, which must lie within the user's reach (else 404)."""
    code = (request.args.get("unit") or "").strip()
    default = _root_unit() if current_user.sees_everything else current_user.unit
    if not code:
        return default
    unit = unit_by_code(code)
    if unit is None or not (current_user.sees_everything or unit.is_within(current_user.unit)):
        abort(404)
    return unit


def _plan_or_404(key: str) -> Plan:
    plan = get_plan(key)
    if plan is None:
        abort(404)
    return plan


def _trail(unit: OrgUnit) -> list[OrgUnit]:
    """The units from the user's top unit down to `unit`, for the drill-down breadcrumb."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    units = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    trail = [units[i] for i in ids if i in units]
    if not current_user.sees_everything:
        trail = [u for u in trail if u.is_within(current_user.unit)]
    return trail


@bp.route("/progress/<key>")
@login_required
def matrix(key: str):
    plan = _plan_or_404(key)
    unit = chosen_unit()
    by = "phases" if request.args.get("by") == "phases" else "sections"
    result = service.unit_matrix(plan, unit, by, local_today())
    risks = unit_phase_risks(plan, unit, local_today()) if by == "phases" else {}
    block = "matrix" if request.headers.get("HX-Target") == "matrix" else "content"
    return render("progress/matrix.html", block=block, m=result, trail=_trail(unit), by=by, risks=risks)


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
    return render("progress/timeline.html", t=data, today=today, trail=_trail(unit), children=children,
                  option=_gantt_option(data, today))


def _gantt_option(t, today) -> dict:
    """An ECharts option (JSON only: charts.js supplies the bar drawing for "gantt" series)."""
    categories = [f"{r.section.ref} {r.section.title}" for r in t.rows]
    index = {r.section.id: i for i, r in enumerate(t.rows)}
    bars = [[i, r.first.isoformat() if r.first else None, r.last.isoformat() if r.last else None, r.figures.completion]
            for i, r in enumerate(t.rows) if r.first and r.last]
    overdue = [{"value": [index[sid], task.due_on.isoformat()],
                "name": f"{task.ref.split('@')[0]} {task.title}（{task.owner_unit.name if task.owner_unit else ''}）"}
               for sid, task in t.overdue if sid in index]
    phase_areas = [[{"name": p.name, "xAxis": p.start_on.isoformat()}, {"xAxis": p.end_on.isoformat()}]
                   for p in t.phases if p.start_on and p.end_on]
    return {
        "tooltip": {"trigger": "item"},
        "grid": {"left": 220, "right": 30, "top": 40, "bottom": 40},
        "xAxis": {"type": "time", "max": max(filter(None, [t.end, today])).isoformat() if (t.end or today) else None},
        "yAxis": {"type": "category", "data": categories, "inverse": True, "axisLabel": {"width": 200, "overflow": "truncate"}},
        "series": [
            {"type": "custom", "renderItem": "gantt", "name": _("Work items"), "encode": {"x": [1, 2], "y": 0},
             "data": bars, "markArea": {"silent": True, "itemStyle": {"color": "rgba(13,110,253,0.06)"},
                                        "label": {"position": "insideTop"}, "data": phase_areas}},
            {"type": "custom", "renderItem": "overdue", "name": _("Overdue"), "z": 10, "data": overdue,
             "encode": {"x": 1, "y": 0},
             "markLine": {"symbol": "none", "lineStyle": {"color": "#198754", "width": 2}, "label": {"formatter": _("Today")},
                          "data": [{"xAxis": today.isoformat()}]}},
        ],
    }


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
    return render("progress/ranking.html", ranked=ranked, unit=unit, plan=plan, plans=plans, trail=_trail(unit))


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
    return render("progress/leadership.html", s=summary, unit=unit, today=local_today(), trail=_trail(unit),
                  risks=risks_at(unit, [plan for plan, _f, _p in summary.plans], local_today()))


@bp.route("/tasks/export.<fmt>")
@login_required
def tasks_export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    from tracker.plans.routes import _filters_from

    form = TaskFilterForm(request.args)
    if request.args and not form.validate():
        abort(400)
    plan = get_plan(request.args["plan"]) if request.args.get("plan") else None
    filters = _filters_from(form, plan.id if plan else None)
    columns = exports.TASK_COLUMNS()
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
