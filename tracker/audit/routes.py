"""The audit view (/admin/audit): the journals of tasks, users, units and plans, filtered and
keyset-paged, and its .xlsx export. Admins and leaders read all of it, a coordinator what is
about their unit's subtree (tracker/auth/scope.py journal_scope), a reporter nothing (403).
Thin: the queries are tracker/audit/view.py."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from tracker.audit.forms import AuditFilterForm
from tracker.audit.labels import SUBJECT_LABELS
from tracker.auth.scope import journal_scope
from tracker.audit.view import KINDS, AuditFilters, AuditPage, Cursor, action_choices, audit_page, audit_rows
from tracker.progress.export import ExportColumn, send_xlsx
from tracker.timeutil import local_today
from tracker.web import localdt, render, wants_fragment

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


READERS = ("admin", "leader", "coordinator")


def _require_reader() -> None:
    """Admins and leaders read every journal, coordinators their subtree's; reporters: 403."""
    if current_user.role not in READERS:
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


def export_cap() -> int:
    return int(current_app.config.get("AUDIT_EXPORT_MAX_ROWS", 20_000))


@bp.route("/export.xlsx")
@login_required
def journal_export():
    _require_reader()
    form = _form()
    if not form.validate():
        abort(400)
    cap = export_cap()
    columns = [
        ExportColumn(_("Time"), 18),
        ExportColumn(_("Changed by"), 16),
        ExportColumn(_("Object"), 10),
        ExportColumn(_("What"), 36),
        ExportColumn(_("Unit"), 24),
        ExportColumn(_("Action"), 16),
        ExportColumn(_("Field"), 14),
        ExportColumn(_("Old value"), 24),
        ExportColumn(_("New value"), 24),
        ExportColumn(_("Reason or note"), 30),
    ]

    def rows():
        for row in audit_rows(_filters(form), cap):
            yield [
                localdt(row.at, "yyyy-MM-dd HH:mm:ss"),
                row.actor.display_name if row.actor else _("System"),
                row.subject_kind,
                row.subject_label,
                row.unit.name if row.unit else "",
                row.action_label,
                row.field_label,
                row.old_text,
                row.new_text,
                row.comment_text,
            ]

    preamble = [
        _("Audit log as of %(day)s", day=local_today().isoformat()),
        _("At most %(n)d rows, newest first: narrow the filters for older ones.", n=cap),
    ]
    return send_xlsx("audit-log.xlsx", _("Audit log"), columns, rows(), preamble)
