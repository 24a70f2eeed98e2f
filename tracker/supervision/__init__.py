"""督办 by hand on the task page and the overdue list: 催办, 批示, 签收, 责任人."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint and the task page's panel helper."""
    from flask_login import current_user

    from tracker.supervision.routes import bp, supervision_panel
    from tracker.supervision.service import may_urge

    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        supervision_panel=supervision_panel, may_urge=lambda task: may_urge(current_user, task)
    )
