from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from tracker.auth.forms import LoginForm
from tracker.audit import journal
from tracker.auth.service import authenticate
from tracker.extensions import db
from tracker.models.base import utcnow
from tracker.security import begin_session, clear_failures, delay_for, finish_session, locked_for, record_failure
from tracker.web import safe_next

bp = Blueprint("auth", __name__)


def _login_page(form, status: int = 200):
    from tracker.auth.ldap import ldap_enabled
    from tracker.auth.sso import oidc_enabled, provider_label

    password_form = current_app.config["LOCAL_LOGIN"] or ldap_enabled()
    oidc = oidc_enabled()
    return (
        render_template(
            "auth/login.html",
            form=form,
            password_form=password_form,
            oidc_label=provider_label() if oidc else "",
        ),
        status,
    )


def start_signed_in_session(user, next_target, keep: dict | None = None):
    """Sign `user` in: every method (password, LDAP, OIDC) comes through here, so each gets a
    fresh session, the session record (what logout, password change ... end), the idle timeout.
    `keep`: values for the new session (an OIDC sign-in's id_token, for the single logout)."""
    session.clear()  # a fresh session at sign-in (no fixation)
    session.update(keep or {})
    session.permanent = True  # idle timeout: IDLE_TIMEOUT_MINUTES, renewed by activity, not polls
    login_user(user)
    begin_session(user)  # the session record: what logout, password change ... end
    if user.language in current_app.config["LANGUAGES"]:
        session["lang"] = user.language  # the account's own language (set on /account)
    user.last_login_at = utcnow()
    db.session.commit()
    if user.must_change_password:
        return redirect(url_for("account.password"), code=303)
    return redirect(safe_next(next_target), code=303)


@bp.route("/login", methods=["GET", "POST"])
def login():
    from tracker.auth.ldap import authenticate_ldap, ldap_enabled
    from tracker.auth.sso import SignInRefused

    if current_user.is_authenticated:
        return redirect(url_for("plans.my_work_page"))
    form = LoginForm()
    local = current_app.config["LOCAL_LOGIN"]
    if request.method == "POST" and not (local or ldap_enabled()):
        form.password.errors = [_("Signing in with a password is switched off here.")]
        return _login_page(form, 403)
    if form.validate_on_submit():
        address = request.remote_addr or ""
        minutes = locked_for(form.username.data, address)
        if minutes is not None:
            form.password.errors.append(_("Too many failed sign-ins: try again in %(n)d minutes.", n=minutes))
            return _login_page(form, 429)
        seconds = delay_for(form.username.data)
        if seconds is not None:
            form.password.errors.append(
                _("Several failed sign-ins for this name: try again in %(n)d seconds.", n=seconds)
            )
            response = make_response(*_login_page(form, 429))
            response.headers["Retry-After"] = str(seconds)
            return response
        user = authenticate(form.username.data, form.password.data) if local else None
        refusal = None
        if user is None and ldap_enabled():
            try:
                user = authenticate_ldap(form.username.data, form.password.data, address)
            except SignInRefused as refused:
                refusal = refused
        if user is None:
            record_failure(form.username.data, address)
            db.session.commit()
            form.password.errors.append(refusal.message if refusal else _("Wrong user name or password."))
        else:
            clear_failures(form.username.data, address)
            return start_signed_in_session(user, request.args.get("next"))
    return _login_page(form, 400 if request.method == "POST" else 200)


_SSO_NEXT = "sso_next"


@bp.route("/login/oidc")
def oidc_login():
    """To the provider's sign-in page; it comes back to oidc_callback."""
    from tracker.auth.sso import begin_oidc_sign_in, oidc_enabled

    if not oidc_enabled():
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("plans.my_work_page"))
    session[_SSO_NEXT] = safe_next(request.args.get("next"))
    return begin_oidc_sign_in(url_for("auth.oidc_callback", _external=True))


@bp.route("/login/oidc/callback")
def oidc_callback():
    """Back from the provider: the identity checked (state, nonce, id_token by Authlib), mapped to
    an existing active user, signed in as a password sign-in is; else the sign-in page with why."""
    from tracker.auth.sso import (
        SignInRefused,
        finish_oidc_sign_in,
        log_refusal,
        oidc_enabled,
        oidc_settings,
        user_for_identity,
    )

    if not oidc_enabled():
        abort(404)
    address = request.remote_addr or ""
    identity = None
    try:
        identity = finish_oidc_sign_in()
        name = identity.username or identity.email or identity.subject
        minutes = locked_for(name, address)
        if minutes is not None:
            raise SignInRefused(
                _("Too many failed sign-ins: try again in %(n)d minutes.", n=minutes), "locked", address
            )
        settings = oidc_settings()
        user = user_for_identity(identity, settings.match_by, settings.require_verified_email)
    except SignInRefused as refusal:
        log_refusal(identity, refusal, address)
        if identity is not None and refusal.reason != "locked":
            record_failure(identity.username or identity.email or identity.subject, address)
        db.session.commit()
        session.pop(_SSO_NEXT, None)
        flash(str(refusal.message), "error")
        return redirect(url_for("auth.login"), code=303)
    journal.record_user(user, user, "sign_in", comment=f"OpenID Connect · {identity.subject}"[:300])
    clear_failures(identity.username or identity.email or identity.subject, address)
    from tracker.auth.sso import ID_TOKEN_KEY

    keep = {ID_TOKEN_KEY: identity.id_token} if identity.id_token else {}
    return start_signed_in_session(user, session.pop(_SSO_NEXT, None), keep)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """The local session ends (its record too: every copy of the cookie is signed out); after an
    OIDC sign-in, when the provider has an end_session_endpoint, the browser goes on there to end
    the provider's session and comes back to the sign-in page (tracker/auth/sso.py)."""
    from tracker.auth.sso import ID_TOKEN_KEY, end_session_url, provider_label

    id_token = session.pop(ID_TOKEN_KEY, None)
    finish_session()  # the record goes: a copy of this cookie is signed out too
    logout_user()
    db.session.commit()
    at_provider = end_session_url(id_token, url_for("auth.login", _external=True)) if id_token else None
    if at_provider is None:
        flash(_("You have been signed out."), "info")
        return redirect(url_for("auth.login"), code=303)
    # a page that moves on by itself, not a 303: the CSP's form-action 'self' stops a form's
    # redirect to another site (Chrome: ERR_ABORTED)
    page = render_template("auth/signing_out.html", end_session_url=at_provider, provider=provider_label())
    flash(_("You have been signed out."), "info")  # after rendering: shown by the sign-in page
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"  # the address holds the id_token
    return response


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    from flask import current_app

    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next")), code=303)
