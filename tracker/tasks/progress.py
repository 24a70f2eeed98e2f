"""The scheduler's progress-summary job: every minute, fold the changed owners into the summary
(rebuilding it when the day has changed, Asia/Shanghai). See tracker/progress/summary.py."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def run() -> None:
    """Referenced as "tracker.tasks.progress:run"; builds its own app (the job store keeps only this name)."""
    from tracker import create_app
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    app = create_app()
    with app.app_context():
        folded = refresh(local_today())
        if folded:
            log.info("progress summary: %s", "rebuilt" if folded < 0 else f"folded {folded} marks")
        if folded < 0:  # a new day: the rendered pages of earlier days are of no use
            from tracker.progress.pages import shared_pages

            shared = shared_pages()
            if shared is not None:
                log.info("rendered progress pages: %d old files removed", shared.sweep(older_than=86400))
