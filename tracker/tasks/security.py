"""The scheduler's daily purge of sign-in failures older than a day (the lock-out window is minutes)."""

from __future__ import annotations

import logging

from tracker.tasks.jobs import scheduled

log = logging.getLogger(__name__)


def purge() -> int:
    from tracker.extensions import db
    from tracker.security import forget_old_failures

    removed = forget_old_failures()
    db.session.commit()
    log.info("sign-in failures: %d older than a day removed", removed)
    return removed


def run() -> None:
    """Referenced as "tracker.tasks.security:run"."""
    scheduled("purge-login-failures", purge)
