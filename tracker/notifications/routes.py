"""Inbox, unread badge, "overdue and escalated" list, and the escalation rules (admin)."""

import json
from datetime import date
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from tracker.auth.scope import can_view_unit
from tracker.explanations.service import REASONS, explanations_for
from tracker.extensions import db
from tracker.models import Plan
from tracker.models.notify import KINDS
from tracker.notifications import service
from tracker.notifications.forms import INBOX_SORTS, InboxFilterForm, OverdueFilterForm, RulesForm
from tracker.plans.list_routes import bulk_context, saved_filters_context
from tracker.plans.saved_filters import filter_query
from tracker.notifications.overdue_form import overdue_form
from tracker.notifications.rules import RuleError, rules_for, save_rules, save_unsigned_rule, unsigned_rule
from tracker.timeutil import local_today
from tracker.web import fragment_response, page_number, page_size, render, safe_next, wants_fragment

bp = Blueprint("notifications", __name__)


def inbox_filters(args) -> tuple[InboxFilterForm, service.InboxFilters, bool]:
    """The inbox's filter form read from `args`, the filters it gives (none when invalid: its
    errors are shown next to their fields), and whether it was valid."""
    plans = list(db.session.scalars(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)))
    form = InboxFilterForm(args, plans=plans)
    if args.get("unread") == "1" and not args.get("state"):
        form.state.data = "unread"  # the old "unread only" link
    valid = form.validate() if args else True
    if not valid:
        return form, service.InboxFilters(), False
    plan_id = next((p.id for p in plans if p.key == form.plan.data), None)
    filters = service.InboxFilters(
        kind=form.kind.data or "",
        state=form.state.data or "",
        day_from=form.day_from.data,
        day_to=form.day_to.data,
        plan_id=plan_id,
        sort=form.sort.data if form.sort.data in INBOX_SORTS else "new",
    )
    return form, filters, True


def _inbox_url() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return url_for("notifications.inbox") + (f"?{query}" if query else "")


@bp.route("/notifications")
@login_required
def inbox():
    form, filters, valid = inbox_filters(request.args)
    page = service.inbox_page(current_user, page_number(), page_size(), filters=filters)
    explained = explanations_for([n.task_id for n in page.items])
    block = "list" if request.headers.get("HX-Target") == "inbox-list" else "content"
    return render(
        "notifications/inbox.html",
        block=block,
        page=page,
        form=form,
        filters=filters,
        next_url=_inbox_url(),
        explained=explained,
        groups=service.inbox_groups(current_user, [n.day for n in page.items]),
        unread=service.unread_count(current_user),
        status=200 if valid else 400,
    )


@bp.route("/notifications/read-selected", methods=["POST"])
@login_required
def read_selected():
    """标记已读 on the ticked notices (scope "selected"), or on every notice matching the inbox's
    current filters (scope "matching": the whole filtered result, not only its page). The
    filters are those of the list the form came from (`next`). For HTMX the result in
    #inbox-result, the badge out of band and a `bulk-done` event that reloads the list."""
    back = safe_next(request.form.get("next"), url_for("notifications.inbox"))
    if not back.startswith(url_for("notifications.inbox")):
        back = url_for("notifications.inbox")
    scope = request.form.get("scope")
    if scope == "matching":
        _form, filters, valid = inbox_filters(MultiDict(parse_qsl(urlsplit(back).query, keep_blank_values=True)))
        if not valid:
            abort(400)
        count = service.mark_matching_read(current_user, filters)
    elif scope == "selected":
        ids = [int(v) for v in request.form.getlist("notice") if v.isdigit() and len(v) < 12]
        if not ids:
            message = _("Select at least one notice first.")
            if not wants_fragment():
                flash(message, "warning")
                return redirect(back, code=303)
            return fragment_response(render_block("notifications/inbox.html", "result", message=message, ok=False), 422)
        count = service.mark_selected_read(current_user, ids)
    else:
        abort(400)
    db.session.commit()
    message = _("%(n)d notifications marked read.", n=count)
    if not wants_fragment():
        flash(message, "success")
        return redirect(back, code=303)
    body = render_block("notifications/inbox.html", "result", message=message, ok=True)
    body += render_block("notifications/_badge.html", "badge", unread=service.unread_count(current_user), oob=True)
    response = fragment_response(body)
    response.headers["HX-Trigger"] = json.dumps({"bulk-done": {"refresh": "#inbox-list"}})
    return response


@bp.route("/notifications/badge")
@login_required
def badge():
    if not wants_fragment():
        return redirect(url_for("notifications.inbox"))
    return render("notifications/_badge.html", block="badge", unread=service.unread_count(current_user))


def _after_change(notification=None):
    if not wants_fragment():
        return redirect(safe_next(request.form.get("next"), url_for("notifications.inbox")), code=303)
    unread = service.unread_count(current_user)
    body = ""
    if notification is not None:
        body += render_block("notifications/inbox.html", "item", n=notification)
    body += render_block("notifications/_badge.html", "badge", unread=unread, oob=True)
    return fragment_response(body)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int):
    if not service.mark_read(current_user, notification_id):
        abort(404)
    db.session.commit()
    notification = db.session.get(service.Notification, notification_id)
    return _after_change(notification)


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    count = service.mark_all_read(current_user)
    db.session.commit()
    if not wants_fragment():
        flash(_("%(n)d notifications marked read.", n=count), "success")
        return redirect(url_for("notifications.inbox"), code=303)
    response = fragment_response(render_block("notifications/_badge.html", "badge", unread=0, oob=True))
    response.headers["HX-Refresh"] = "true"
    return response


@bp.route("/notifications/read-group", methods=["POST"])
@login_required
def read_group():
    """Mark read one group of the inbox: the notices of one kind and day."""
    try:
        day = date.fromisoformat(request.form.get("day") or "")
    except ValueError:
        abort(400)
    kind = request.form.get("kind") or ""
    if kind not in KINDS:
        abort(400)
    count = service.mark_group_read(current_user, day, kind)
    db.session.commit()
    if not wants_fragment():
        flash(_("%(n)d notifications marked read.", n=count), "success")
        return redirect(url_for("notifications.inbox"), code=303)
    response = fragment_response(
        render_block("notifications/_badge.html", "badge", unread=service.unread_count(current_user), oob=True)
    )
    response.headers["HX-Refresh"] = "true"
    return response


def overdue_filters(args, today: date) -> tuple[OverdueFilterForm, service.OverdueFilters, bool]:
    """The overdue list's filter form read from `args` (its choices: every plan by title, the
    chosen plan's phases, the people named on overdue tasks one sees), the filters it gives (none
    but the order when invalid: the errors are next to their fields), and whether it was valid."""
    form, plan = overdue_form(args, current_user, today)
    valid = form.validate() if args else True
    unit = form.unit.unit if valid and form.unit.data else None
    if unit is not None and not can_view_unit(current_user, unit):
        abort(404)  # a unit outside one's reach does not exist for them
    if not valid:
        sort = form.sort.data if not form.sort.errors else "due"
        return form, service.OverdueFilters(sort=sort or "due"), False
    return (
        form,
        service.OverdueFilters(
            unit=unit,
            plan_id=plan.id if plan is not None else None,
            phase_id=int(form.phase.data) if form.phase.data else None,
            status=form.status.data or "",
            responsible_id=int(form.responsible.data) if form.responsible.data else None,
            late_days=int(form.late.data) if form.late.data else 0,
            escalated_only=bool(form.escalated.data),
            sort=form.sort.data or "due",
        ),
        True,
    )


@bp.route("/overdue")
@login_required
def overdue():
    today = local_today()
    form, filters, valid = overdue_filters(request.args, today)
    page, levels = service.overdue_page(current_user, today, page_number(), page_size(), filters=filters)
    block = "results" if request.headers.get("HX-Target") == "results" else "content"
    next_url = url_for("notifications.overdue") + (
        f"?{request.query_string.decode('utf-8', 'replace')}" if request.query_string else ""
    )
    return render(
        "notifications/overdue.html",
        block=block,
        page=page,
        levels=levels,
        form=form,
        filters=filters,
        explanations=explanations_for([t.id for t in page.items]),
        explanation_reasons=REASONS,
        errors=[]
        if valid
        else [f"{getattr(form, n).label.text}: {' '.join(map(str, e))}" for n, e in form.errors.items()],
        phase_oob=block == "results",
        bulk=bulk_context("overdue", next_url),
        **saved_filters_context(filter_query(request.args, "overdue"), list_name="overdue"),
        today=today,
        status=200 if valid else 400,
    )


@bp.route("/admin/escalation-rules", methods=["GET", "POST"])
@login_required
def rules():
    if current_user.role != "admin":
        abort(403)
    key = request.values.get("plan") or ""
    plan = db.session.scalar(select(Plan).where(Plan.key == key)) if key else None
    if key and plan is None:
        abort(404)
    form = RulesForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                save_rules(plan, form.values())
                if plan is None and form.unsigned_days.data is not None:
                    save_unsigned_rule(form.unsigned_days.data, form.unsigned_active.data)
            except RuleError as exc:
                db.session.rollback()
                form.form_errors.append(str(exc))
                status = 400
            else:
                db.session.commit()
                flash(_("Escalation rules saved."), "success")
                return redirect(url_for("notifications.rules", plan=key or None), code=303)
        else:
            status = 400
    else:
        form.fill(rules_for(plan))
        form.unsigned_days.data, form.unsigned_active.data = unsigned_rule()
    plans = db.session.scalars(select(Plan).order_by(Plan.key)).all()
    return render("notifications/rules.html", form=form, plan=plan, plans=plans, rows=rules_for(plan), status=status)
