"""Escalation rules, the escalations fired, and the notifications they produce."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Plan
from tracker.models.tasks import Task
from tracker.timeutil import local_today

# The four levels, lowest first. `rank` orders them; a task climbs, never descends.
REMINDER, OVERDUE, PARENT, LEADERSHIP = "reminder", "overdue", "parent", "leadership"
LEVELS = (REMINDER, OVERDUE, PARENT, LEADERSHIP)
RANKS = {key: rank for rank, key in enumerate(LEVELS, start=1)}
# Who hears of a level (each level's audience includes those below it): at any level the owner
# unit's users and the task's responsible person; from PARENT on also the coordinators of the
# owner's parent unit; at LEADERSHIP also the leaders of the units above (grouped per unit and
# day). See tracker/tasks/escalation.py.
# an escalation row's state: the level was reached (fired) or passed over in a catch-up (skipped)
FIRED, SKIPPED = "fired", "skipped"
DEFAULT_OFFSETS = {REMINDER: -3, OVERDUE: 1, PARENT: 7, LEADERSHIP: 30}

# Delivery state of a channel (e-mail per notification, webhook per escalation).
PENDING, SENT, NONE = "pending", "sent", "none"
# ... and of a delivery message: pending -> sending (claimed by one deliverer) -> sent; a failed
# attempt puts it back to pending with the same key.
SENDING = "sending"
EMAIL, WEBHOOK, HOOK = "email", "webhook", "hook"  # hook: the API's registered webhooks
EVENTS = "events"  # the workflow events (NoticeEvent) to the group-chat webhook


class DeliveryMessage(db.Model):
    """One e-mail digest or one webhook post: the unit a deliverer claims, sends and marks sent.

    Its items (notifications for e-mail, escalations for the webhook) are fixed when it is
    composed, so its `key` (derived from the items' ids) is the same on every attempt: the
    e-mail's Message-ID, the webhook post's Idempotency-Key. A deliverer claims a message with
    a token (`claim`, `claimed_at`); a claim older than the lease is taken to be a dead process's
    and may be claimed again (tracker/notifications/delivery.py).
    """

    __tablename__ = "delivery_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | webhook
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))  # e-mail: the addressee
    items: Mapped[int] = mapped_column(Integer, default=0)
    webhook_id: Mapped[Optional[int]] = mapped_column(Integer)  # hook: the API webhook (api_webhooks.id)
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    claim: Mapped[Optional[str]] = mapped_column(String(32))
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_delivery_messages_channel_state", "channel", "state"),)


# What a notice is about (Notification.kind). An escalation notice is one per (task, due date,
# recipient), raised in place as the task climbs; leaders get one notice per unit and day
# instead (LEADER_GROUP); the workflow kinds are one per event and recipient.
ESCALATION, LEADER_GROUP = "escalation", "leader_group"
SUBMITTED, RETURNED, ACCEPTED = "submitted", "returned", "accepted"
ASSIGNED, COMMENTED, CHANGED = "assigned", "commented", "changed"
URGED, INSTRUCTED, UNSIGNED = "urged", "instructed", "unsigned"
# a background export of one's own is ready (tracker/exports/jobs.py): always in the inbox, never
# mailed, not among the kinds one may turn off (one asked for it)
EXPORT_READY = "export_ready"
EVENT_KINDS = (SUBMITTED, RETURNED, ACCEPTED, ASSIGNED, COMMENTED, CHANGED, URGED, INSTRUCTED)
KINDS = (ESCALATION, LEADER_GROUP, UNSIGNED, *EVENT_KINDS)


class EscalationRule(db.Model):
    """Days relative to the due date at which a level fires.

    Rows with `plan_id` NULL are the defaults; a row with a plan overrides the default of its
    level for that plan only.
    """

    __tablename__ = "escalation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(20))
    offset_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plan: Mapped[Optional[Plan]] = relationship()

    __table_args__ = (UniqueConstraint("plan_id", "level"),)

    @property
    def rank(self) -> int:
        return RANKS[self.level]


class Escalation(db.Model):
    """One level reached by one task for one due date: fired (notified) or skipped (caught up).

    The unique key (task, due date, rank) is what makes a second run, or a second process,
    notify nobody twice. A task whose due date is moved starts again from the bottom.
    """

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    rank: Mapped[int] = mapped_column(Integer)
    level: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(10))  # fired | skipped
    run_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    webhook_state: Mapped[str] = mapped_column(String(10), default=NONE)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # the webhook post holding this escalation (delivery_messages.id; no foreign key: SQLite cannot
    # add one to an existing table without rebuilding it and its triggers, migration 0025)
    webhook_message_id: Mapped[Optional[int]] = mapped_column(Integer)

    task: Mapped[Task] = relationship()

    __table_args__ = (
        UniqueConstraint("task_id", "due_on", "rank"),
        Index("ix_escalations_run_id_rank", "run_id", "rank"),
        Index("ix_escalations_webhook_state", "webhook_state"),
        Index("ix_escalations_webhook_message_id", "webhook_message_id"),
    )


class Notification(db.Model):
    """An inbox item for one user; the text is rendered when shown.

    - kind "escalation": about one task and one due date (`due_on`), unique per recipient and
      raised in place (level, unread again, mailed again) when the task climbs a level;
      `catch_up` when it was found past several levels at once;
    - kind "leader_group": a leader's notice of the tasks of one unit (`unit_id`, a unit just
      below the leader's) that reached leadership that day (`day`, `item_count`);
    - kind "unsigned": a task not signed for (签收), per task, assignment day and recipient;
    - the workflow kinds: one per event (`event_id`) and recipient.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=ESCALATION)
    escalation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("notice_events.id", ondelete="CASCADE"))
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id", ondelete="CASCADE"))
    due_on: Mapped[Optional[date]] = mapped_column(Date)
    # the local day it was (last) raised: the inbox groups by it
    day: Mapped[date] = mapped_column(Date, default=lambda: local_today())
    level: Mapped[str] = mapped_column(String(20))
    item_count: Mapped[int] = mapped_column(Integer, default=1)
    catch_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    email_state: Mapped[str] = mapped_column(String(10), default=NONE)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_error: Mapped[str] = mapped_column(Text, default="")
    email_message_id: Mapped[Optional[int]] = mapped_column(Integer)  # the digest holding it (delivery_messages.id)
    # kind "export_ready": the export (gone with it when the sweep deletes it)
    export_job_id: Mapped[Optional[int]] = mapped_column(ForeignKey("export_jobs.id", ondelete="CASCADE"))

    user: Mapped[User] = relationship()
    task: Mapped[Optional[Task]] = relationship()
    unit: Mapped[Optional[OrgUnit]] = relationship()
    escalation: Mapped[Optional[Escalation]] = relationship()
    event: Mapped[Optional["NoticeEvent"]] = relationship()

    __table_args__ = (
        # NULLs never conflict: the key applies to the kinds that set its columns
        UniqueConstraint("task_id", "due_on", "user_id", "kind", name="uq_notifications_task_due_user_kind"),
        UniqueConstraint("user_id", "kind", "unit_id", "day", name="uq_notifications_user_kind_unit_day"),
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        UniqueConstraint("export_job_id", name="uq_notifications_export_job_id"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_user_id_day", "user_id", "day"),
        Index("ix_notifications_email_state", "email_state"),
        Index("ix_notifications_task_id", "task_id"),
        Index("ix_notifications_email_message_id", "email_message_id"),
    )


class NoticeEvent(db.Model):
    """One workflow event that notifies people (submitted, returned, 催办, 批示, …): the notices
    of its recipients point at it (once per recipient), and the webhook posts it once."""

    __tablename__ = "notice_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    webhook_state: Mapped[str] = mapped_column(String(10), default=NONE)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_message_id: Mapped[Optional[int]] = mapped_column(Integer)  # the post that carries it

    task: Mapped[Optional[Task]] = relationship()
    actor: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        Index("ix_notice_events_task_id", "task_id"),
        Index("ix_notice_events_webhook_state", "webhook_state"),
        Index("ix_notice_events_webhook_message_id", "webhook_message_id"),
    )


class NotificationPreference(db.Model):
    """A user's choice per kind of notice: in the inbox only (email False) or also by e-mail.
    No row: also by e-mail (when the user has an address and the server is configured)."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
