"""The journal of user, unit and plan changes, and the admin's audit view across all journals."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.audit.labels import ACTION_LABELS, FIELD_LABELS
    from tracker.audit.routes import bp

    app.jinja_env.globals.update(audit_action_labels=ACTION_LABELS, audit_field_labels=FIELD_LABELS)
    app.register_blueprint(bp)
