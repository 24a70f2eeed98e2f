"""Recurring duties: a task with an RRULE makes dated occurrences (the scheduler's
`recurrence-daily` job runs tracker.tasks.recurrence), each tracked like a task."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.duties.cli import occurrences_cli
    from tracker.duties.routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(occurrences_cli)
