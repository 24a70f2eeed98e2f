"""The favicon and the web-app manifest (so the app can be pinned to a phone's home screen),
served by the app itself like every other asset."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

bp = Blueprint("layout", __name__)

ICON_MAX_AGE = 7 * 86400


@bp.route("/favicon.ico")
def favicon():
    return current_app.send_static_file("icons/favicon.ico"), {"Cache-Control": f"public, max-age={ICON_MAX_AGE}"}


@bp.route("/manifest.webmanifest")
def manifest():
    icon = lambda name: url_for("static", filename=f"icons/{name}")  # noqa: E731
    response = jsonify(
        {
            "name": _("Action-Plan Tracker"),
            "short_name": _("Tracker"),
            "start_url": url_for("plans.my_work_page"),
            "scope": "/",
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#0a58ca",
            "lang": "zh-CN" if get_locale().language == "zh" else "en",
            "icons": [
                {"src": icon("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
                {"src": icon("icon-192.png"), "sizes": "192x192", "type": "image/png"},
                {"src": icon("icon-512.png"), "sizes": "512x512", "type": "image/png"},
                {"src": icon("icon-maskable-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    return response
