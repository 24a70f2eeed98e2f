"""The unit catalogue managed in the web (/admin/units): add, rename, move, retire, import."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.units.routes import bp

    app.register_blueprint(bp)
