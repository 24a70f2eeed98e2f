"""Request ids and the error pages a request can end on when something fails.

Every request gets an id (the proxy's `X-Request-ID` when it sends a sane one, else a new one),
sent back in the `X-Request-ID` header and put on every log line of the request
(tracker/logging_setup.py). When the database cannot be reached (connection refused or cut, the
pool exhausted, SQLite locked) the request ends with 503 and a Chinese page that says so and
advises to retry; any other failure ends with 500 and a page showing the request id, which is
also in the one log line that records the failure (with its traceback folded into that line).

The pages render without the database (no navigation counts, no user): a plain page, or for an
HTMX request the notice alone, retargeted into the page's `#request-problem` area (base.html's
htmx-config lets 500 and 503 swap).
"""

from __future__ import annotations

import logging
import re
import types
import uuid

from flask import Flask, g, has_request_context, make_response, render_template, request
from flask_babel import gettext as _
from sqlalchemy import exc as sa_exc

from tracker.storage import StorageError
from tracker.web import wants_fragment

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{6,64}$")
# errors that mean "the database is not there right now", as opposed to a wrong statement
UNREACHABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
RETRY_AFTER_SECONDS = 30


def current_request_id() -> str:
    if has_request_context():
        return g.get("request_id") or "-"
    return "-"


def assign_request_id() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex[:16]


def send_request_id(response):
    response.headers.setdefault(REQUEST_ID_HEADER, current_request_id())
    return response


def _no_user_loading() -> None:
    """Templates must not load the signed-in user (Flask-Login's context processor would query the
    database that may be gone): if it is not loaded yet, the page is rendered as for a visitor."""
    from tracker.extensions import login_manager

    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()


def problem_response(status: int, title: str, message: str, advice: str = ""):
    _no_user_loading()
    context = {
        "status": status,
        "title": title,
        "message": message,
        "advice": advice,
        "request_id": current_request_id(),
    }
    if wants_fragment():
        response = make_response(render_template("errors/_problem.html", **context), status)
        response.headers["HX-Retarget"] = "#request-problem"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(render_template("errors/problem.html", **context), status)
    response.vary.add("HX-Request")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _rollback() -> None:
    from tracker.extensions import db

    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 — the connection is gone; nothing to undo
        pass


def database_unavailable(error):
    from tracker.tasks.jobs import database_error_line

    _rollback()
    log.warning("503 %s %s: database unreachable: %s", request.method, request.path, database_error_line(error))
    return problem_response(
        503,
        _("Service temporarily unavailable"),
        _("The database cannot be reached at the moment."),
        _("Please try again in a minute. If you were saving something, it was not saved: submit it again then."),
    )


def store_unavailable(error: Exception):
    """The file store (the folder or the object store) cannot be read or written just now."""
    log.warning("503 %s %s: file store unreachable: %s", request.method, request.path, error)
    return problem_response(
        503,
        _("Service temporarily unavailable"),
        _("The file store cannot be reached at the moment."),
        _("Please try again in a minute."),
    )


def internal_error(_error):
    _rollback()
    return problem_response(
        500,
        _("Something went wrong"),
        _("An unexpected error stopped this request. It has been recorded."),
        _("Please try again. If it happens again, tell the administrator the request number shown below."),
    )


def _log_exception(app: Flask, exc_info) -> None:
    """Flask's log of an unhandled exception, as one line with the request id (and the traceback
    folded in by the formatter)."""
    app.logger.error(
        "500 %s %s: unhandled %s",
        request.method,
        request.path,
        exc_info[0].__name__ if exc_info and exc_info[0] else "error",
        exc_info=exc_info,
    )


def register_errors(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)
    app.after_request(send_request_id)
    app.log_exception = types.MethodType(_log_exception, app)
    for error in UNREACHABLE:
        app.register_error_handler(error, database_unavailable)
    app.register_error_handler(StorageError, store_unavailable)
    app.register_error_handler(500, internal_error)
