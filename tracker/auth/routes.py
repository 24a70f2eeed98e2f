from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from tracker.auth.forms import LoginForm
from tracker.auth.service import authenticate
from tracker.extensions import db
from tracker.models.base import utcnow
from tracker.security import begin_session, clear_failures, delay_for, finish_session, locked_for, record_failure
from tracker.web import safe_next

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("plans.my_work_page"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        address = request.remote_addr or ""
        minutes = locked_for(form.username.data, address)
        if minutes is not None:
            form.password.errors.append(_("Too many failed sign-ins: try again in %(n)d minutes.", n=minutes))
            return render_template("auth/login.html", form=form), 429
        seconds = delay_for(form.username.data)
        if seconds is not None:
            form.password.errors.append(
                _("Several failed sign-ins for this name: try again in %(n)d seconds.", n=seconds)
            )
            response = make_response(render_template("auth/login.html", form=form), 429)
            response.headers["Retry-After"] = str(seconds)
            return response
        user = authenticate(form.username.data, form.password.data)
        if user is None:
            record_failure(form.username.data, address)
            db.session.commit()
            form.password.errors.append(_("Wrong user name or password."))
        else:
            clear_failures(form.username.data, address)
            session.clear()  # a fresh session at sign-in (no fixation)
            session.permanent = True  # idle timeout: IDLE_TIMEOUT_MINUTES, renewed by activity, not polls
            login_user(user)
            begin_session(user)  # the session record: what logout, password change ... end
            if user.language in current_app.config["LANGUAGES"]:
                session["lang"] = user.language  # the account's own language (set on /account)
            user.last_login_at = utcnow()
            db.session.commit()
            if user.must_change_password:
                return redirect(url_for("account.password"), code=303)
            return redirect(safe_next(request.args.get("next")), code=303)
    if request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    finish_session()  # the record goes: a copy of this cookie is signed out too
    logout_user()
    db.session.commit()
    flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")), code=303)
