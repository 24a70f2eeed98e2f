"""Signed-in sessions as database records (issue 16, findings 4 and 5).

The browser's signed cookie carries a random session id; the database keeps only its SHA-256 in
`user_sessions`, with the user, when it began, when it was last used, the browser and address.
A request is signed in only while its record exists and has not been idle longer than the idle
timeout, so deleting the record (logout, password change or reset, disabling the account, "sign
out everywhere") ends every copy of the cookie at once, on every machine.

Plain functions: they take the id, the user and the clock as arguments and never read the request
(tracker/security.py is the web side). They flush; the caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Optional

from sqlalchemy import delete, func, select
from sqlalchemy.orm import joinedload

from tracker.extensions import db
from tracker.models import User, UserSession

# last_seen_at is written at most this often per session (no write per request)
TOUCH_INTERVAL = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now(now: Optional[datetime]) -> datetime:
    return now or datetime.now(timezone.utc)


def start_session(user: User, user_agent: str = "", address: str = "", now: Optional[datetime] = None) -> str:
    """A new session record of `user`; returns its id (for the cookie; only its hash is stored)."""
    now = _now(now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:200],
            address=(address or "")[:64],
        )
    )
    db.session.flush()
    return token


def is_idle(record: UserSession, idle: timedelta, now: datetime) -> bool:
    """Idle longer than `idle` since its last activity (known to within TOUCH_INTERVAL)."""
    return now - record.last_seen_at > idle + TOUCH_INTERVAL


def live_session(
    token: Optional[str], user_id: int, idle: timedelta, now: Optional[datetime] = None
) -> Optional[UserSession]:
    """The record of this session id if it belongs to `user_id`, its user is active and it is not
    idle-expired (its user loaded with it: one statement); else None. An idle record is deleted."""
    if not token or not isinstance(token, str):
        return None
    now = _now(now)
    record = db.session.scalar(
        select(UserSession).options(joinedload(UserSession.user)).where(UserSession.token_hash == _digest(token))
    )
    if record is None or record.user_id != user_id or not record.user.active:
        return None
    if is_idle(record, idle, now):
        db.session.delete(record)  # the caller commits
        return None
    return record


def note_activity(record: UserSession, now: Optional[datetime] = None) -> bool:
    """Renew `last_seen_at` when the last renewal is TOUCH_INTERVAL old; whether it wrote."""
    now = _now(now)
    if now - record.last_seen_at < TOUCH_INTERVAL:
        return False
    record.last_seen_at = now
    db.session.flush()
    return True


def end_session(token: Optional[str]) -> int:
    """End the session with this id (logout); how many records went (0 or 1)."""
    if not token or not isinstance(token, str):
        return 0
    result = db.session.execute(delete(UserSession).where(UserSession.token_hash == _digest(token)))
    return result.rowcount or 0


def end_user_sessions(user: User, keep_token: Optional[str] = None) -> int:
    """End every session of `user`, except the one with `keep_token` if given; how many ended."""
    statement = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_token:
        statement = statement.where(UserSession.token_hash != _digest(keep_token))
    result = db.session.execute(statement)
    return result.rowcount or 0


def sessions_of(user: User, limit: int = 50) -> list[UserSession]:
    """The user's sessions, the most recently used first."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
            .limit(limit)
        )
    )


def count_sessions(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) or 0


def is_this_session(record: UserSession, token: Optional[str]) -> bool:
    return bool(token) and isinstance(token, str) and record.token_hash == _digest(token)


def forget_idle_sessions(idle: timedelta, now: Optional[datetime] = None) -> int:
    """Delete the records idle past the timeout (the scheduler's daily purge); how many."""
    cutoff = _now(now) - idle - TOUCH_INTERVAL
    return db.session.execute(delete(UserSession).where(UserSession.last_seen_at < cutoff)).rowcount or 0
