"""Webhooks out: an admin registers an address for task events (status changed, overdue,
escalated); each event is posted to it as JSON, signed with the webhook's own secret
(`X-Tracker-Signature: sha256=<HMAC-SHA256 of the body, hex>`), under the idempotency key of the
delivery (tracker/notifications/delivery.py, channel `hook`: the same compose, claim, retry and
mark-sent as the e-mail digests and the group-chat robot; no second deliverer).

Events are taken, when the deliverer composes, from the journal (status changes) and the
escalations (a fired `overdue` level: task.overdue; `parent` or `leadership`: task.escalated),
each webhook from where it left off; one item per event and webhook, unique by its key, so an
event is put in a post once whatever the number of deliverers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional
from urllib.parse import urlsplit

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import exists, func, select, update

from tracker.extensions import db
from tracker.models import Escalation, JournalEntry, OrgUnit, Task, User, Webhook, WebhookDelivery
from tracker.models.notify import LEADERSHIP, OVERDUE, PARENT, PENDING

STATUS_CHANGED, OVERDUE_EVENT, ESCALATED = "task.status_changed", "task.overdue", "task.escalated"
EVENTS = (STATUS_CHANGED, OVERDUE_EVENT, ESCALATED)
EVENT_LABELS = {
    STATUS_CHANGED: _l("Status changed"),
    OVERDUE_EVENT: _l("Overdue"),
    ESCALATED: _l("Escalated (to the parent unit or the leadership)"),
}
ESCALATION_EVENTS = {OVERDUE: OVERDUE_EVENT, PARENT: ESCALATED, LEADERSHIP: ESCALATED}
SIGNATURE_HEADER = "X-Tracker-Signature"
TAKE = 2000  # events taken per source and webhook per run (the rest next run)
MAX_WEBHOOKS = 50


class WebhookError(ValueError):
    """Refused webhook data; the message is for the admin who gave it."""


@dataclass
class NewWebhook:
    webhook: Webhook
    secret: str  # shown once


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the HMAC-SHA256 of the body with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def events_of(webhook: Webhook) -> set[str]:
    return set(filter(None, (webhook.events or "").split(","))) or set(EVENTS)


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise WebhookError(_l("An address is required."))
    if len(url) > 500:
        raise WebhookError(_l("An address may have at most 500 characters."))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise WebhookError(_l("The address must be an http:// or https:// URL."))
    return url


def register(admin: User, url: str, events: list[str], now: Optional[datetime] = None) -> NewWebhook:
    """A webhook for `events` (all when none is chosen), receiving events from now on."""
    if admin.role != "admin":
        raise WebhookError(_l("Only an admin registers webhooks."))
    url = _clean_url(url)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise WebhookError(_l("Unknown event."))
    if db.session.scalar(select(func.count()).select_from(Webhook).where(Webhook.active.is_(True))) >= MAX_WEBHOOKS:
        raise WebhookError(_l("At most %(n)d active webhooks; remove one first.", n=MAX_WEBHOOKS))
    secret = "whsec_" + secrets.token_urlsafe(32)
    webhook = Webhook(
        url=url,
        secret=secret,
        events=",".join(e for e in EVENTS if e in events),
        active=True,
        created_by_id=admin.id,
        created_at=now or datetime.now(timezone.utc),
        journal_after=db.session.scalar(select(func.coalesce(func.max(JournalEntry.id), 0))),
        escalation_after=db.session.scalar(select(func.coalesce(func.max(Escalation.id), 0))),
    )
    db.session.add(webhook)
    db.session.flush()
    return NewWebhook(webhook, secret)


def deactivate(webhook_id: int) -> bool:
    """Stop sending to it (its pending posts are dropped by the deliverer)."""
    done = db.session.execute(update(Webhook).where(Webhook.id == webhook_id).values(active=False))
    return bool(done.rowcount)


def webhooks(limit: int = 200) -> list[Webhook]:
    return list(db.session.scalars(select(Webhook).order_by(Webhook.active.desc(), Webhook.id.desc()).limit(limit)))


def any_active() -> bool:
    return bool(db.session.scalar(select(exists().where(Webhook.active.is_(True)))))


def _task_json(ref, title, unit_code, unit_name, task_id, due_on, status) -> dict:
    return {
        "id": task_id,
        "ref": ref,
        "title": title,
        "owner_unit": {"code": unit_code, "name": unit_name} if unit_code else None,
        "due": due_on.isoformat() if due_on else None,
        "status": status,
    }


TASK_COLUMNS = (Task.ref, Task.title, OrgUnit.code, OrgUnit.name, Task.id, Task.due_on, Task.status)


def _status_items(webhook: Webhook) -> tuple[list[dict], int]:
    rows = db.session.execute(
        select(JournalEntry.id, JournalEntry.at, JournalEntry.old_value, JournalEntry.new_value, *TASK_COLUMNS)
        .join(Task, Task.id == JournalEntry.task_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(JournalEntry.action == "status", JournalEntry.id > webhook.journal_after)
        .order_by(JournalEntry.id)
        .limit(TAKE)
    ).all()
    items = [
        {
            "key": f"tracker.status.{entry_id}",
            "event": STATUS_CHANGED,
            "at": at.astimezone(timezone.utc).isoformat(),
            "old": old,
            "new": new,
            "task": _task_json(*task),
        }
        for entry_id, at, old, new, *task in rows
    ]
    return items, rows[-1][0] if rows else webhook.journal_after


def _escalation_items(webhook: Webhook) -> tuple[list[dict], int]:
    from tracker.models.notify import FIRED

    rows = db.session.execute(
        select(Escalation.id, Escalation.at, Escalation.level, Escalation.state, Escalation.due_on, *TASK_COLUMNS)
        .join(Task, Task.id == Escalation.task_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Escalation.id > webhook.escalation_after)
        .order_by(Escalation.id)
        .limit(TAKE)
    ).all()
    items = [
        {
            "key": f"tracker.escalation.{escalation_id}",  # as delivery.item_key
            "event": ESCALATION_EVENTS[level],
            "at": at.astimezone(timezone.utc).isoformat(),
            "level": level,
            "due": due.isoformat(),
            "task": _task_json(*task),
        }
        for escalation_id, at, level, state, due, *task in rows
        if state == FIRED and level in ESCALATION_EVENTS
    ]
    return items, rows[-1][0] if rows else webhook.escalation_after


def take_events() -> int:
    """Put the new events of every active webhook into its items (the caller holds the write
    lock, tracker/notifications/delivery.py, and commits). Returns the items added."""
    from sqlalchemy.dialects import postgresql, sqlite

    def insert_into(model):  # INSERT … ON CONFLICT for the session's dialect
        module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
        return module.insert(model.__table__)

    added = 0
    hooks = db.session.scalars(
        select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id).with_for_update(skip_locked=True)
    ).all()
    now = datetime.now(timezone.utc)
    for webhook in hooks:
        wanted = events_of(webhook)
        status, journal_after = _status_items(webhook)
        escalations, escalation_after = _escalation_items(webhook)
        rows = [
            {
                "webhook_id": webhook.id,
                "event": item["event"],
                "idempotency_key": item["key"],
                "payload": json.dumps(item, ensure_ascii=False, separators=(",", ":")),
                "state": PENDING,
                "attempts": 0,
                "last_error": "",
                "created_at": now,
            }
            for item in status + escalations
            if item["event"] in wanted
        ]
        if rows:
            db.session.execute(insert_into(WebhookDelivery).on_conflict_do_nothing(), rows)
            added += len(rows)
        webhook.journal_after, webhook.escalation_after = journal_after, escalation_after
    db.session.flush()
    return added
