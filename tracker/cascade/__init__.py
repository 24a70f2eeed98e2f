"""Cascade (分解下达): a template task expands into one child per matching unit, kept in step."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint, the task-page helper, and the flush-time sync that keeps cascade
    children in step with their templates."""
    from tracker.cascade.routes import bp, cascade_info
    from tracker.cascade.service import install_sync

    install_sync()
    app.register_blueprint(bp)
    app.jinja_env.globals.update(cascade_info=cascade_info)
