"""The JSON API under /api/v1/ for other systems: bearer tokens, the same scoping, state machine
and journal as the pages, an OpenAPI 3.1 description generated from the validating models.

- core.py: the operation decorator (validation in, declared model out), errors in JSON;
- schemas.py: the Pydantic models; openapi.py: the description and its readable page;
- tokens.py: personal and service tokens; ratelimit.py: per-token limit;
- resources.py: the operations; pages.py: the token pages (/account/tokens, /admin/api-tokens);
- webhooks.py: task events to registered addresses, signed.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask.sessions import SecureCookieSession, SessionInterface
from sqlalchemy import event
from sqlalchemy.orm import Session

API_PREFIX = "/api/"


def is_api_request() -> bool:
    return has_request_context() and request.path.startswith(API_PREFIX)


class CookielessApi(SessionInterface):
    """The app's session interface, except under /api/: there no cookie is read or written, so
    a browser's session can never authenticate an API call (nor CSRF-ride one)."""

    def __init__(self, inner: SessionInterface):
        self.inner = inner

    def open_session(self, app, request):
        if request.path.startswith(API_PREFIX):
            return SecureCookieSession()
        return self.inner.open_session(app, request)

    def save_session(self, app, session, response):
        if request.path.startswith(API_PREFIX):
            return None
        return self.inner.save_session(app, session, response)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _stamp_journal(session, _context, _instances):
    """A journal row written during an API request names the token it came with."""
    if not has_request_context():
        return
    token_id = g.get("api_token_id")
    if token_id is None:
        return
    from tracker.models import JournalEntry

    for obj in session.new:
        if isinstance(obj, JournalEntry) and obj.api_token_id is None:
            obj.api_token_id = token_id


_listening = False


def init_app(app: Flask) -> None:
    global _listening
    from tracker.api import auth, openapi, resources  # noqa: F401  (register the operations)
    from tracker.api.core import bp
    from tracker.api.pages import bp as pages_bp
    from tracker.extensions import csrf

    app.config.setdefault("API_RATE_LIMIT", 600)
    app.config.setdefault("API_RATE_WINDOW", 60)
    app.config.setdefault("API_MAX_BODY_KB", 256)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(pages_bp)
    app.session_interface = CookielessApi(app.session_interface)
    if not _listening:
        event.listen(Session, "before_flush", _stamp_journal)
        _listening = True
