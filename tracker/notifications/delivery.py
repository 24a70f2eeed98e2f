"""Delivery of notifications outside the app: e-mail digests and webhook posts, each exactly once.

Runs after the escalation pass has committed (side effects at the edge), in two steps per channel:

1. **compose**: the pending items no message holds yet (notifications for e-mail, escalations for
   the webhook) are grouped into `DeliveryMessage` rows — one digest per user, webhook posts of
   `WEBHOOK_BATCH` items. On PostgreSQL the items are read `FOR UPDATE SKIP LOCKED`, on SQLite
   under the database's write lock, so two deliverers never put one item into two messages. A
   message's items never change, so its key (derived from their ids) is the same on every attempt.
2. **send**: a deliverer claims one pending message at a time, sends it under its key (the
   e-mail's Message-ID, the post's `Idempotency-Key` header, each item's key in
   `X-Tracker-Item-Keys`) and marks it and its items sent. On PostgreSQL the claim is the row
   lock (`FOR UPDATE SKIP LOCKED`, held until the mark is committed): a deliverer that dies or
   loses its connection releases it, and the next run sends the message again with the same
   key. On SQLite (one machine) the claim is a token and the state `sending`, taken over by
   another deliverer only once `DELIVERY_LEASE_SECONDS` have passed.

A mail or webhook failure (refused, unreachable, timed out) puts the message back to pending with
its key and is logged; the next run retries it. Receivers that drop repeats of a key therefore see
each message once even when a post timed out after they read it. Database errors are not caught
here: they end the job (tracker/tasks/jobs.py), and what was not marked sent is retried next run.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import formataddr
from itertools import groupby
from typing import Optional

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select, text, true, update
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import Escalation, Notification, OrgUnit, Task, User
from tracker.models.api import Webhook, WebhookDelivery
from tracker.models.notify import (
    EMAIL,
    ESCALATION,
    EVENT_KINDS,
    EVENTS,
    HOOK,
    LEADER_GROUP,
    PENDING,
    SENDING,
    SENT,
    WEBHOOK,
    DeliveryMessage,
    NoticeEvent,
)
from tracker.notifications.labels import KIND_LABELS, LEVEL_LABELS
from tracker.timeutil import local_today

log = logging.getLogger(__name__)
DIGEST_LINES = 200  # a digest lists at most this many items, then points to the inbox
WEBHOOK_BATCH = 20  # items per webhook message (group-chat robots limit the message size)
CHUNK = 1000  # ids per IN (...) list


@dataclass
class DeliveryReport:
    mails_sent: int = 0
    mail_items: int = 0
    mail_failures: int = 0
    webhook_posts: int = 0
    webhook_items: int = 0
    webhook_failures: int = 0
    hook_posts: int = 0  # the API's registered webhooks (tracker/api/webhooks.py)
    hook_items: int = 0
    hook_failures: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class DigestItem:
    """One line of a digest: a task's notice, or (task_id None) a leader's notice of one unit's
    tasks that reached leadership (`unit_code`, `unit_name`, `item_count`)."""

    notification_id: int
    level: str
    ref: Optional[str]
    title: Optional[str]
    owner: Optional[str]
    due_on: object
    task_id: Optional[int]
    unit_code: Optional[str] = None
    unit_name: Optional[str] = None
    item_count: int = 1
    kind: str = "escalation"


@dataclass
class Claim:
    """A message this deliverer may send: on PostgreSQL while its row lock is held (token None)."""

    id: int
    key: str
    user_id: Optional[int]
    items: int
    webhook_id: Optional[int]
    token: Optional[str]


def deliver_pending(now: Optional[datetime] = None) -> DeliveryReport:
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport()
    if current_app.config.get("SMTP_HOST"):
        compose_digests()
        send_digests(now, report)
    if current_app.config.get("WEBHOOK_URL"):
        compose_webhook_posts()
        post_webhooks(now, report)
        compose_event_posts()
        post_event_webhooks(report)
    from tracker.api import webhooks

    if webhooks.any_active():
        compose_hook_posts()
        post_hooks(report)
    return report


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


# -- compose ----------------------------------------------------------------------------------------


def _hold_sqlite_write_lock() -> None:
    """SQLite: take the database's write lock now (a write that changes nothing), so that what the
    transaction reads next is what it will update; another deliverer waits for the commit."""
    if not _postgresql():
        db.session.execute(text("UPDATE delivery_messages SET id = id WHERE 0 = 1"))


def message_key(kind: str, ids: list[int], owner: Optional[int] = None) -> str:
    """The idempotency key of a message: derived from its items' ids, the same on every attempt."""
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:20]
    who = f".{owner}" if owner is not None else ""
    return f"tracker.{kind}{who}.{min(ids)}-{max(ids)}.{digest}"


def item_key(escalation_id: int) -> str:
    """The idempotency key of one webhook item (one escalation)."""
    return f"tracker.escalation.{escalation_id}"


def _new_messages(channel: str, groups: list[tuple[Optional[int], list[int]]], item_column) -> int:
    for owner, ids in groups:
        kind = {EMAIL: "digest", WEBHOOK: "webhook", HOOK: "hook", EVENTS: "events"}[channel]
        message = DeliveryMessage(
            channel=channel,
            key=message_key(kind, ids, owner),
            user_id=owner if channel == EMAIL else None,
            webhook_id=owner if channel == HOOK else None,
            items=len(ids),
            state=PENDING,
            attempts=0,
            error="",
        )
        db.session.add(message)
        db.session.flush()
        model = item_column.class_
        for part in _chunks(ids):
            db.session.execute(update(model).where(model.id.in_(part)).values({item_column.key: message.id}))
    db.session.commit()
    return len(groups)


def compose_digests() -> int:
    """One digest message per user over the pending notifications no message holds yet."""
    _hold_sqlite_write_lock()
    rows = db.session.execute(
        select(Notification.user_id, Notification.id)
        .where(Notification.email_state == PENDING, Notification.email_message_id.is_(None))
        .order_by(Notification.user_id, Notification.id)
        .with_for_update(skip_locked=True)
    ).all()
    groups = [(user_id, [r[1] for r in group]) for user_id, group in groupby(rows, key=lambda r: r[0])]
    return _new_messages(EMAIL, groups, Notification.email_message_id)


def compose_webhook_posts() -> int:
    """Webhook messages of WEBHOOK_BATCH pending escalations each, highest level first."""
    _hold_sqlite_write_lock()
    ids = list(
        db.session.scalars(
            select(Escalation.id)
            .where(Escalation.webhook_state == PENDING, Escalation.webhook_message_id.is_(None))
            .order_by(Escalation.rank.desc(), Escalation.id)
            .with_for_update(skip_locked=True)
        )
    )
    groups = [(None, ids[start : start + WEBHOOK_BATCH]) for start in range(0, len(ids), WEBHOOK_BATCH)]
    return _new_messages(WEBHOOK, groups, Escalation.webhook_message_id)


def compose_event_posts() -> int:
    """Webhook messages of WEBHOOK_BATCH pending workflow events each (submitted, returned, 催办, …),
    oldest first: each event is posted once, claimed like every other message."""
    _hold_sqlite_write_lock()
    ids = list(
        db.session.scalars(
            select(NoticeEvent.id)
            .where(
                NoticeEvent.webhook_state == PENDING,
                NoticeEvent.webhook_message_id.is_(None),
                NoticeEvent.kind.in_(EVENT_KINDS),
            )
            .order_by(NoticeEvent.id)
            .with_for_update(skip_locked=True)
        )
    )
    groups = [(None, ids[start : start + WEBHOOK_BATCH]) for start in range(0, len(ids), WEBHOOK_BATCH)]
    return _new_messages(EVENTS, groups, NoticeEvent.webhook_message_id)


def compose_hook_posts() -> int:
    """The API webhooks' new events taken (tracker/api/webhooks.py), then posts of WEBHOOK_BATCH
    pending items each, per webhook, oldest first."""
    from tracker.api.webhooks import take_events

    _hold_sqlite_write_lock()
    take_events()
    rows = db.session.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.state == PENDING, WebhookDelivery.message_id.is_(None), Webhook.active.is_(True))
        .order_by(WebhookDelivery.webhook_id, WebhookDelivery.id)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    groups = []
    for webhook_id, group in groupby(rows, key=lambda r: r[0]):
        ids = [r[1] for r in group]
        groups += [(webhook_id, ids[start : start + WEBHOOK_BATCH]) for start in range(0, len(ids), WEBHOOK_BATCH)]
    return _new_messages(HOOK, groups, WebhookDelivery.message_id)


# -- claim, mark --------------------------------------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("DELIVERY_LEASE_SECONDS", 300)))


def claim_next(channel: str, after: int = 0, skip_webhooks: frozenset = frozenset()) -> Optional[Claim]:
    """The next pending message of `channel` after id `after` that no other deliverer holds (and
    not for a webhook in `skip_webhooks`: one that failed in this run)."""
    columns = (
        DeliveryMessage.id,
        DeliveryMessage.key,
        DeliveryMessage.user_id,
        DeliveryMessage.items,
        DeliveryMessage.webhook_id,
    )
    skipped = DeliveryMessage.webhook_id.not_in(skip_webhooks) if skip_webhooks else true()
    if _postgresql():
        row = db.session.execute(
            select(*columns)
            .where(
                DeliveryMessage.channel == channel,
                DeliveryMessage.state == PENDING,
                DeliveryMessage.id > after,
                skipped,
            )
            .order_by(DeliveryMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        return Claim(*row, token=None) if row else None
    wall = datetime.now(timezone.utc)  # leases run on the real clock, whatever `now` the pass runs as
    token = uuid.uuid4().hex
    candidate = (
        select(DeliveryMessage.id)
        .where(
            DeliveryMessage.channel == channel,
            DeliveryMessage.id > after,
            skipped,
            or_(
                DeliveryMessage.state == PENDING,
                and_(DeliveryMessage.state == SENDING, DeliveryMessage.claimed_at < wall - _lease()),
            ),
        )
        .order_by(DeliveryMessage.id)
        .limit(1)
        .scalar_subquery()
    )
    row = db.session.execute(
        update(DeliveryMessage)
        .where(DeliveryMessage.id == candidate)
        .values(state=SENDING, claim=token, claimed_at=wall)
        .returning(*columns)
    ).first()
    db.session.commit()
    return Claim(*row, token=token) if row else None


def _mine(claim: Claim):
    condition = DeliveryMessage.id == claim.id
    if claim.token is not None:
        condition = and_(condition, DeliveryMessage.claim == claim.token)
    return condition


def _items_update(channel: str, message_id: int):
    if channel == EMAIL:
        return update(Notification).where(Notification.email_message_id == message_id)
    if channel == HOOK:
        return update(WebhookDelivery).where(WebhookDelivery.message_id == message_id)
    if channel == EVENTS:
        return update(NoticeEvent).where(NoticeEvent.webhook_message_id == message_id)
    return update(Escalation).where(Escalation.webhook_message_id == message_id)


def mark_sent(channel: str, claim: Claim) -> bool:
    """The message and its items sent (committed); False if another deliverer took it over."""
    done = db.session.execute(
        update(DeliveryMessage)
        .where(_mine(claim))
        .values(
            state=SENT, claim=None, sent_at=datetime.now(timezone.utc), attempts=DeliveryMessage.attempts + 1, error=""
        )
    )
    if done.rowcount == 0:
        db.session.rollback()
        log.warning("delivery: message %s was taken over by another deliverer after its lease ran out", claim.key)
        return False
    if channel == EMAIL:
        db.session.execute(
            _items_update(channel, claim.id).values(
                email_state=SENT, email_attempts=Notification.email_attempts + 1, email_error=""
            )
        )
    elif channel == HOOK:
        db.session.execute(
            _items_update(channel, claim.id).values(
                state=SENT, attempts=WebhookDelivery.attempts + 1, last_error="", sent_at=datetime.now(timezone.utc)
            )
        )
    else:
        model = NoticeEvent if channel == EVENTS else Escalation
        db.session.execute(
            _items_update(channel, claim.id).values(webhook_state=SENT, webhook_attempts=model.webhook_attempts + 1)
        )
    db.session.commit()
    return True


def mark_failed(channel: str, claim: Claim, error: str) -> None:
    """Back to pending with its key (committed): the next run sends it again under the same key."""
    db.session.execute(
        update(DeliveryMessage)
        .where(_mine(claim))
        .values(state=PENDING, claim=None, claimed_at=None, attempts=DeliveryMessage.attempts + 1, error=error[:500])
    )
    if channel == EMAIL:
        db.session.execute(
            _items_update(channel, claim.id).values(
                email_attempts=Notification.email_attempts + 1, email_error=error[:500]
            )
        )
    elif channel == HOOK:
        db.session.execute(
            _items_update(channel, claim.id).values(attempts=WebhookDelivery.attempts + 1, last_error=error[:500])
        )
    else:
        model = NoticeEvent if channel == EVENTS else Escalation
        db.session.execute(_items_update(channel, claim.id).values(webhook_attempts=model.webhook_attempts + 1))
    db.session.commit()


# -- e-mail -------------------------------------------------------------------------------------------


def _link(task_id: int) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("plans.task_page", task_id=task_id, _external=True)


def _inbox_link() -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("notifications.inbox", _external=True)


def _mail_domain() -> str:
    return current_app.config["MAIL_FROM"].split("@")[-1] or "localhost"


def message_id_header(key: str) -> str:
    return f"<{key}@{_mail_domain()}>"


def _overdue_link(unit_code: str) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("notifications.overdue", unit=unit_code, _external=True)


def _digest_items(message_id: int) -> list[DigestItem]:
    """The message's notices in one statement: tasks' notices and leaders' per-unit notices."""
    owner, group = aliased(OrgUnit), aliased(OrgUnit)
    rows = db.session.execute(
        select(
            Notification.id,
            Notification.level,
            Task.ref,
            Task.title,
            owner.name,
            Task.due_on,
            Task.id,
            group.code,
            group.name,
            Notification.item_count,
            Notification.kind,
        )
        .outerjoin(Task, Task.id == Notification.task_id)
        .outerjoin(owner, owner.id == Task.owner_unit_id)
        .outerjoin(group, group.id == Notification.unit_id)
        .where(Notification.email_message_id == message_id)
        .order_by(Notification.id)
    )
    return [DigestItem(*row) for row in rows]


def _digest_line(item: DigestItem, today) -> tuple:
    """(item, label, link, days late, group text) for the digest template."""
    if item.task_id is None:
        label = str(KIND_LABELS.get(LEADER_GROUP, LEADER_GROUP))
        text = _("%(unit)s: %(n)d tasks escalated to leadership.", unit=item.unit_name or "", n=item.item_count)
        return item, label, _overdue_link(item.unit_code or ""), None, text
    if item.kind != ESCALATION:  # a workflow event or a 签收 reminder: named by its kind
        return item, str(KIND_LABELS.get(item.kind, item.kind)), _link(item.task_id), None, None
    label = str(LEVEL_LABELS.get(item.level) or KIND_LABELS.get(item.level, item.level))
    late = (today - item.due_on).days if item.due_on else None
    return item, label, _link(item.task_id), late, None


def build_digest(
    email: str, name: str, items: list[DigestItem], now: datetime, key: Optional[str] = None
) -> EmailMessage:
    config = current_app.config
    today = local_today(now)
    with force_locale("zh_CN"):
        shown = items[:DIGEST_LINES]
        body = current_app.jinja_env.get_template("notifications/digest.txt").render(
            name=name,
            items=[_digest_line(item, today) for item in shown],
            more=len(items) - len(shown),
            inbox=_inbox_link(),
        )
        subject = _("[Action-Plan Tracker] %(n)d reminders and escalations", n=len(items))
        sender_name = _("Action-Plan Tracker")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((sender_name, config["MAIL_FROM"]))
    message["To"] = formataddr((name, email))
    # the idempotency key: the same on a retry, so a repeat is recognisable by its Message-ID
    message["Message-ID"] = message_id_header(key or message_key("digest", [i.notification_id for i in items]))
    message.set_content(body, charset="utf-8")
    return message


def _smtp_connect():
    config = current_app.config
    host, port, timeout = config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_TIMEOUT"]
    if config["SMTP_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if config["SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
    if config.get("SMTP_USER"):
        smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD", ""))
    return smtp


def _addressee(user_id: int) -> tuple[str, str]:
    return tuple(db.session.execute(select(User.email, User.display_name).where(User.id == user_id)).one())


def send_digests(now: datetime, report: DeliveryReport) -> None:
    """Send the pending digests, each claimed by this deliverer alone and marked sent on its own.

    After a failed message the connection is dropped (a timed-out session is in an unknown state)
    and the next message gets a new one; a server that cannot be reached ends the run."""
    smtp = None
    after = 0
    try:
        while (claim := claim_next(EMAIL, after)) is not None:
            after = claim.id
            email, name = _addressee(claim.user_id)
            message = build_digest(email, name, _digest_items(claim.id), now, claim.key)
            unreachable = smtp is None
            try:
                if smtp is None:
                    smtp = _smtp_connect()
                unreachable = False
                smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                if unreachable:
                    log.warning("delivery: SMTP server unreachable, digests stay pending: %s", exc)
                else:
                    log.warning(
                        "delivery: mail %s to %s failed, stays pending with its Message-ID: %s", claim.key, email, exc
                    )
                mark_failed(EMAIL, claim, str(exc))
                report.mail_failures += 1
                report.errors.append(str(exc))
                if unreachable:
                    report.mail_failures += _count_failure(EMAIL, after, str(exc))
                    return
                _close(smtp)
                smtp = None
                continue
            if mark_sent(EMAIL, claim):
                report.mails_sent += 1
                report.mail_items += claim.items
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                _close(smtp)


def _close(smtp) -> None:
    try:
        smtp.close()
    except OSError:
        pass


def _count_failure(channel: str, after: int, error: str) -> int:
    """The server is unreachable: record the failed attempt on the other pending messages too."""
    ids = list(
        db.session.scalars(
            select(DeliveryMessage.id)
            .where(DeliveryMessage.channel == channel, DeliveryMessage.state == PENDING, DeliveryMessage.id > after)
            .with_for_update(skip_locked=True)
        )
    )
    for part in _chunks(ids):
        db.session.execute(
            update(DeliveryMessage)
            .where(DeliveryMessage.id.in_(part))
            .values(attempts=DeliveryMessage.attempts + 1, error=error[:500])
        )
        if channel == EMAIL:
            db.session.execute(
                update(Notification)
                .where(Notification.email_message_id.in_(part))
                .values(email_attempts=Notification.email_attempts + 1, email_error=error[:500])
            )
    db.session.commit()
    return len(ids)


# -- webhook ------------------------------------------------------------------------------------------


def webhook_payload(lines: list[str], total: int) -> dict:
    """The group-chat robot shape (WeCom / DingTalk style): a markdown message."""
    with force_locale("zh_CN"):
        heading = _("Action-Plan Tracker: %(n)d reminders and escalations", n=total)
    return {"msgtype": "markdown", "markdown": {"title": heading, "content": "\n".join([f"**{heading}**", *lines])}}


def _webhook_request(claim: Claim) -> tuple[urllib.request.Request, int]:
    url = current_app.config["WEBHOOK_URL"]
    rows = db.session.execute(
        select(Escalation.id, Escalation.level, Task.ref, Task.title, OrgUnit.name, Task.due_on, Task.id)
        .join(Task, Task.id == Escalation.task_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Escalation.webhook_message_id == claim.id)
        .order_by(Escalation.rank.desc(), Escalation.id)
    ).all()
    with force_locale("zh_CN"):
        lines = [
            f"> [{LEVEL_LABELS.get(level, level)}] {ref} {title} — {owner}（{_('due')} {due}）[{_('Open')}]({_link(task_id)})"
            for _id, level, ref, title, owner, due, task_id in rows
        ]
    data = json.dumps(webhook_payload(lines, len(rows)), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": claim.key,
        "X-Tracker-Item-Keys": ",".join(item_key(row[0]) for row in rows),
    }
    return urllib.request.Request(url, data=data, method="POST", headers=headers), len(rows)


def _event_request(claim: Claim) -> tuple[urllib.request.Request, int]:
    """The group-chat post of a claimed message of workflow events: one line per event."""
    url = current_app.config["WEBHOOK_URL"]
    rows = db.session.execute(
        select(NoticeEvent.id, NoticeEvent.kind, Task.ref, Task.title, OrgUnit.name, Task.id, NoticeEvent.message)
        .join(Task, Task.id == NoticeEvent.task_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(NoticeEvent.webhook_message_id == claim.id)
        .order_by(NoticeEvent.id)
    ).all()
    with force_locale("zh_CN"):
        lines = [
            f"> [{KIND_LABELS.get(kind, kind)}] {ref.split('@')[0]} {title} — {owner or ''}"
            f"{'：' + message[:100] if message else ''} [{_('Open')}]({_link(task_id)})"
            for _id, kind, ref, title, owner, task_id, message in rows
        ]
    data = json.dumps(webhook_payload(lines, len(rows)), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": claim.key,
        "X-Tracker-Item-Keys": ",".join(f"tracker.event.{row[0]}" for row in rows),
    }
    return urllib.request.Request(url, data=data, method="POST", headers=headers), len(rows)


def _post_group_chat(channel: str, build, report: DeliveryReport) -> None:
    """Post the pending messages of `channel` to the group-chat webhook; the first failure ends
    the run (the rest stay pending, each with its key)."""
    timeout = current_app.config["SMTP_TIMEOUT"]
    after = 0
    while (claim := claim_next(channel, after)) is not None:
        after = claim.id
        request, count = build(claim)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
                if response.status >= 300:
                    raise urllib.error.HTTPError(
                        request.full_url, response.status, "webhook refused", response.headers, None
                    )
        except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, timeouts: OSError
            log.warning("delivery: webhook post %s failed, stays pending with its key: %s", claim.key, exc)
            mark_failed(channel, claim, str(exc))
            report.webhook_failures += 1
            report.errors.append(str(exc))
            return
        if mark_sent(channel, claim):
            report.webhook_posts += 1
            report.webhook_items += count


def post_webhooks(now: datetime, report: DeliveryReport) -> None:
    """Post the pending escalation messages (see `_post_group_chat`)."""
    _post_group_chat(WEBHOOK, _webhook_request, report)


def post_event_webhooks(report: DeliveryReport) -> None:
    """Post the pending workflow-event messages (see `_post_group_chat`)."""
    _post_group_chat(EVENTS, _event_request, report)


# -- the API's registered webhooks ------------------------------------------------------------------


def hook_request(claim: Claim) -> tuple[Optional[urllib.request.Request], int]:
    """The signed post of a claimed message (None when its webhook was removed meanwhile). Its
    body is made of the items' stored payloads: the same bytes, key and signature on every attempt."""
    from tracker.api.webhooks import SIGNATURE_HEADER, sign

    webhook = db.session.get(Webhook, claim.webhook_id)
    rows = db.session.execute(
        select(WebhookDelivery.idempotency_key, WebhookDelivery.payload)
        .where(WebhookDelivery.message_id == claim.id)
        .order_by(WebhookDelivery.id)
    ).all()
    if webhook is None or not webhook.active:
        return None, len(rows)
    events = ",".join(payload for _key, payload in rows)
    data = f'{{"key":{json.dumps(claim.key)},"webhook":{webhook.id},"events":[{events}]}}'.encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": claim.key,
        "X-Tracker-Item-Keys": ",".join(key for key, _payload in rows),
        SIGNATURE_HEADER: sign(webhook.secret, data),
        "User-Agent": "Action-Plan-Tracker-Webhook/1",
    }
    return urllib.request.Request(webhook.url, data=data, method="POST", headers=headers), len(rows)


def post_hooks(report: DeliveryReport) -> None:
    """Post the pending messages of the registered webhooks; a webhook that fails is left alone
    for the rest of the run (its messages stay pending with their keys), the others go on."""
    timeout = current_app.config["SMTP_TIMEOUT"]
    after, failed = 0, set()
    while (claim := claim_next(HOOK, after, frozenset(failed))) is not None:
        after = claim.id
        request, count = hook_request(claim)
        if request is None:  # deactivated: never sent, marked done so it is not claimed again
            mark_sent(HOOK, claim)
            continue
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (an admin's URL)
                if response.status >= 300:
                    raise urllib.error.HTTPError(
                        request.full_url, response.status, "webhook refused", response.headers, None
                    )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            log.warning("delivery: API webhook post %s failed, stays pending with its key: %s", claim.key, exc)
            mark_failed(HOOK, claim, str(exc))
            failed.add(claim.webhook_id)
            report.hook_failures += 1
            report.errors.append(str(exc))
            continue
        if mark_sent(HOOK, claim):
            report.hook_posts += 1
            report.hook_items += count
