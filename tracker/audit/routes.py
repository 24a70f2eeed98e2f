"""The audit view (/admin/audit): the journals of tasks, users, units and plans, filtered and
keyset-paged, and its .xlsx export. Admins and leaders read all of it, a coordinator what is
about their unit's subtree (tracker/auth/scope.py journal_scope), a reporter nothing (403).
Thin: the queries are tracker/audit/view.py."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from tracker.audit.forms import AuditFilterForm
from tracker.audit.labels import SUBJECT_LABELS
from tracker.auth.scope import journal_scope
from tracker.audit import export as audit_export
from tracker.audit.view import KINDS, AuditFilters, AuditPage, Cursor, action_choices, audit_count, audit_page
from tracker.exports.jobs import background_job
from tracker.extensions import db
from tracker.models.exports import AUDIT
from tracker.progress.export import send_xlsx
from tracker.web import render, wants_fragment

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


def _require_reader() -> None:
    """Admins and leaders read every journal, coordinators their subtree's; reporters: 403."""
    if not audit_export.may_read_audit_log(current_user):
        abort(403)


def _form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.scope = journal_scope(current_user)
    form.action.choices = [SelectChoice("", _("Any action"))] + [
        SelectChoice(c, label) for c, label in action_choices()
    ]
    form.kind.choices = [SelectChoice("", _("Anything"))] + [SelectChoice(k, SUBJECT_LABELS[k]) for k in KINDS]
    return form


def _filters(form: AuditFilterForm) -> AuditFilters:
    return AuditFilters(
        user_ids=[u.id for u in form.users] if form.user.data else None,
        unit=form.unit.unit,
        day_from=form.day_from.data,
        day_to=form.day_to.data,
        action=form.action.data or "",
        kind=form.kind.data or "",
        scope=form.scope,
    )


@bp.route("")
@login_required
def journal_page():
    _require_reader()
    form = _form()
    if not form.validate():
        return render(
            "audit/journal.html",
            block="results",
            status=422,
            form=form,
            page=AuditPage(),
            invalid=True,
            oob_form=wants_fragment(),
        )
    page = audit_page(_filters(form), Cursor.parse(request.args.get("after")))
    export_url = url_for("audit.journal_export", **{k: v for k, v in request.args.items() if k != "after"})
    return render("audit/journal.html", block="results", form=form, page=page, invalid=False, export_url=export_url)


@bp.route("/export.xlsx")
@login_required
def journal_export():
    """A small result streams at once; a large one becomes a background job (its progress page
    polls, tracker/exports/), kept for its owner alone for a day."""
    _require_reader()
    form = _form()
    if not form.validate():
        abort(400)
    filters = _filters(form)
    threshold = audit_export.background_threshold()
    if audit_count(filters, threshold + 1) > threshold:
        args = audit_export.filters_to_args(filters)
        job = background_job(current_user, AUDIT, "xlsx", args, str(get_locale() or "zh"))
        db.session.commit()
        return redirect(url_for("exports.job_page", job_id=job.id), 303)
    cap = audit_export.export_cap()
    rows = audit_export.audit_cells_of(filters, cap)
    return send_xlsx(
        "audit-log.xlsx",
        audit_export.audit_title(),
        audit_export.audit_columns(),
        rows,
        audit_export.audit_preamble(cap),
    )
