"""Escalation rules, the escalations fired, and the notifications they produce."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import User
from tracker.models.plans import Plan
from tracker.models.tasks import Task

# The four levels, lowest first. `rank` orders them; a task climbs, never descends.
REMINDER, OVERDUE, PARENT, LEADERSHIP = "reminder", "overdue", "parent", "leadership"
LEVELS = (REMINDER, OVERDUE, PARENT, LEADERSHIP)
RANKS = {key: rank for rank, key in enumerate(LEVELS, start=1)}
# Who hears of a level: the owner unit's users, the coordinators of the owner's parent unit,
# or the leaders of the units above the owner.
AUDIENCES = {REMINDER: "owner", OVERDUE: "owner", PARENT: "parent_coordinators", LEADERSHIP: "leaders_above"}
DEFAULT_OFFSETS = {REMINDER: -3, OVERDUE: 1, PARENT: 7, LEADERSHIP: 30}

# Delivery state of a channel (e-mail per notification, webhook per escalation).
PENDING, SENT, NONE = "pending", "sent", "none"


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

    task: Mapped[Task] = relationship()

    __table_args__ = (
        UniqueConstraint("task_id", "due_on", "rank"),
        Index("ix_escalations_run_id_rank", "run_id", "rank"),
        Index("ix_escalations_webhook_state", "webhook_state"),
    )


class Notification(db.Model):
    """An inbox item for one user about one escalation; the text is rendered when shown."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    email_state: Mapped[str] = mapped_column(String(10), default=NONE)
    email_attempts: Mapped[int] = mapped_column(Integer, default=0)
    email_error: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship()
    task: Mapped[Task] = relationship()
    escalation: Mapped[Escalation] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "escalation_id"),
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_email_state", "email_state"),
        Index("ix_notifications_task_id", "task_id"),
    )
