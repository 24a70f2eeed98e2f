"""Web defences shared by every page: security headers, sign-in throttling, the signed-in
session (its database record, the idle timeout, passive polls)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from flask import Flask, current_app, request, session
from flask.sessions import SessionInterface
from sqlalchemy import delete, func, select

from tracker.extensions import db

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script anywhere; data for charts is JSON, not code
        "style-src 'self' 'unsafe-inline'",  # style attributes (progress bar widths)
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def keep_session_alive():
    """Sessions are permanent with an idle lifetime (PERMANENT_SESSION_LIFETIME = the idle
    timeout), renewed by each request that is activity: the cookie is signed afresh, and its
    signature's age is checked on the next request. Passive requests never renew it."""
    if not session.permanent:
        session.permanent = True


# -- passive requests (finding 5) -------------------------------------------------------------
# A request made by the page on its own (the unread badge's `every 60s` poll) is not the user's
# activity: it carries `X-Passive: 1` (hx-headers on the polling element) and renews neither
# the cookie nor the session record, so the idle timeout fires while a page is left open.

PASSIVE_HEADER = "X-Passive"


def is_passive_request() -> bool:
    return request.headers.get(PASSIVE_HEADER) == "1"


class PassiveRequestsRenewNothing(SessionInterface):
    """The app's session interface, except that a passive request never writes the cookie (with
    SESSION_REFRESH_EACH_REQUEST every other request re-signs it, which renews its lifetime)."""

    def __init__(self, inner: SessionInterface):
        self.inner = inner

    def open_session(self, app, request):
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response):
        if is_passive_request():
            return None
        return self.inner.save_session(app, session, response)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# -- the session record (finding 4) -----------------------------------------------------------

SESSION_ID_KEY = "sid"  # the key of the session id in the signed cookie


def begin_session(user) -> None:
    """At sign-in (after login_user): a new session record, its id kept in the cookie."""
    from tracker.auth.sessions import start_session

    session[SESSION_ID_KEY] = start_session(user, request.user_agent.string or "", request.remote_addr or "")


def finish_session() -> None:
    """At logout: this browser's session record goes (every copy of the cookie is signed out)."""
    from tracker.auth.sessions import end_session

    end_session(session.pop(SESSION_ID_KEY, None))


def current_session_id():
    return session.get(SESSION_ID_KEY)


def load_session_user(user_id: str):
    """Flask-Login's user loader: the user of the cookie's session record, if the record exists,
    is theirs, is not idle-expired and the account is active; else None (signed out). A request
    that is not passive renews the record's last_seen_at, at most once a minute."""
    from tracker.auth.sessions import live_session, note_activity

    try:
        uid = int(user_id)
    except (TypeError, ValueError):
        return None
    now = datetime.now(timezone.utc)
    idle = current_app.permanent_session_lifetime
    record = live_session(session.get(SESSION_ID_KEY), uid, idle, now)
    if record is None:
        for key in (SESSION_ID_KEY, "_user_id", "_fresh", "_id"):
            session.pop(key, None)
        if db.session.deleted:
            db.session.commit()  # the idle record deleted
        return None
    if not is_passive_request() and note_activity(record, now):
        db.session.commit()  # before the view runs: nothing else is pending yet
    return record.user


def load_user_first() -> None:
    """Load the signed-in user before any view (so that the renewal's commit carries nothing else).
    The API authenticates by token (tracker/api/auth.py) and is left alone."""
    from tracker.api import is_api_request

    if not is_api_request():
        from flask_login import current_user

        current_user._get_current_object()


def passive_unauthorized():
    """A poll whose session ended: 401 and HX-Redirect to the sign-in page (not the page's HTML
    swapped into the badge). Other requests: Flask-Login's redirect to the sign-in page."""
    from flask import make_response, redirect, url_for
    from flask_login import login_url

    if is_passive_request():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = url_for("auth.login")
        return response
    return redirect(login_url(current_app.login_manager.login_view, next_url=request.url))


def refuse_nul_characters():
    """NUL never belongs in text (PostgreSQL refuses it in strings): a clear 400, not a 500."""
    from flask import abort, request

    for source in (request.args, request.form, request.files):
        for key, values in source.lists():
            if not isinstance(key, str):  # a multipart part whose name the parser could not read
                abort(400, description="A form field without a name")
            if "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values):
                abort(400, description="NUL character in the request")


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.before_request(refuse_nul_characters)
    app.before_request(keep_session_alive)
    app.session_interface = PassiveRequestsRenewNothing(app.session_interface)


# -- sign-in throttling ---------------------------------------------------------------------------


def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])


def _minutes_left(first: datetime, now: datetime) -> int:
    return max(1, int((first + _window() - now).total_seconds() / 60 + 0.999))


def locked_for(username: str, address: str, now: Optional[datetime] = None) -> Optional[int]:
    """Minutes left when this address is locked out: for this user name (LOGIN_MAX_FAILURES
    failures of the pair in the window) or for every name (LOGIN_ADDRESS_MAX_FAILURES from it).
    Only the address that failed is locked: nobody can lock another person out."""
    from tracker.models.security import LoginFailure

    now = now or datetime.now(timezone.utc)
    since = now - _window()
    name = username.strip().lower()
    recent = LoginFailure.address == address, LoginFailure.at > since
    by_address, first_by_address, by_pair, first_by_pair = db.session.execute(
        select(
            func.count(),
            func.min(LoginFailure.at),
            func.count().filter(LoginFailure.username == name),
            func.min(LoginFailure.at).filter(LoginFailure.username == name),
        ).where(*recent)
    ).one()
    if by_address >= current_app.config["LOGIN_ADDRESS_MAX_FAILURES"] and first_by_address is not None:
        return _minutes_left(first_by_address, now)
    if by_pair >= current_app.config["LOGIN_MAX_FAILURES"] and first_by_pair is not None:
        return _minutes_left(first_by_pair, now)
    return None


def delay_for(username: str, now: Optional[datetime] = None) -> Optional[int]:
    """Seconds left to wait before the next try of this user name from anywhere, or None.

    Past LOGIN_MAX_FAILURES failures of the name in the window (from any addresses), each try
    must wait 2, 4, 8 ... seconds (up to LOGIN_MAX_DELAY_SECONDS) after the last failure; tries
    during the wait are refused without being counted. It slows guessing spread over many
    addresses without locking the name: the owner gets in after at most that many seconds."""
    from tracker.models.security import LoginFailure

    now = now or datetime.now(timezone.utc)
    count, last = db.session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.username == username.strip().lower(), LoginFailure.at > now - _window()
        )
    ).one()
    over = count - current_app.config["LOGIN_MAX_FAILURES"] + 1
    if over <= 0 or last is None:
        return None
    if last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    wait = min(2 ** min(over, 20), current_app.config["LOGIN_MAX_DELAY_SECONDS"])
    left = (last + timedelta(seconds=wait) - now).total_seconds()
    return int(left + 0.999) if left > 0 else None


def record_failure(username: str, address: str) -> None:
    from tracker.models.security import LoginFailure

    db.session.add(LoginFailure(username=username.strip().lower()[:80], address=(address or "")[:64]))


def clear_failures(username: str, address: str) -> None:
    """After a successful sign-in: forget this address's failures for the name (the lock of the
    pair). Other addresses' failures stay: they still count against those addresses and the name."""
    from tracker.models.security import LoginFailure

    db.session.execute(
        delete(LoginFailure).where(
            LoginFailure.username == username.strip().lower(), LoginFailure.address == (address or "")[:64]
        )
    )


def forget_old_failures(now: Optional[datetime] = None) -> int:
    """Delete sign-in failures older than a day (the scheduler's daily job); how many. Flushes."""
    from tracker.models.security import LoginFailure

    now = now or datetime.now(timezone.utc)
    return db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1))).rowcount or 0
