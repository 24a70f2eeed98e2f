"""The app shell: the navigation menus each role sees, the favicon and the web-app manifest."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.layout.navigation import current_menus, navigation_bar
    from tracker.layout.routes import bp

    app.register_blueprint(bp)
    app.jinja_env.globals["nav_menus"] = current_menus
    app.jinja_env.globals["navigation_bar"] = navigation_bar
