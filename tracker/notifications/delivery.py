"""Delivery of notifications outside the app: one e-mail digest per user per run, and a webhook.

Runs after the escalation pass has committed (side effects at the edge). A failure is logged
and leaves the items pending, so the next run delivers them; it never raises into the job.
"""
from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from itertools import groupby
from typing import Iterable, Optional

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from tracker.extensions import db
from tracker.models import Escalation, Notification, OrgUnit, Task, User
from tracker.models.notify import PENDING, SENT
from tracker.notifications.labels import LEVEL_LABELS
from tracker.timeutil import local_today

log = logging.getLogger(__name__)
DIGEST_LINES = 200  # a digest lists at most this many items, then points to the inbox
WEBHOOK_BATCH = 20  # items per webhook message (group-chat robots limit the message size)


@dataclass
class DeliveryReport:
    mails_sent: int = 0
    mail_items: int = 0
    mail_failures: int = 0
    webhook_posts: int = 0
    webhook_items: int = 0
    webhook_failures: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class DigestItem:
    notification_id: int
    level: str
    ref: str
    title: str
    owner: str
    due_on: object
    task_id: int


def deliver_pending(now: Optional[datetime] = None) -> DeliveryReport:
    now = now or datetime.now(timezone.utc)
    report = DeliveryReport()
    if current_app.config.get("SMTP_HOST"):
        send_digests(now, report)
    if current_app.config.get("WEBHOOK_URL"):
        post_webhooks(now, report)
    return report


def _link(task_id: int) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("plans.task_page", task_id=task_id, _external=True)


def _pending_mail_rows():
    """Pending e-mail notifications with what the digest shows, grouped by user (streamed)."""
    return db.session.execute(
        select(User.id, User.email, User.display_name, Notification.id, Notification.level,
               Task.ref, Task.title, OrgUnit.name, Task.due_on, Task.id)
        .join(User, User.id == Notification.user_id)
        .join(Task, Task.id == Notification.task_id)
        .join(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Notification.email_state == PENDING)
        .order_by(User.id, Notification.id)
        .execution_options(yield_per=1000)
    )


def build_digest(email: str, name: str, items: list[DigestItem], now: datetime) -> EmailMessage:
    config = current_app.config
    today = local_today(now)
    with force_locale("zh_CN"):
        shown = items[:DIGEST_LINES]
        body = current_app.jinja_env.get_template("notifications/digest.txt").render(
            name=name,
            items=[(item, str(LEVEL_LABELS[item.level]), _link(item.task_id),
                    (today - item.due_on).days if item.due_on else None) for item in shown],
            more=len(items) - len(shown),
            inbox=_inbox_link(),
        )
        subject = _("[Action-Plan Tracker] %(n)d reminders and escalations", n=len(items))
        sender_name = _("Action-Plan Tracker")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((sender_name, config["MAIL_FROM"]))
    message["To"] = formataddr((name, email))
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].split("@")[-1] or None)
    message.set_content(body, charset="utf-8")
    return message


def _inbox_link() -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return url_for("notifications.inbox", _external=True)


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


def _user_batches() -> Iterable[tuple[str, str, list[DigestItem]]]:
    rows = _pending_mail_rows()
    for (_user_id, email, name), group in groupby(rows, key=lambda r: (r[0], r[1], r[2])):
        items = [DigestItem(r[3], r[4], r[5], r[6], r[7], r[8], r[9]) for r in group]
        yield email, name, items


def send_digests(now: datetime, report: DeliveryReport) -> None:
    """One message per user with pending notifications; each user's items marked sent together."""
    try:
        batches = list(_user_batches())
    except Exception as exc:  # noqa: BLE001 — the job must go on
        log.exception("could not read pending mail")
        report.errors.append(str(exc))
        return
    if not batches:
        return
    try:
        smtp = _smtp_connect()
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("SMTP server unreachable, %d digests stay pending: %s", len(batches), exc)
        _record_mail_failure([i.notification_id for _, _, items in batches for i in items], str(exc))
        report.mail_failures += len(batches)
        report.errors.append(str(exc))
        return
    try:
        for email, name, items in batches:
            ids = [item.notification_id for item in items]
            try:
                smtp.send_message(build_digest(email, name, items, now))
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("mail to %s failed, stays pending: %s", email, exc)
                _record_mail_failure(ids, str(exc))
                report.mail_failures += 1
                report.errors.append(str(exc))
                continue
            db.session.execute(update(Notification).where(Notification.id.in_(ids)).values(
                email_state=SENT, email_attempts=Notification.email_attempts + 1, email_error=""))
            db.session.commit()
            report.mails_sent += 1
            report.mail_items += len(ids)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass


def _record_mail_failure(ids: list[int], error: str) -> None:
    for start in range(0, len(ids), 1000):
        db.session.execute(update(Notification).where(Notification.id.in_(ids[start:start + 1000])).values(
            email_attempts=Notification.email_attempts + 1, email_error=error[:500]))
    db.session.commit()


def webhook_payload(lines: list[str], total: int) -> dict:
    """The group-chat robot shape (WeCom / DingTalk style): a markdown message."""
    with force_locale("zh_CN"):
        heading = _("Action-Plan Tracker: %(n)d reminders and escalations", n=total)
    return {"msgtype": "markdown", "markdown": {"title": heading, "content": "\n".join([f"**{heading}**", *lines])}}


def post_webhooks(now: datetime, report: DeliveryReport) -> None:
    url = current_app.config["WEBHOOK_URL"]
    timeout = current_app.config["SMTP_TIMEOUT"]
    rows = db.session.execute(
        select(Escalation.id, Escalation.level, Task.ref, Task.title, OrgUnit.name, Task.due_on, Task.id)
        .join(Task, Task.id == Escalation.task_id)
        .join(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Escalation.webhook_state == PENDING)
        .order_by(Escalation.rank.desc(), Escalation.id)
    ).all()
    with force_locale("zh_CN"):
        for start in range(0, len(rows), WEBHOOK_BATCH):
            batch = rows[start:start + WEBHOOK_BATCH]
            lines = [f"> [{LEVEL_LABELS[level]}] {ref} {title} — {owner}（{_('due')} {due}）[{_('Open')}]({_link(task_id)})"
                     for _id, level, ref, title, owner, due, task_id in batch]
            ids = [row[0] for row in batch]
            data = json.dumps(webhook_payload(lines, len(rows)), ensure_ascii=False).encode("utf-8")
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type": "application/json; charset=utf-8"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
                    if response.status >= 300:
                        raise urllib.error.HTTPError(url, response.status, "webhook refused", response.headers, None)
            except (OSError, urllib.error.URLError, ValueError) as exc:
                log.warning("webhook failed, %d items stay pending: %s", len(rows) - start, exc)
                db.session.execute(update(Escalation).where(Escalation.id.in_([r[0] for r in rows[start:]]))
                                   .values(webhook_attempts=Escalation.webhook_attempts + 1))
                db.session.commit()
                report.webhook_failures += 1
                report.errors.append(str(exc))
                return
            db.session.execute(update(Escalation).where(Escalation.id.in_(ids)).values(
                webhook_state=SENT, webhook_attempts=Escalation.webhook_attempts + 1))
            db.session.commit()
            report.webhook_posts += 1
            report.webhook_items += len(ids)
