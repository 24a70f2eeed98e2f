"""Overdue explanations (逾期说明): why a task is late and by when it will be done."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import User
from tracker.models.tasks import Task

OPEN, KEPT, MISSED = "open", "kept", "missed"


class OverdueExplanation(db.Model):
    """One per task and due date: the owner's reason and committed date. `state` turns to
    kept (done by the committed date) or missed (not done by then: one escalation level at once)."""

    __tablename__ = "overdue_explanations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")
    committed_on: Mapped[date] = mapped_column(Date)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    state: Mapped[str] = mapped_column(String(10), default=OPEN)
    resolved_on: Mapped[Optional[date]] = mapped_column(Date)

    task: Mapped[Task] = relationship()
    user: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        UniqueConstraint("task_id", "due_on"),
        Index("ix_overdue_explanations_state_committed_on", "state", "committed_on"),
    )
