"""Who is calling: the bearer token of every request under /api/v1/ (but the description)."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.api import ratelimit
from tracker.api.core import BY_ENDPOINT, ApiError, bp
from tracker.api.tokens import token_for, touch
from tracker.extensions import db


@bp.before_request
def limit_body():
    """JSON bodies are small; only the evidence upload carries a file (MAX_UPLOAD_MB, the app's limit)."""
    op = BY_ENDPOINT.get(request.endpoint or "")
    if op is not None and op.multipart is None:
        limit = int(current_app.config.get("API_MAX_BODY_KB", 256)) * 1024
        if (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()
        request.max_content_length = limit  # a body without a length is cut there (tracker/api/core.py)


@bp.before_request
def authenticate():
    """`Authorization: Bearer apt_…`, looked up on every request: a revoked or expired token, or
    a deactivated user, fails at once. Counted against the token's rate limit."""
    op = BY_ENDPOINT.get(request.endpoint or "")
    if op is None or op.public:
        return None  # the description, and the JSON 404/405 of unknown paths
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    now = datetime.now(timezone.utc)
    token = token_for(secret.strip(), now) if scheme.lower() == "bearer" else None
    if token is None:
        raise ApiError(
            401,
            "unauthorized",
            "A valid API token is required (Authorization: Bearer apt_…); "
            "this one is missing, unknown, revoked or expired.",
            headers={"WWW-Authenticate": 'Bearer realm="tracker-api"'},
        )
    wait = ratelimit.hit(token.id)
    if wait is not None:
        db.session.commit()
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests for this token; retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    touch(token, now)
    user = token.user
    db.session.commit()
    g.api_token_id = token.id
    g._login_user = user  # Flask-Login's current_user for this request: the token's user
    return None
