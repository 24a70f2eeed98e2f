"""Web defences shared by every page: security headers, sign-in throttling, idle timeout."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from flask import Flask, current_app, session
from sqlalchemy import delete, func, select

from tracker.extensions import db

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",          # no inline script anywhere; data for charts is JSON, not code
    "style-src 'self' 'unsafe-inline'",  # style attributes (progress bar widths)
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


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
    """Sessions are permanent with an idle lifetime, renewed by every request."""
    session.permanent = True


def refuse_nul_characters():
    """NUL never belongs in text (PostgreSQL refuses it in strings): a clear 400, not a 500."""
    from flask import abort, request

    for source in (request.args, request.form):
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                abort(400, description="NUL character in the request")


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)
    app.before_request(refuse_nul_characters)
    app.before_request(keep_session_alive)


# -- sign-in throttling ---------------------------------------------------------------------------

def _window() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])


def locked_for(username: str, address: str, now: Optional[datetime] = None) -> Optional[int]:
    """Minutes left when too many failures came for this user name or from this address."""
    from tracker.models.security import LoginFailure

    now = now or datetime.now(timezone.utc)
    since = now - _window()
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    by_name = db.session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.username == username.strip().lower(),
                                                              LoginFailure.at > since)).one()
    by_address = db.session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.address == address, LoginFailure.at > since)).one()
    # an address is allowed more tries than a user name (several people behind one NAT)
    for (count, first), allowed in ((by_name, limit), (by_address, 4 * limit)):
        if count >= allowed and first is not None:
            left = (first + _window() - now).total_seconds() / 60
            return max(1, int(left + 0.999))
    return None


def record_failure(username: str, address: str) -> None:
    from tracker.models.security import LoginFailure

    db.session.add(LoginFailure(username=username.strip().lower()[:80], address=(address or "")[:64]))


def clear_failures(username: str) -> None:
    from tracker.models.security import LoginFailure

    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username.strip().lower()))


def forget_old_failures(now: Optional[datetime] = None) -> None:
    from tracker.models.security import LoginFailure

    now = now or datetime.now(timezone.utc)
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))

