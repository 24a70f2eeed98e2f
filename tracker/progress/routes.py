"""Progress pages: unit matrix, phases, ranking, leadership summary, and their exports."""

from __future__ import annotations

import io

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker.exports.jobs import background_export_for
from tracker.extensions import db
from tracker.models import OrgUnit, Plan
from tracker.plans.list_filters import task_filter_form
from tracker.plans.service import get_plan
from tracker.progress import exports, service
from tracker.progress.export import table_file
from tracker.progress.pages import cached_file, cached_page
from tracker.progress.charts import gantt_option
from tracker.progress.risk import risks_at, unit_phase_risks
from tracker.timeutil import local_today
from tracker.web import chosen_unit, unit_trail

bp = Blueprint("progress", __name__)


def cell_labels() -> dict:
    """The matrix cells' two messages, translated once per page rather than once per cell."""
    return {"title": _("%(done)d of %(items)d done, %(overdue)d overdue"), "overdue": _("%(n)d overdue")}


def _plan_or_404(key: str) -> Plan:
    plan = get_plan(key)
    if plan is None:
        abort(404)
    return plan


def _trail_key():
    """What the breadcrumb depends on besides the unit: how far up the user may see."""
    return None if current_user.sees_everything else current_user.unit_id


@bp.route("/progress/<key>")
@login_required
def matrix(key: str):
    plan = _plan_or_404(key)
    unit = chosen_unit()
    by = "phases" if request.args.get("by") == "phases" else "sections"
    block = "matrix" if request.headers.get("HX-Target") == "matrix" else "content"
    today = local_today()

    def context() -> dict:
        result = service.unit_matrix(plan, unit, by, today)
        risks = unit_phase_risks(plan, unit, today, cells=result.cells) if by == "phases" else {}
        return dict(m=result, trail=unit_trail(unit), by=by, risks=risks, labels=cell_labels())

    return cached_page(
        "progress/matrix.html", ("matrix", plan.id, unit.id, by, _trail_key()), today, context, block=block
    )


@bp.route("/progress/<key>/matrix.<fmt>")
@login_required
def matrix_export(key: str, fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    plan = _plan_or_404(key)
    unit = chosen_unit()
    by = "phases" if request.args.get("by") == "phases" else "sections"
    today = local_today()

    def build():
        columns, rows = exports.matrix_table(service.unit_matrix(plan, unit, by, today))
        return table_file(
            fmt,
            f"{plan.key}-{unit.code}-matrix",
            _("Progress by unit"),
            columns,
            rows,
            preamble=[f"{plan.title}（{unit.name}）", _("As of %(day)s", day=today.isoformat())],
        )

    return cached_file(("matrix", fmt, plan.id, unit.id, by), today, build)


@bp.route("/progress/<key>/timeline")
@login_required
def timeline(key: str):
    plan = _plan_or_404(key)
    unit = chosen_unit()
    today = local_today()

    def context() -> dict:
        data = service.timeline(plan, unit, today)
        children = db.session.scalars(
            select(OrgUnit).where(OrgUnit.parent_id == unit.id).order_by(OrgUnit.position, OrgUnit.code)
        ).all()
        return dict(t=data, today=today, trail=unit_trail(unit), children=children, option=gantt_option(data, today))

    return cached_page("progress/timeline.html", ("timeline", plan.id, unit.id, _trail_key()), today, context)


@bp.route("/progress/<key>/phases")
@login_required
def phases(key: str):
    plan = _plan_or_404(key)
    today = local_today()

    def context() -> dict:
        return dict(plan=plan, summaries=service.phase_summaries(plan, current_user, today))

    # a user who does not see everything gets the figures of the tasks they may see: not cached
    return cached_page(
        "progress/phases.html", ("phases", plan.id), today, context, cacheable=current_user.sees_everything
    )


@bp.route("/progress/<key>/phases.<fmt>")
@login_required
def phases_export(key: str, fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    plan = _plan_or_404(key)
    today = local_today()

    def build():
        columns, rows = exports.phase_table(service.phase_summaries(plan, current_user, today, with_burnup=False))
        return table_file(
            fmt,
            f"{plan.key}-phases",
            _("Progress by phase"),
            columns,
            rows,
            preamble=[plan.title, _("As of %(day)s", day=today.isoformat())],
        )

    return cached_file(("phases", fmt, plan.id), today, build, cacheable=current_user.sees_everything)


@bp.route("/ranking")
@login_required
def ranking():
    unit = chosen_unit()
    plan = get_plan(request.args.get("plan", "")) if request.args.get("plan") else None
    today = local_today()

    def context() -> dict:
        return dict(
            ranked=service.ranking(unit, today, plan),
            unit=unit,
            plan=plan,
            plans=db.session.scalars(select(Plan).order_by(Plan.key)).all(),
            trail=unit_trail(unit),
        )

    return cached_page(
        "progress/ranking.html", ("ranking", unit.id, plan.id if plan else None, _trail_key()), today, context
    )


@bp.route("/ranking.<fmt>")
@login_required
def ranking_export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    unit = chosen_unit()
    plan = get_plan(request.args.get("plan", "")) if request.args.get("plan") else None
    today = local_today()

    def build():
        columns, rows = exports.ranking_table(service.ranking(unit, today, plan))
        return table_file(
            fmt,
            f"ranking-{unit.code}",
            _("Ranking"),
            columns,
            rows,
            preamble=[
                (plan.title if plan else _("All plans")) + f"（{unit.name}）",
                _("As of %(day)s", day=today.isoformat()),
            ],
        )

    return cached_file(("ranking", fmt, unit.id, plan.id if plan else None), today, build)


@bp.route("/leadership")
@login_required
def leadership():
    unit = chosen_unit()
    today = local_today()

    def context() -> dict:
        summary = service.leadership_summary(current_user, unit, today)
        return dict(
            s=summary,
            unit=unit,
            today=today,
            trail=unit_trail(unit),
            risks=risks_at(unit, [plan for plan, _f, _p in summary.plans], today),
            may_instruct=may_instruct,
        )

    # 批示 on a unit's row is a leader's (and an admin's): the cached content differs by that only
    may_instruct = current_user.role in ("leader", "admin")
    return cached_page("progress/leadership.html", ("leadership", unit.id, _trail_key(), may_instruct), today, context)


@bp.route("/tasks/export.<fmt>")
@login_required
def tasks_export(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form, plan = task_filter_form(request.args, current_user)  # the task list's filters
    if request.args and not form.validate():
        abort(400)
    filters = form.filters(plan.id if plan else None, current_user)
    job = background_export_for(current_user, fmt, filters, str(get_locale() or "zh"))
    if job is not None:
        db.session.commit()
        return redirect(url_for("exports.job_page", job_id=job.id), 303)
    columns = exports.task_columns()
    return exports.send_table(
        fmt,
        "tasks",
        _("Tasks"),
        columns,
        lambda: exports.task_rows(current_user, filters),
        preamble=[_("As of %(day)s", day=local_today().isoformat())],
    )


@bp.route("/leadership/circular.docx")
@login_required
def circular():
    """A draft circular (通报) of the leadership screen's figures, to edit in a word processor."""
    from flask import send_file

    from tracker.progress.circular import build_circular

    unit = chosen_unit()
    today = local_today()
    summary = service.leadership_summary(current_user, unit, today)
    data = build_circular(
        unit, summary, service.ranking(unit, today), today, masthead=request.args.get("masthead", "1") != "0"
    )
    return send_file(
        io.BytesIO(data),
        as_attachment=True,
        download_name=f"通报-{unit.code}-{today.isoformat()}.docx",
        mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
