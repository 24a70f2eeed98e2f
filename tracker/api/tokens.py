"""API tokens: personal ones a user makes, service ones an admin makes for another system.

A token is `apt_` and 43 random URL-safe characters; only its sha256 is kept, so it is shown
once. It has a name, an expiry and can be revoked; a revoked or expired token, or one whose user
is deactivated, fails at the next request (every request looks it up). A service token belongs
to a service account made for it: a user of the chosen unit and role who cannot sign in (an
unknown random password), so that the token acts exactly as a user of that unit and role.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from tracker.extensions import db
from tracker.models import ApiToken, OrgUnit, User
from tracker.models.api import PERSONAL, SERVICE

TOKEN_PREFIX = "apt_"
EXPIRY_DAYS = (30, 90, 180, 365)
MAX_TOKENS_PER_USER = 20
SERVICE_ROLES = ("coordinator", "reporter", "leader")
TOKEN_PATTERN = re.compile(r"^apt_[A-Za-z0-9_-]{43}$")


class TokenError(ValueError):
    """Refused token data; the message is for the person who gave it."""


@dataclass
class NewToken:
    token: ApiToken
    secret: str  # the token itself: shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now(now: Optional[datetime]) -> datetime:
    return now or datetime.now(timezone.utc)


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TokenError(_l("A name is required."))
    if len(name) > 100:
        raise TokenError(_l("A name may have at most 100 characters."))
    return name


def _issue(user: User, name: str, days: int, kind: str, created_by: User, now: Optional[datetime]) -> NewToken:
    if days not in EXPIRY_DAYS:
        raise TokenError(_l("Choose an expiry of 30, 90, 180 or 365 days."))
    now = _now(now)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        kind=kind,
        name=name,
        token_hash=_hash(secret),
        prefix=secret[:10],
        created_by=created_by,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    return NewToken(token, secret)


def create_personal_token(user: User, name: str, days: int, now: Optional[datetime] = None) -> NewToken:
    """A token that acts as `user`; leaders get one too (they read)."""
    name = _clean_name(name)
    active = db.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None), ApiToken.expires_at > _now(now))
    )
    if active >= MAX_TOKENS_PER_USER:
        raise TokenError(_l("You have %(n)d active tokens; revoke one first.", n=active))
    return _issue(user, name, days, PERSONAL, user, now)


def create_service_token(
    admin: User, name: str, unit: Optional[OrgUnit], role: str, days: int, now: Optional[datetime] = None
) -> NewToken:
    """An admin's token for another system, acting as a new service account of `unit` and `role`."""
    if admin.role != "admin":
        raise TokenError(_l("Only an admin makes service tokens."))
    name = _clean_name(name)
    if unit is None:
        raise TokenError(_l("Unknown unit."))
    if role not in SERVICE_ROLES:
        raise TokenError(_l("A service token is a coordinator, a reporter or a leader."))
    account = User(username=f"svc-{secrets.token_hex(5)}", display_name=f"{name} (API)", role=role, unit=unit, email="")
    account.set_password(secrets.token_urlsafe(32))  # nobody knows it: the account cannot sign in
    db.session.add(account)
    db.session.flush()
    return _issue(account, name, days, SERVICE, admin, now)


def token_for(secret: str, now: Optional[datetime] = None) -> Optional[ApiToken]:
    """The usable token with this secret (with its user and unit), else None."""
    if not secret or not TOKEN_PATTERN.match(secret):
        return None
    token = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == _hash(secret))
        .options(joinedload(ApiToken.user).joinedload(User.unit))
    )
    if token is None or not token.usable(_now(now)):
        return None
    return token


def touch(token: ApiToken, now: Optional[datetime] = None) -> None:
    """Record the use, at most once a minute (a write per request would be wasted)."""
    now = _now(now)
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.kind == PERSONAL)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
            .limit(100)
        )
    )


def service_tokens(limit: int = 200) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.kind == SERVICE)
            .options(joinedload(ApiToken.user).joinedload(User.unit))
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
            .limit(limit)
        )
    )


def revoke(user: User, token_id: int, now: Optional[datetime] = None) -> bool:
    """Revoke one of `user`'s own tokens (an admin: any service token); False when not theirs."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        return False
    own = token.kind == PERSONAL and token.user_id == user.id
    if not (own or (user.role == "admin" and token.kind == SERVICE)):
        return False
    if token.revoked_at is None:
        db.session.execute(
            update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None)).values(revoked_at=_now(now))
        )
        db.session.expire(token)
    return True
