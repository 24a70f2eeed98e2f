"""Accounts pages (/admin/users): thin; the rules are in tracker/users/service.py."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from tracker.auth.service import UserError
from tracker.auth.sessions import count_sessions
from tracker.extensions import db
from tracker.models import AuditEntry
from tracker.models.org import ROLES
from tracker.sheets import SheetRefused
from tracker.users import importer
from tracker.users.forms import AccountFilterForm, AccountForm, ReasonForm, SheetForm
from tracker.users.service import (
    ROLE_LABELS,
    AccountFilters,
    AccountValues,
    NotAllowed,
    account_for,
    accounts_page,
    assignable_roles,
    can_manage,
    create_account,
    edit_account,
    may_manage_users,
    reset_password,
    set_active,
    sign_out_everywhere,
)
from tracker.web import form_errors, page_number, page_size, render

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def _require_manager() -> None:
    if not may_manage_users(current_user):
        abort(403)


def _no_store(response):
    """A page that shows a temporary password is never kept by a cache or the browser."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _account_or_404(user_id: int):
    _require_manager()
    user = account_for(current_user, user_id)
    if user is None:
        abort(404)
    return user


def _fill_choices(form: AccountForm) -> None:
    form.role.choices = [SelectChoice(r, ROLE_LABELS[r]) for r in assignable_roles(current_user)]


def _values(form: AccountForm) -> AccountValues:
    return AccountValues(
        display_name=(form.display_name.data or "").strip(),
        unit=form.unit.unit,
        role=form.role.data,
        email=(form.email.data or "").strip(),
        phone=(form.phone.data or "").strip(),
    )


@bp.route("")
@login_required
def account_list():
    _require_manager()
    form = AccountFilterForm(request.args)
    form.role.choices = [SelectChoice("", _("Any role"))] + [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]
    form.state.choices = [
        SelectChoice("", _("Any state")),
        SelectChoice("active", _("active")),
        SelectChoice("disabled", _("disabled")),
    ]
    filters = AccountFilters()
    if form.validate():
        unit = form.unit.unit
        filters = AccountFilters(
            q=(form.q.data or "").strip(), unit=unit, role=form.role.data or "", state=form.state.data or ""
        )
    page = accounts_page(current_user, filters, page_number(), page_size())
    return render(
        "users/list.html",
        block="results",
        form=form,
        page=page,
        manageable={u.id for u in page.items if can_manage(current_user, u)},
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def account_new():
    _require_manager()
    form = AccountForm()
    _fill_choices(form)
    if request.method == "POST":
        if form.validate():
            try:
                user, word = create_account(current_user, form.username.data or "", _values(form))
            except UserError as exc:
                db.session.rollback()
                return render("users/form.html", status=422, form=form, account=None, error=str(exc))
            db.session.commit()
            return _no_store(render("users/credentials.html", accounts=[(user, word)], title=_("Account created")))
        return render("users/form.html", status=422, form=form, account=None, error=form_errors(form))
    return render("users/form.html", form=form, account=None, error=None)


def _history(user_id: int) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "user", AuditEntry.subject_id == user_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(50)
        )
    )


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@login_required
def account_edit(user_id: int):
    user = _account_or_404(user_id)
    if not can_manage(current_user, user):
        abort(403)
    form = AccountForm(obj=user if request.method == "GET" else None)
    _fill_choices(form)
    if request.method == "GET":
        form.unit.set_unit(user.unit)
        return render(
            "users/form.html",
            form=form,
            account=user,
            history=_history(user.id),
            session_count=count_sessions(user),
            error=None,
        )
    if not form.validate():
        return render(
            "users/form.html", status=422, form=form, account=user, history=_history(user.id), error=form_errors(form)
        )
    try:
        changed = edit_account(current_user, user, _values(form), form.comment.data or "")
    except UserError as exc:
        db.session.rollback()
        return render("users/form.html", status=422, form=form, account=user, history=_history(user.id), error=str(exc))
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("users.account_edit", user_id=user.id), code=303)


def _state_change(user_id: int, active: bool):
    user = _account_or_404(user_id)
    form = ReasonForm()
    if not form.validate():
        abort(400)
    try:
        set_active(current_user, user, active, form.comment.data or "")
    except NotAllowed:
        abort(403)
    except UserError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("users.account_edit", user_id=user.id), code=303)
    db.session.commit()
    flash(_("The account is enabled.") if active else _("The account is disabled."), "success")
    return redirect(url_for("users.account_edit", user_id=user.id), code=303)


@bp.route("/<int:user_id>/disable", methods=["POST"])
@login_required
def account_disable(user_id: int):
    return _state_change(user_id, False)


@bp.route("/<int:user_id>/enable", methods=["POST"])
@login_required
def account_enable(user_id: int):
    return _state_change(user_id, True)


@bp.route("/<int:user_id>/reset-password", methods=["POST"])
@login_required
def account_reset(user_id: int):
    user = _account_or_404(user_id)
    if not ReasonForm().validate():
        abort(400)
    try:
        word = reset_password(current_user, user)
    except NotAllowed:
        abort(403)
    except UserError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("users.account_edit", user_id=user.id), code=303)
    db.session.commit()
    return _no_store(render("users/credentials.html", accounts=[(user, word)], title=_("Password reset")))


@bp.route("/<int:user_id>/sign-out", methods=["POST"])
@login_required
def account_sign_out(user_id: int):
    """Sign out everywhere: every session of the account ends at its next request."""
    user = _account_or_404(user_id)
    form = ReasonForm()
    if not form.validate():
        abort(400)
    try:
        ended = sign_out_everywhere(current_user, user, form.comment.data or "")
    except NotAllowed:
        abort(403)
    except UserError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("users.account_edit", user_id=user.id), code=303)
    db.session.commit()
    flash(_("%(n)d sessions signed out.", n=ended), "success")
    return redirect(url_for("users.account_edit", user_id=user.id), code=303)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def account_import():
    _require_manager()
    form = SheetForm()
    if request.method == "GET":
        return render("users/import.html", form=form, problems=[])
    if not form.validate():
        return render("users/import.html", status=422, form=form, problems=[form_errors(form)])
    upload = form.file.data
    try:
        created = importer.import_accounts(current_user, upload.filename or "", upload.read())
    except SheetRefused as exc:
        db.session.rollback()
        return render("users/import.html", status=422, form=form, problems=exc.problems)
    db.session.commit()
    return _no_store(
        render("users/credentials.html", accounts=created, title=_("%(n)d accounts imported", n=len(created)))
    )


@bp.route("/import/template.xlsx")
@login_required
def account_template():
    _require_manager()
    return send_file(
        importer.accounts_template(),
        as_attachment=True,
        download_name="accounts-template.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
