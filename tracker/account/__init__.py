"""One's own account: password, e-mail, telephone, language."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.account.routes import bp, require_new_password

    app.register_blueprint(bp)
    app.before_request(require_new_password)
