"""Tasks (the plan's sections, measures and duties) and their journal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import (
    JSON,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Phase, Plan

task_co_owners = Table(
    "task_co_owners",
    db.metadata,
    Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("org_units.id"), primary_key=True, index=True),
)


# the states in which a task past its due date is overdue (tracker/plans/status.py OVERDUE_STATUSES)
_OVERDUE_STATES = text("status IN ('not_started', 'in_progress', 'returned', 'blocked')")

_UNSIGNED = text("assigned_at IS NOT NULL AND signed_at IS NULL")


class Task(db.Model):
    """One node of a plan's task tree.

    `owner_selector` is set on a cascade template ("each provincial commission"); its children
    are the per-unit tasks. `co_owner_selectors` names cooperating groups ("医疗机构配合").
    `path` is the materialised path of task ids within the plan (`/12/40/`).
    """

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id"))
    phase_id: Mapped[Optional[int]] = mapped_column(ForeignKey("phases.id"))
    ref: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id"))
    owner_selector: Mapped[Optional[dict]] = mapped_column(JSON(none_as_null=True))  # None is SQL NULL
    co_owner_selectors: Mapped[list] = mapped_column(JSON, default=list)
    start_on: Mapped[Optional[date]] = mapped_column(Date)
    due_on: Mapped[Optional[date]] = mapped_column(Date)
    # The local calendar day the task was accepted (on time when <= due_on).
    completed_on: Mapped[Optional[date]] = mapped_column(Date)
    deliverable: Mapped[str] = mapped_column(String(300), default="")
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    # Maintained roll-up (0-100): a leaf's from its status and percent, a parent's the weighted
    # mean of its children that are not cancelled. Kept current in the same transaction.
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    recurrence: Mapped[Optional[str]] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    # 责任人: a user of the owner unit named by a coordinator; for units without accounts a
    # contact name and telephone instead (or as well).
    responsible_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # 签收: set when the task is newly assigned (cascaded, created or given to another unit);
    # 待签收 while `signed_at` is NULL. Tasks that never had an assignment are not waiting.
    assigned_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    signed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    signed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    origin: Mapped[str] = mapped_column(String(20), default="manual")
    position: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str] = mapped_column(String(400), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plan: Mapped[Plan] = relationship()
    parent: Mapped[Optional["Task"]] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Task"]] = relationship(back_populates="parent", order_by="Task.position")
    phase: Mapped[Optional[Phase]] = relationship()
    owner_unit: Mapped[Optional[OrgUnit]] = relationship()
    co_owners: Mapped[list[OrgUnit]] = relationship(secondary=task_co_owners, order_by="OrgUnit.position")
    responsible: Mapped[Optional[User]] = relationship(foreign_keys=[responsible_user_id])
    signed_by: Mapped[Optional[User]] = relationship(foreign_keys=[signed_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("plan_id", "ref"),
        Index("ix_tasks_status_due_on", "status", "due_on"),
        Index("ix_tasks_owner_unit_id", "owner_unit_id"),
        Index("ix_tasks_plan_id_parent_id", "plan_id", "parent_id"),
        Index("ix_tasks_parent_id", "parent_id"),
        Index("ix_tasks_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        Index("ix_tasks_plan_id_phase_id", "plan_id", "phase_id"),
        # one unit's overdue, returned and submitted tasks, counted from the index (badge, my work)
        Index("ix_tasks_owner_status_due", "owner_unit_id", "status", "due_on"),
        # the overdue list, most late first, read in index order; with the owner unit included
        # and selector (PostgreSQL) the lists' bounded counts read the index alone (migration 0045)
        Index(
            "ix_tasks_overdue_due",
            "due_on",
            "id",
            postgresql_where=_OVERDUE_STATES,
            sqlite_where=_OVERDUE_STATES,
            postgresql_include=["owner_unit_id", "owner_selector"],
        ),
        Index("ix_tasks_responsible_user_id", "responsible_user_id"),
        # the task lists, by due date (none last) or by last change, read in index order
        Index("ix_tasks_due_on_id", "due_on", "id"),
        Index("ix_tasks_updated_at_id", "updated_at", "id"),
        # the tasks waiting to be signed for (签收), by unit
        Index("ix_tasks_unsigned", "owner_unit_id", "assigned_at", postgresql_where=_UNSIGNED, sqlite_where=_UNSIGNED),
    )

    @property
    def is_cascade_template(self) -> bool:
        return self.owner_selector is not None

    def __repr__(self) -> str:
        return f"<Task {self.ref} {self.title[:20]}>"


class JournalEntry(db.Model):
    """Append-only record of every change to a task: who, when, what, old, new."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    field: Mapped[Optional[str]] = mapped_column(String(60))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")
    # set when the change came through the JSON API: the token it came with (tracker/api/)
    api_token_id: Mapped[Optional[int]] = mapped_column(ForeignKey("api_tokens.id"))

    task: Mapped[Task] = relationship()
    user: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        Index("ix_journal_entries_task_id_at", "task_id", "at"),
        # the audit view (tracker/audit/view.py): the whole journal newest first, or one user's
        Index("ix_journal_entries_at_id", "at", "id"),
        Index("ix_journal_entries_user_id_at", "user_id", "at"),
    )


@event.listens_for(db.metadata, "after_create")
def _install_search_indexes(target, connection, **kw):  # create_all on PostgreSQL: the trigram indexes
    from tracker.models.search_indexes import install_search_indexes

    install_search_indexes(connection)
