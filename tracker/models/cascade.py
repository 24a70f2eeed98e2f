"""Cascades (分解下达), recurring duties' occurrences, provincial schemes (备案), calendar tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Plan
from tracker.models.tasks import Task

ACTIVE, WITHDRAWN = "active", "withdrawn"
SEED, MANUAL = "seed", "manual"
# The fields a cascade child takes from its template, and keeps in step unless overridden.
SYNCED_FIELDS = ("due_on", "deliverable", "recurrence")


class Cascade(db.Model):
    """One expansion of a template task into one child task per target unit.

    `target` says how the units were chosen: {"mode": "provinces"}, {"mode": "group", "kind",
    "level", "under"} or {"mode": "list", "units": [codes]}. A seed cascade is the loader's
    expansion of an "each unit of a kind" owner. Withdrawing cancels the children.
    """

    __tablename__ = "cascades"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    origin: Mapped[str] = mapped_column(String(10), default=MANUAL)
    target: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default=ACTIVE)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    withdraw_reason: Mapped[str] = mapped_column(Text, default="")

    template: Mapped[Task] = relationship()
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])
    withdrawn_by: Mapped[Optional[User]] = relationship(foreign_keys=[withdrawn_by_id])
    children: Mapped[list["CascadeChild"]] = relationship(back_populates="cascade")


class CascadeChild(db.Model):
    """The link of a child task to its cascade, with the template fields it has overridden."""

    __tablename__ = "cascade_children"

    id: Mapped[int] = mapped_column(primary_key=True)
    cascade_id: Mapped[int] = mapped_column(ForeignKey("cascades.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    due_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    deliverable_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    recurrence_overridden: Mapped[bool] = mapped_column(Boolean, default=False)

    cascade: Mapped[Cascade] = relationship(back_populates="children")
    task: Mapped[Task] = relationship()
    unit: Mapped[OrgUnit] = relationship()

    def overridden(self, field: str) -> bool:
        return bool(getattr(self, f"{field.removesuffix('_on')}_overridden"))

    def set_overridden(self, field: str, value: bool) -> None:
        setattr(self, f"{field.removesuffix('_on')}_overridden", value)


class Occurrence(db.Model):
    """One dated occurrence of a recurring duty: a child task of the duty, due on `due_on`.

    The unique key (duty, due date) is what keeps a second run of the job from duplicating it.
    `superseded` marks a future occurrence cancelled because the duty's rule changed.
    """

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(primary_key=True)
    duty_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    due_on: Mapped[date] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(String(200))
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    duty: Mapped[Task] = relationship(foreign_keys=[duty_task_id])
    task: Mapped[Task] = relationship(foreign_keys=[task_id])

    __table_args__ = (UniqueConstraint("duty_task_id", "due_on"),)


class SchemeRequirement(db.Model):
    """A national plan's call for provincial schemes: which per-province task a filed and
    accepted scheme fulfils (a cascade template, e.g. "issue the provincial work plan")."""

    __tablename__ = "scheme_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), unique=True)
    template_task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    national_plan: Mapped[Plan] = relationship()
    template: Mapped[Optional[Task]] = relationship()


SCHEME_DRAFT, SCHEME_FILED, SCHEME_ACCEPTED, SCHEME_RETURNED = "draft", "filed", "accepted", "returned"
SCHEME_STATES = (SCHEME_DRAFT, SCHEME_FILED, SCHEME_ACCEPTED, SCHEME_RETURNED)


class ProvincialScheme(db.Model):
    """A province's implementation scheme (实施方案), a plan of its own filed against a national plan."""

    __tablename__ = "provincial_schemes"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    fulfils_task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id"))
    state: Mapped[str] = mapped_column(String(10), default=SCHEME_DRAFT)
    original_name: Mapped[Optional[str]] = mapped_column(String(255))
    stored_name: Mapped[Optional[str]] = mapped_column(String(80), unique=True)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    size: Mapped[Optional[int]] = mapped_column(Integer)
    mime_type: Mapped[Optional[str]] = mapped_column(String(120))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    filed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    review_comment: Mapped[str] = mapped_column(Text, default="")

    national_plan: Mapped[Plan] = relationship(foreign_keys=[national_plan_id])
    plan: Mapped[Plan] = relationship(foreign_keys=[plan_id])
    unit: Mapped[OrgUnit] = relationship()
    fulfils_task: Mapped[Optional[Task]] = relationship()
    filed_by: Mapped[Optional[User]] = relationship(foreign_keys=[filed_by_id])
    reviewed_by: Mapped[Optional[User]] = relationship(foreign_keys=[reviewed_by_id])

    __table_args__ = (UniqueConstraint("national_plan_id", "unit_id"),)


class SchemeTaskLink(db.Model):
    """A provincial scheme's task mapped to the national task it implements."""

    __tablename__ = "scheme_task_links"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True)
    national_task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)

    task: Mapped[Task] = relationship(foreign_keys=[task_id])
    national_task: Mapped[Task] = relationship(foreign_keys=[national_task_id])


class CalendarToken(db.Model):
    """A personal calendar feed's secret. Only its sha256 is stored; revoking ends the feed."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()


__all__ = [
    "ACTIVE",
    "WITHDRAWN",
    "SEED",
    "MANUAL",
    "SYNCED_FIELDS",
    "Cascade",
    "CascadeChild",
    "Occurrence",
    "SchemeRequirement",
    "ProvincialScheme",
    "SchemeTaskLink",
    "CalendarToken",
    "SCHEME_STATES",
]
