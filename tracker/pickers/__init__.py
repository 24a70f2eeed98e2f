"""Pickers instead of codes: a unit search (by name, short name or code) and a frequency picker
that writes the RRULE. The services are plain functions (units.py, frequency.py); fields.py holds
the WTForms fields the areas' forms use; the macros are templates/_pickers.html."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from tracker.pickers.frequency import rrule_text
    from tracker.pickers.routes import bp

    app.register_blueprint(bp)
    app.jinja_env.filters["rrule_text"] = rrule_text
