"""The token pages: a user's personal API tokens (/account/tokens) and an admin's service tokens
(/admin/api-tokens). A new token is shown once, in the answer to the POST that made it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from tracker.api import tokens as token_service
from tracker.api import webhooks as webhook_service
from tracker.auth.service import unit_by_code
from tracker.extensions import db
from tracker.forms import CLEAN, EmptyForm
from tracker.web import form_errors, render

bp = Blueprint("api_tokens", __name__)

EXPIRY_CHOICES = [SelectChoice(str(d), _l("%(n)d days", n=d)) for d in token_service.EXPIRY_DAYS]


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100)],
        filters=CLEAN,
        description=_l("What the token is for, e.g. the system that uses it."),
    )
    days = SelectField(_l("Expires after"), choices=EXPIRY_CHOICES, default="90")


class ServiceTokenForm(TokenForm):
    unit = StringField(_l("Unit code"), validators=[DataRequired(), Length(max=40)], filters=CLEAN)
    role = SelectField(
        _l("Role"),
        choices=[
            SelectChoice("reporter", _l("Reporter")),
            SelectChoice("coordinator", _l("Coordinator")),
            SelectChoice("leader", _l("Leader")),
        ],
    )


def _personal_page(
    new: Optional[token_service.NewToken] = None, form: Optional[TokenForm] = None, error: str = "", status: int = 200
):
    response = render(
        "api/tokens.html",
        status=status,
        tokens=token_service.tokens_of(current_user),
        form=form or TokenForm(formdata=None),
        revoke_form=EmptyForm(formdata=None),
        new=new,
        error=error,
        base_url=current_app.config["BASE_URL"].rstrip("/"),
        now=datetime.now(timezone.utc),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/tokens")
@login_required
def personal_tokens():
    return _personal_page()


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_personal_token():
    form = TokenForm()
    if not form.validate():
        return _personal_page(form=form, error=form_errors(form), status=422)
    try:
        new = token_service.create_personal_token(current_user, form.name.data, int(form.days.data))
    except token_service.TokenError as exc:
        db.session.rollback()
        return _personal_page(form=form, error=str(exc), status=422)
    db.session.commit()
    return _personal_page(new=new)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_personal_token(token_id: int):
    if not EmptyForm().validate():
        abort(400)
    if not token_service.revoke(current_user, token_id):
        abort(404)
    db.session.commit()
    flash(_("The token was revoked: it no longer works."), "success")
    return redirect(url_for("api_tokens.personal_tokens"), code=303)


# -- service tokens (admins) ----------------------------------------------------------------------


def _require_admin() -> None:
    if current_user.role != "admin":
        abort(403)


def _service_page(
    new: Optional[token_service.NewToken] = None,
    form: Optional[ServiceTokenForm] = None,
    error: str = "",
    status: int = 200,
):
    response = render(
        "api/service_tokens.html",
        status=status,
        tokens=token_service.service_tokens(),
        form=form or ServiceTokenForm(formdata=None),
        revoke_form=EmptyForm(formdata=None),
        new=new,
        error=error,
        base_url=current_app.config["BASE_URL"].rstrip("/"),
        now=datetime.now(timezone.utc),
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/api-tokens")
@login_required
def service_tokens():
    _require_admin()
    return _service_page()


@bp.route("/admin/api-tokens", methods=["POST"])
@login_required
def create_service_token():
    _require_admin()
    form = ServiceTokenForm()
    if not form.validate():
        return _service_page(form=form, error=form_errors(form), status=422)
    try:
        new = token_service.create_service_token(
            current_user, form.name.data, unit_by_code(form.unit.data), form.role.data, int(form.days.data)
        )
    except token_service.TokenError as exc:
        db.session.rollback()
        return _service_page(form=form, error=str(exc), status=422)
    db.session.commit()
    return _service_page(new=new)


@bp.route("/admin/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_service_token(token_id: int):
    _require_admin()
    if not EmptyForm().validate():
        abort(400)
    if not token_service.revoke(current_user, token_id):
        abort(404)
    db.session.commit()
    flash(_("The token was revoked: it no longer works."), "success")
    return redirect(url_for("api_tokens.service_tokens"), code=303)


# -- webhooks (admins) ------------------------------------------------------------------------------


class WebhookForm(FlaskForm):
    url = StringField(
        _l("Address"),
        validators=[DataRequired(), Length(max=500)],
        filters=CLEAN,
        description=_l("The http:// or https:// URL that receives the events as signed JSON."),
    )
    events = SelectMultipleField(
        _l("Events"),
        choices=[SelectChoice(key, label) for key, label in webhook_service.EVENT_LABELS.items()],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        description=_l("None chosen: every event."),
    )


def _webhook_page(
    new: Optional[webhook_service.NewWebhook] = None,
    form: Optional[WebhookForm] = None,
    error: str = "",
    status: int = 200,
):
    response = render(
        "api/webhooks.html",
        status=status,
        webhooks=webhook_service.webhooks(),
        form=form or WebhookForm(formdata=None),
        remove_form=EmptyForm(formdata=None),
        new=new,
        error=error,
        labels=webhook_service.EVENT_LABELS,
        events_of=webhook_service.events_of,
        signature_header=webhook_service.SIGNATURE_HEADER,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/webhooks")
@login_required
def webhooks():
    _require_admin()
    return _webhook_page()


@bp.route("/admin/webhooks", methods=["POST"])
@login_required
def create_webhook():
    _require_admin()
    form = WebhookForm()
    if not form.validate():
        return _webhook_page(form=form, error=form_errors(form), status=422)
    try:
        new = webhook_service.register(current_user, form.url.data, form.events.data or [])
    except webhook_service.WebhookError as exc:
        db.session.rollback()
        return _webhook_page(form=form, error=str(exc), status=422)
    db.session.commit()
    return _webhook_page(new=new)


@bp.route("/admin/webhooks/<int:webhook_id>/remove", methods=["POST"])
@login_required
def remove_webhook(webhook_id: int):
    _require_admin()
    if not EmptyForm().validate():
        abort(400)
    if not webhook_service.deactivate(webhook_id):
        abort(404)
    db.session.commit()
    flash(_("The webhook was removed: it receives nothing more."), "success")
    return redirect(url_for("api_tokens.webhooks"), code=303)
