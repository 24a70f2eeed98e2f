"""The personal calendar feed's pages: make or revoke the secret address, and the feed itself."""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, abort, current_app, flash, make_response, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tracker.calendar import service as calendar_service
from tracker.extensions import db
from tracker.timeutil import local_today
from tracker.forms import EmptyForm
from tracker.web import render

bp = Blueprint("calendar", __name__)


# --- calendar ---------------------------------------------------------------------------------


def _calendar_page(new_url: Optional[str] = None, status: int = 200):
    return render(
        "calendar/calendar.html",
        status=status,
        token=calendar_service.active_token(current_user),
        new_url=new_url,
        form=EmptyForm(formdata=None),
    )


@bp.route("/calendar")
@login_required
def calendar_settings():
    return _calendar_page()


@bp.route("/calendar/token", methods=["POST"])
@login_required
def calendar_token():
    form = EmptyForm()
    if not form.validate():
        return _calendar_page(status=400)
    token = calendar_service.create_token(current_user)
    db.session.commit()
    url = url_for("calendar.calendar_feed", token=token, _external=True)
    response = _calendar_page(new_url=url)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/calendar/revoke", methods=["POST"])
@login_required
def calendar_revoke():
    form = EmptyForm()
    if not form.validate():
        return _calendar_page(status=400)
    calendar_service.revoke_tokens(current_user)
    db.session.commit()
    flash(_("The calendar address no longer works."), "success")
    return redirect(url_for("calendar.calendar_settings"), code=303)


@bp.route("/calendar/<token>.ics")
def calendar_feed(token: str):
    user = calendar_service.user_for_token(token)
    if user is None:
        abort(404)
    tasks = calendar_service.feed_tasks(user, local_today())
    body = calendar_service.build_feed(user, tasks, current_app.config["BASE_URL"])
    db.session.commit()  # last_used_at
    response = make_response(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="tracker.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
