"""督办 beyond the automatic escalation: watchers (关注), urging by hand (催办), leaders'
instructions (批示), and reminders of tasks not signed for (签收)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Column, Date, ForeignKey, Index, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Plan
from tracker.models.tasks import Task


class TaskWatcher(db.Model):
    """A user who follows a task (关注) and is told of its changes."""

    __tablename__ = "task_watchers"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_task_watchers_user_id", "user_id"),)


class TaskUrge(db.Model):
    """One 催办: a coordinator above the owner, or a leader, urging a task; at most one per
    task, sender and (local) day. `owner_unit_id` is the owner when urged (counted per unit)."""

    __tablename__ = "task_urges"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    owner_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id"))
    day: Mapped[date] = mapped_column(Date)
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    task: Mapped[Task] = relationship()
    sender: Mapped[User] = relationship()

    __table_args__ = (
        UniqueConstraint("task_id", "sender_id", "day", name="uq_task_urges_task_sender_day"),
        Index("ix_task_urges_owner_unit_id", "owner_unit_id"),
    )


instruction_tasks = Table(
    "instruction_tasks",
    db.metadata,
    Column("instruction_id", ForeignKey("instructions.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Instruction(db.Model):
    """A leader's instruction (批示) on a task, or on a unit's overdue tasks of a plan (then
    `plan_id` and `unit_id` say which); it attaches to each task it concerns."""

    __tablename__ = "instructions"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    plan_id: Mapped[Optional[int]] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id"))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship()
    plan: Mapped[Optional[Plan]] = relationship()
    unit: Mapped[Optional[OrgUnit]] = relationship()
    tasks: Mapped[list[Task]] = relationship(secondary=instruction_tasks)
