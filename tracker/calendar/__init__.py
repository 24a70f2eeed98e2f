"""The personal calendar feed (iCalendar) of a user's due dates, at a secret revocable address."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.calendar.routes import bp

    app.register_blueprint(bp)
