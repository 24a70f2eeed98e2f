"""The personal calendar feed: an iCalendar (RFC 5545) file of the user's due dates.

A user makes a secret URL (`/calendar/<token>.ics`) and gives it to their calendar client. Only
the token's sha256 is stored; making a new one or revoking ends the old URL (404). The feed has
one all-day event per open task owned by the user's unit (occurrences of recurring duties
included) due from 90 days ago to 400 days ahead, at most FEED_LIMIT events.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlparse
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from tracker.extensions import db
from tracker.models import Task, User
from tracker.models.base import utcnow
from tracker.models.cascade import CalendarToken
from tracker.plans.status import CLOSED_STATUSES, LABELS

FEED_LIMIT = 2000
PAST_DAYS, FUTURE_DAYS = 90, 400
PRODID = "-//Action-Plan Tracker//tracker//ZH"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User) -> str:
    """A new secret for the user's feed (the old one stops working); returns the raw token."""
    revoke_tokens(user)
    token = secrets.token_urlsafe(32)
    db.session.add(CalendarToken(user_id=user.id, token_hash=_hash(token)))
    db.session.flush()
    return token


def revoke_tokens(user: User) -> int:
    result = db.session.execute(
        update(CalendarToken)
        .where(CalendarToken.user_id == user.id, CalendarToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def active_token(user: User) -> Optional[CalendarToken]:
    return db.session.scalar(
        select(CalendarToken)
        .where(CalendarToken.user_id == user.id, CalendarToken.revoked_at.is_(None))
        .order_by(CalendarToken.id.desc())
        .limit(1)
    )


def user_for_token(token: str) -> Optional[User]:
    """The active user whose live token this is, or None (unknown, revoked, or inactive user)."""
    if not token or len(token) > 100:
        return None
    found = db.session.scalar(
        select(CalendarToken)
        .where(CalendarToken.token_hash == _hash(token), CalendarToken.revoked_at.is_(None))
        .options(joinedload(CalendarToken.user))
    )
    if found is None or not found.user.active:
        return None
    found.last_used_at = utcnow()
    return found.user


def feed_tasks(user: User, today: date) -> list[Task]:
    """Open tasks owned by the user's unit with a due date in the feed's window (one statement)."""
    return list(
        db.session.scalars(
            select(Task)
            .where(
                Task.owner_unit_id == user.unit_id,
                Task.owner_selector.is_(None),
                Task.due_on.is_not(None),
                Task.status.not_in(CLOSED_STATUSES),
                Task.due_on >= today - timedelta(days=PAST_DAYS),
                Task.due_on <= today + timedelta(days=FUTURE_DAYS),
            )
            .options(joinedload(Task.plan))
            .order_by(Task.due_on, Task.id)
            .limit(FEED_LIMIT)
        )
    )


def build_feed(user: User, tasks: list[Task], base_url: str, now: Optional[datetime] = None) -> bytes:
    """The iCalendar bytes: one all-day VEVENT per task, UIDs stable across reads (task id @ the
    configured BASE_URL's host), links back to the task page."""
    now = now or datetime.now(timezone.utc)
    host = urlparse(base_url).hostname or "tracker"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", _("Due dates: %(unit)s", unit=user.unit.name))
    calendar.add("x-wr-timezone", "Asia/Shanghai")
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    for task in tasks:
        event = Event()
        event.add("uid", f"task-{task.id}@{host}")
        event.add("dtstamp", now)
        event.add("dtstart", task.due_on)
        event.add("dtend", task.due_on + timedelta(days=1))
        event.add("summary", f"{task.ref.split('@')[0].split('#')[0]} {task.title}")
        url = f"{base_url.rstrip('/')}/tasks/{task.id}"
        lines = [task.plan.title, _("Status: %(status)s", status=LABELS.get(task.status, task.status))]
        if task.deliverable:
            lines.append(_("Deliverable: %(text)s", text=task.deliverable))
        lines.append(url)
        event.add("description", "\n".join(lines))
        event.add("url", url)
        event.add("transp", "TRANSPARENT")
        event.add("categories", [task.plan.title[:60]])
        calendar.add_component(event)
    return calendar.to_ical()
