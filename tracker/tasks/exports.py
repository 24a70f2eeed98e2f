"""The scheduler's exports job: every few seconds, run the queued background exports (each
claimed by one process only) and sweep those asked for more than a day ago. See
tracker/exports/jobs.py."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Optional

log = logging.getLogger(__name__)


def run() -> None:
    """Referenced as "tracker.tasks.exports:run"; builds its own app (the job store keeps only this
    name); a database error ends it with one log line (tracker/tasks/jobs.py)."""
    from tracker.tasks.jobs import scheduled

    scheduled("exports", export_pass)


def export_pass(now: Optional[datetime] = None, limit: int = 10) -> list[tuple[int, str]]:
    from tracker.exports.jobs import run_pending, sweep_expired

    now = now or datetime.now(timezone.utc)
    swept = sweep_expired(now)
    if swept:
        log.info("exports: %d expired files and rows deleted", swept)
    outcomes = run_pending(limit=limit, now=now)
    for job_id, outcome in outcomes:
        log.info("export %s: %s", job_id, outcome)
    return outcomes
