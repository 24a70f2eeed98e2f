"""The scheduler's progress-summary job: every minute, fold the changed owners into the summary
(rebuilding it when the day has changed, Asia/Shanghai). See tracker/progress/summary.py."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run() -> None:
    """Referenced as "tracker.tasks.progress:run"; builds its own app (the job store keeps only this
    name); a database error ends it with one log line (tracker/tasks/jobs.py)."""
    from tracker.tasks.jobs import scheduled

    scheduled("progress-summary", refresh_summary)


def refresh_summary() -> None:
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    folded = refresh(local_today())
    if folded:
        log.info("progress summary: %s", "rebuilt" if folded < 0 else f"folded {folded} marks")
    if folded < 0:  # a new day: the rendered pages of earlier days are of no use
        from tracker.progress.pages import shared_pages

        shared = shared_pages()
        if shared is not None:
            log.info("rendered progress pages: %d old files removed", shared.sweep(older_than=86400))
