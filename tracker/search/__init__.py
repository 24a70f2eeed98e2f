"""The global search: tasks by title, description, comments and evidence file names, within the
user's scope (service.py); the page /search (routes.py); the box in the navigation (base.html)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.search.routes import bp

    app.register_blueprint(bp)
