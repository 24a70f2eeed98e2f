"""Accounts managed in the web: list, create, edit, disable, reset, import from a sheet."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.users.routes import bp
    from tracker.users.service import ROLE_LABELS

    app.register_blueprint(bp)
    app.jinja_env.globals.update(role_labels=ROLE_LABELS)
