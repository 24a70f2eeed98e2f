"""Web plumbing shared by every area: fragment-or-page rendering, template filters, assets."""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

from flask import Flask, abort, current_app, make_response, render_template, request, send_from_directory, url_for
from flask_login import current_user
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from jinja2_fragments.flask import render_block

from tracker.extensions import htmx
from tracker.plans import status
from tracker.plans.labels import selector_label
from tracker.auth.scope import can_view_task
from tracker.notifications.labels import KIND_BADGES, KIND_LABELS, LEVEL_BADGES, LEVEL_LABELS, STATE_LABELS
from tracker.timeutil import local_today

BASE_DIR = Path(__file__).resolve().parent.parent

# Third-party assets installed by npm at set-up and served by the app itself (no CDN).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "bootstrap.bundle.min.js": "bootstrap/dist/js/bootstrap.bundle.min.js",
    # ECharts with only the parts the pages use, bundled by esbuild at set-up (`make assets`,
    # from tracker/static/src/echarts.js): 585 KB instead of the 1.1 MB full build.
    "echarts.min.js": ".build/echarts.min.js",
}


def safe_next(target: str | None, default: str | None = None) -> str:
    """A redirect target taken from the request, kept only when it is a same-site relative path.

    Kept: "/path", "/path?query". Refused (the default page instead): anything with a scheme
    ("http:", "javascript:"), a host ("//host", "/\\host", "\\host"), a backslash anywhere
    (browsers read it as a slash), control characters (CR/LF would split the Location header) or
    non-ASCII spaces. Every redirect to a target from the request goes through here."""
    fallback = default or url_for("plans.my_work_page")
    if not target or len(target) > 2000 or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(c) < 0x21 or c == "\x7f" or c.isspace() for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def wants_fragment() -> bool:
    """True for an HTMX request that is neither boosted nor a history restore."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render(template: str, block: str = "content", status: int = 200, **context):
    """Render the whole page, or only `block` of it for an HTMX request; always Vary: HX-Request."""
    if wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def fragment_response(body: str, status: int = 200):
    """A body assembled by hand (a block plus out-of-band parts, or a page of cached parts); Vary: HX-Request."""
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


# The numeric patterns the lists use on every row, formatted without Babel's per-call pattern
# and locale machinery (the same text: digits only, no locale in it); others go through Babel.
_NUMERIC = {"yyyy-MM-dd": "%Y-%m-%d", "yyyy-MM-dd HH:mm": "%Y-%m-%d %H:%M", "MM-dd HH:mm": "%m-%d %H:%M"}


def localdt(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A UTC timestamp shown in the configured zone (Asia/Shanghai)."""
    if not value:
        return ""
    numeric = _NUMERIC.get(fmt)
    if numeric is None:
        return format_datetime(value, fmt)
    from tracker.timeutil import local_zone

    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)  # stored in UTC
    return aware.astimezone(local_zone()).strftime(numeric)


def isodate(value: date | None) -> str:
    if not value:
        return ""
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


FIELD_LABELS = {
    "title": _l("Title"),
    "description": _l("Description"),
    "owner_unit_id": _l("Owner unit"),
    "co_owners": _l("Co-owners"),
    "due_on": _l("Due date"),
    "deliverable": _l("Deliverable"),
    "weight": _l("Weight"),
    "percent": _l("Percent done"),
    "evidence": _l("Evidence"),
    "start_on": _l("Start date"),
    "phase_id": _l("Phase"),
    "recurrence": _l("Recurrence"),
    "owner_selector": _l("Owner group"),
    "co_owner_selectors": _l("Co-owner groups"),
    "notes": _l("Notes"),
    "parent_id": _l("Parent node"),  # a move within the plan (tracker/plans/manual.py)
    # 督办 by hand (tracker/supervision/)
    "urge": _l("Urged"),
    "instruction": _l("Instruction"),
    "signed_at": _l("Signed for"),
    "responsible_user_id": _l("Responsible person"),
    "contact_name": _l("Contact"),
    "contact_phone": _l("Contact telephone"),
}


def is_overdue(task) -> bool:
    return bool(task.due_on and task.due_on < local_today() and task.status in status.OVERDUE_STATUSES)


MAX_PAGE = 100_000


def page_number(name: str = "page") -> int:
    """The ?page= argument as a sane page number (1 when missing, not a number, or absurd)."""
    try:
        number = int(request.args.get(name, 1))
    except (TypeError, ValueError):
        return 1
    return min(max(1, number), MAX_PAGE)


PAGE_SIZES = (20, 50, 100)


def page_size() -> int:
    """The ?per_page= argument when it is one of the offered sizes, else the configured size."""
    try:
        size = int(request.args.get("per_page", 0))
    except (TypeError, ValueError):
        size = 0
    return size if size in PAGE_SIZES else current_app.config["PAGE_SIZE"]


def form_errors(form) -> str:
    """A form's errors as one line: "Label: message; …" (for an error banner)."""
    parts = []
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        text = " ".join(map(str, errors))
        parts.append(f"{field.label.text}: {text}" if field is not None and hasattr(field, "label") else text)
    return "; ".join(parts)


def task_or_404(task_id: int):
    """The task, if the current user may see it; else 404 (it does not exist for them)."""
    from tracker.plans.service import visible_task

    if not 0 < task_id < 2**63:  # no row has it, and the database's integer would overflow
        abort(404)
    task = visible_task(current_user, task_id)
    if task is None:
        abort(404)
    return task


def chosen_unit():
    """The unit named by ?unit=CODE, which must lie within the user's reach (else 404);
    by default the user's own unit (the root unit for those who see everything)."""
    from tracker.auth.scope import can_view_unit
    from tracker.auth.service import root_unit, unit_by_code

    code = (request.args.get("unit") or "").strip()
    if not code:
        return root_unit() if current_user.sees_everything else current_user.unit
    unit = unit_by_code(code)
    if unit is None or not can_view_unit(current_user, unit):
        abort(404)
    return unit


def unit_trail(unit) -> list:
    """The units from the top of the user's reach down to `unit`, for a drill-down breadcrumb."""
    from sqlalchemy import select

    from tracker.auth.scope import can_view_unit
    from tracker.extensions import db
    from tracker.models import OrgUnit

    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    units = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [units[i] for i in ids if i in units and can_view_unit(current_user, units[i])]


def url_with(**changes) -> str:
    """The current URL with some query arguments replaced (pagination links keep the filters)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = [str(value)]
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def nav_counts() -> dict:
    """The navigation's two badges (open work, unread notifications) in one statement, once per
    request, and only when a template shows them (an HTMX fragment does not)."""
    from flask import g
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.notifications.service import unread_query
    from tracker.plans.queries import bound_params, memoized, open_work_query

    if "nav_counts" not in g:
        user = current_user._get_current_object()
        query = memoized(
            ("nav counts", user.role),
            lambda: select(
                open_work_query(user, bound=True).scalar_subquery(), unread_query(user, bound=True).scalar_subquery()
            ),
        )
        work, unread = db.session.execute(query, bound_params(user, local_today())).one()
        g.nav_counts = {"work": work or 0, "unread": unread or 0}
    return g.nav_counts


def _template_translations():
    """The request's translations for the templates' `_()`, looked up once per locale and not
    again for each of the hundred-odd strings of a page (Flask-Babel's own lookup walks the
    domain, the locale and its cache on every call: ≈ 10 µs, a tenth of a list page's server
    time). Keyed by the locale object, so `force_locale` (e-mails in the recipient's language)
    still switches it and switching back finds the request's locale again."""
    from flask_babel import _get_current_context, get_translations

    ctx = _get_current_context()
    if ctx is None:
        return get_translations()
    locale = getattr(ctx, "babel_locale", None)
    hit = getattr(ctx, "tracker_translations", None)
    if hit is not None and locale is not None and hit[0] is locale:
        return hit[1]
    translations = get_translations()  # sets ctx.babel_locale on the first call
    ctx.tracker_translations = (getattr(ctx, "babel_locale", None), translations)
    return translations


@functools.lru_cache(maxsize=8)
def _wtforms_translations(locale: str):
    """WTForms' own messages ("Not a valid integer value.") in one locale, read once per process;
    Flask-WTF would read and parse their catalogue again on every request that builds a form."""
    from babel import support
    from wtforms.i18n import messages_path

    return support.Translations.load(messages_path(), [locale], domain="wtforms")


def register_web(app: Flask) -> None:
    @app.before_request
    def wtforms_translations():
        if app.config.get("WTF_I18N_ENABLED", True) and request.endpoint not in (None, "static", "vendor"):
            request.wtforms_translations = _wtforms_translations(str(get_locale()))  # read by flask_wtf.i18n

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _template_translations().ugettext(s),
        ngettext=lambda s, p, n: _template_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _template_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _template_translations().unpgettext(c, s, p, n),
    )
    from tracker.notifications.overdue_rows import overdue_row

    from tracker.fragments import field_key, kept

    app.jinja_env.globals.update(overdue_row=overdue_row, kept=kept, field_key=field_key)
    app.jinja_env.filters["localdt"] = localdt
    app.jinja_env.filters["isodate"] = isodate
    app.jinja_env.globals.update(
        get_locale=get_locale,
        selector_label=selector_label,
        status_labels=status.LABELS,
        action_labels=status.ACTION_LABELS,
        field_labels=FIELD_LABELS,
        is_overdue=is_overdue,
        can_view=lambda task: can_view_task(current_user, task),
        url_with=url_with,
        level_labels=LEVEL_LABELS,
        level_badges=LEVEL_BADGES,
        kind_labels=KIND_LABELS,
        kind_badges=KIND_BADGES,
        escalation_state_labels=STATE_LABELS,
    )

    @app.context_processor
    def navigation_counts():
        return {"nav_counts": nav_counts}

    @app.route("/vendor/<name>")
    def vendor(name: str):
        relative = VENDOR_FILES.get(name)
        if relative is None:
            abort(404)
        return send_from_directory(BASE_DIR / "node_modules", relative, max_age=86400)

    @app.errorhandler(400)
    def bad_request(_error):
        return render(
            "error.html",
            status=400,
            title=_("Bad request"),
            message=_("The request could not be understood (invalid characters or values)."),
        ), 400

    @app.errorhandler(404)
    def not_found(_error):
        return render(
            "error.html", status=404, title=_("Not found"), message=_("This page does not exist or you may not see it.")
        ), 404

    @app.errorhandler(403)
    def forbidden(_error):
        return render(
            "error.html", status=403, title=_("Not allowed"), message=_("You are not allowed to do this.")
        ), 403

    @app.errorhandler(413)
    def too_large(_error):
        limit = current_app.config["MAX_UPLOAD_MB"]
        return render(
            "error.html", status=413, title=_("File too large"), message=_("Files may be at most %(mb)d MB.", mb=limit)
        ), 413


class RowIdConverter(IntegerConverter):
    """`<int:…>` in every URL: a number that fits the database's 64-bit integer, else no route
    matches (404) instead of an overflow in the query (a 500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)
