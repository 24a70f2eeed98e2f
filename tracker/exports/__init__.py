"""Large exports made in the background (the scheduler process writes them, the owner downloads
them from the progress page); see tracker/exports/jobs.py."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.exports.routes import bp

    app.register_blueprint(bp)
