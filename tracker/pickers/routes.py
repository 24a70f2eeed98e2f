"""The unit search behind the unit picker: /units/search?q= (an HTMX fragment of options; the
whole page without HTMX, a search form of its own)."""

from __future__ import annotations

import re

from flask import Blueprint, request
from flask_login import current_user, login_required

from tracker.pickers.units import QUERY_MAX, search_units, typed_initials
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS
from tracker.web import render

bp = Blueprint("pickers", __name__)

FIELD_ID = re.compile(r"^[A-Za-z][\w-]{0,60}$")


@bp.route("/units/search")
@login_required
def unit_search():
    text = (request.args.get("q") or "").strip()[:QUERY_MAX]
    field = request.args.get("field") or ""
    units = search_units(current_user, text)
    return render(
        "pickers/unit_search.html",
        block="options",
        q=text,
        units=units,
        initials=typed_initials(text),  # shown beside each unit when the text may be initials
        field_id=field if FIELD_ID.match(field) else "unit",
        kind_labels=KIND_LABELS,
        level_labels=LEVEL_LABELS,
    )
