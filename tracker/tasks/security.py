"""The scheduler's daily purge of sign-in failures older than a day (the lock-out window is minutes)
and of session records idle past the timeout (they no longer sign anyone in)."""

from __future__ import annotations

import logging

from tracker.tasks.jobs import scheduled

log = logging.getLogger(__name__)


def purge() -> int:
    from tracker.extensions import db
    from tracker.security import forget_old_failures

    from flask import current_app

    from tracker.auth.sessions import forget_idle_sessions

    removed = forget_old_failures()
    idle = forget_idle_sessions(current_app.permanent_session_lifetime)
    db.session.commit()
    log.info("sign-in failures: %d older than a day removed; %d idle sessions removed", removed, idle)
    return removed


def run() -> None:
    """Referenced as "tracker.tasks.security:run"."""
    scheduled("purge-login-failures", purge)
