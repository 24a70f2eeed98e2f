"""/search?q=…: thin; the rules are in tracker/search/service.py."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user, login_required

from tracker.lazy_text import lazy_gettext as _l
from tracker.search.service import COMMENT, DESCRIPTION, EVIDENCE, MAX_LENGTH, MIN_LENGTH, PER_PAGE, TITLE
from tracker.search.service import search_tasks
from tracker.web import PAGE_SIZES, page_number, render

bp = Blueprint("search", __name__)

SOURCE_LABELS = {
    TITLE: _l("Title"),
    DESCRIPTION: _l("Description"),
    COMMENT: _l("Comment"),
    EVIDENCE: _l("Evidence file"),
}


def _per_page() -> int:
    try:
        size = int(request.args.get("per_page", 0))
    except (TypeError, ValueError):
        size = 0
    return size if size in PAGE_SIZES else PER_PAGE


@bp.route("/search")
@login_required
def search_page():
    result = search_tasks(current_user, request.args.get("q"), page_number(), _per_page())
    return render(
        "search/results.html",
        block="results",
        result=result,
        source_labels=SOURCE_LABELS,
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
    )
