"""/account: one's own account (password, e-mail, telephone, language)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from tracker.account.service import (
    ALSO_EMAIL,
    INBOX,
    change_password,
    email_preferences,
    sign_out_other_sessions,
    preference_kinds,
    save_email_preferences,
    update_profile,
)
from tracker.auth.service import MIN_PASSWORD_LENGTH, UserError
from tracker.auth.sessions import is_this_session, sessions_of
from tracker.extensions import db
from tracker.forms import CLEAN
from tracker.security import begin_session, current_session_id
from tracker.web import form_errors, render

bp = Blueprint("account", __name__, url_prefix="/account")

# what a user who must choose a new password may still reach
OPEN_WHILE_CHANGING = {"account.password", "auth.logout", "auth.set_language", "static", "vendor"}


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    repeated = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=200)])


class ProfileForm(FlaskForm):
    email = StringField(_l("E-mail"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Telephone"), filters=CLEAN, validators=[Optional(), Length(max=40)])
    language = SelectField(
        _l("Language"),
        validate_choice=True,
        choices=[
            SelectChoice("", _l("Site default (Chinese)")),
            SelectChoice("zh_CN", "中文"),
            SelectChoice("en", "English"),
        ],
    )


def require_new_password():
    """After a reset, every page leads to the password form until a new password is chosen."""
    if (
        current_user.is_authenticated
        and current_user.must_change_password
        and request.endpoint not in OPEN_WHILE_CHANGING
    ):
        return redirect(url_for("account.password"), code=303)
    return None


def _extra_links() -> list[tuple[str, str]]:
    """Account pages other areas add (notification preferences, API tokens), when present."""
    links = []
    for endpoint, label in (
        ("notifications.preferences", _("Notification preferences")),
        ("tokens.token_list", _("API tokens")),
    ):
        if endpoint in current_app.view_functions:
            links.append((url_for(endpoint), label))
    return links


class PreferencesForm(FlaskForm):
    """The CSRF token of the 通知设置 form; its choices are one radio group per kind (`email-<kind>`)."""


class SessionsForm(FlaskForm):
    """The CSRF token of "sign out my other sessions"."""


def _page(form, status=200, error=None, preferences=None, preferences_error=None):
    return render(
        "account/profile.html",
        status=status,
        form=form,
        error=error,
        links=_extra_links(),
        preferences_form=PreferencesForm(formdata=None) if preferences is None else preferences[0],
        preferences=email_preferences(current_user) if preferences is None else preferences[1],
        preferences_error=preferences_error,
        choice_values=(INBOX, ALSO_EMAIL),
        sessions_form=SessionsForm(formdata=None),
        sessions=sessions_of(current_user, limit=20),
        this_session=lambda record: is_this_session(record, current_session_id()),
    )


@bp.route("/sessions/sign-out-others", methods=["POST"])
@login_required
def sign_out_others():
    """Sign out my other sessions: every browser signed in to this account but this one."""
    if not SessionsForm().validate():
        abort(400)
    ended = sign_out_other_sessions(current_user, current_session_id())
    db.session.commit()
    flash(
        _("%(n)d other sessions signed out.", n=ended) if ended else _("There were no other sessions."),
        "success" if ended else "info",
    )
    return redirect(url_for("account.profile") + "#sessions", code=303)


@bp.route("/notifications", methods=["GET", "POST"])
@login_required
def notification_preferences():
    """通知设置: per kind of notice, inbox only or also by e-mail."""
    if request.method == "GET":
        return redirect(url_for("account.profile") + "#notification-settings", code=303)
    form = PreferencesForm()
    choices = {key.removeprefix("email-"): value for key, value in request.form.items() if key.startswith("email-")}
    shown = {kind: choices.get(kind) == ALSO_EMAIL for kind in preference_kinds(current_user)}
    if not form.validate():
        return _page(ProfileForm(obj=current_user), 422, preferences=(form, shown), preferences_error=form_errors(form))
    try:
        changed = save_email_preferences(current_user, choices)
    except UserError as exc:
        db.session.rollback()
        return _page(ProfileForm(obj=current_user), 422, preferences=(form, shown), preferences_error=str(exc))
    db.session.commit()
    flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
    return redirect(url_for("account.profile") + "#notification-settings", code=303)


@bp.route("", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user if request.method == "GET" else None)
    if request.method == "POST":
        if not form.validate():
            return _page(form, 422, form_errors(form))
        try:
            changed = update_profile(
                current_user, form.email.data, form.phone.data, form.language.data, current_app.config["LANGUAGES"]
            )
        except UserError as exc:
            db.session.rollback()
            return _page(form, 422, str(exc))
        db.session.commit()
        if "language" in changed:
            if current_user.language:
                session["lang"] = current_user.language
            else:
                session.pop("lang", None)
        flash(_("Saved.") if changed else _("Nothing changed."), "success" if changed else "info")
        return redirect(url_for("account.profile"), code=303)
    return _page(form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    forced = current_user.must_change_password
    if request.method == "POST":
        if not form.validate():
            return render(
                "account/password.html",
                status=422,
                form=form,
                forced=forced,
                error=form_errors(form),
                min_length=MIN_PASSWORD_LENGTH,
            )
        try:
            change_password(current_user, form.current.data, form.new.data, form.repeated.data)
        except UserError as exc:
            db.session.rollback()
            return render(
                "account/password.html",
                status=422,
                form=form,
                forced=forced,
                error=str(exc),
                min_length=MIN_PASSWORD_LENGTH,
            )
        user = current_user._get_current_object()
        lang = session.get("lang")
        session.clear()  # every session of the account ended; this browser gets a fresh one
        session.permanent = True
        if lang:
            session["lang"] = lang
        login_user(user)
        begin_session(user)
        db.session.commit()
        flash(_("Your password is changed."), "success")
        return redirect(url_for("plans.my_work_page") if forced else url_for("account.profile"), code=303)
    return render("account/password.html", form=form, forced=forced, error=None, min_length=MIN_PASSWORD_LENGTH)
