"""Provincial schemes (备案): a province files its implementation scheme against a national plan."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.schemes.routes import bp
    from tracker.schemes.service import SCHEME_STATE_LABELS

    app.register_blueprint(bp)
    app.jinja_env.globals.update(scheme_state_labels=SCHEME_STATE_LABELS)
