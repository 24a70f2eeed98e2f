"""Indicators: the numeric measures a plan is judged by (definitions), and their reporting:
periods, one form per unit per period, and the form's values."""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Plan
from tracker.models.tasks import Task

INDICATOR_TYPES = ("count", "amount", "percent", "text")
TARGET_OPS = (">=", ">", "<=", "<", "=", "between")


class IndicatorDefinition(db.Model):
    __tablename__ = "indicator_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(20), default="")
    type: Mapped[str] = mapped_column(String(10))
    target_op: Mapped[Optional[str]] = mapped_column(String(10))
    target_value: Mapped[Optional[float]] = mapped_column(Float)
    target_max: Mapped[Optional[float]] = mapped_column(Float)
    levels: Mapped[list] = mapped_column(JSON, default=list)
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id"))
    group: Mapped[str] = mapped_column(String(200), default="")
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("indicator_definitions.id"))
    breakdown: Mapped[str] = mapped_column(String(120), default="")
    classification: Mapped[str] = mapped_column(String(20), default="")
    numerator_code: Mapped[Optional[str]] = mapped_column(String(60))
    denominator_code: Mapped[Optional[str]] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)

    plan: Mapped[Plan] = relationship()
    task: Mapped[Optional[Task]] = relationship()
    parent: Mapped[Optional["IndicatorDefinition"]] = relationship(remote_side=[id])

    __table_args__ = (UniqueConstraint("plan_id", "code"),)


# --- reporting: periods, forms (one per unit per period), values ----------------------------

PERIOD_KINDS = ("year", "half", "quarter", "month")
PERIODS_PER_YEAR = {"year": 1, "half": 2, "quarter": 4, "month": 12}

# A form's state. Draft and returned forms are editable by the owner unit; a submitted form
# waits for the parent unit's review; an approved form is locked.
DRAFT, SUBMITTED, RETURNED, APPROVED = "draft", "submitted", "returned", "approved"
FORM_STATUSES = (DRAFT, SUBMITTED, RETURNED, APPROVED)
EDITABLE_STATUSES = (DRAFT, RETURNED)


class ReportingPeriod(db.Model):
    """One reporting round of a plan's indicators (a year, half-year, quarter or month) for
    the units of one level (optionally of one kind) under one unit, with its due date.

    `task_id` is the grouping task of the plan whose children are the forms' tasks.
    """

    __tablename__ = "reporting_periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer, default=1)  # half 1-2, quarter 1-4, month 1-12
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(20))
    unit_kind: Mapped[Optional[str]] = mapped_column(String(20))
    under_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    task_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tasks.id"))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    plan: Mapped[Plan] = relationship()
    under_unit: Mapped[OrgUnit] = relationship()
    task: Mapped[Optional[Task]] = relationship()

    __table_args__ = (UniqueConstraint("plan_id", "kind", "year", "number", "level"),)

    @property
    def key(self) -> str:
        """Stable short name: 2016, 2017H1, 2017Q2, 2017M03."""
        suffix = {"year": "", "half": f"H{self.number}", "quarter": f"Q{self.number}", "month": f"M{self.number:02d}"}
        return f"{self.year}{suffix[self.kind]}"


class IndicatorForm(db.Model):
    """The form of one unit for one period: its values, its state, and the task that carries it
    through the task status machine (so overdue forms escalate like any task)."""

    __tablename__ = "indicator_forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("reporting_periods.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=DRAFT)
    # The first submission decides timeliness; a return and a later resubmission keep it.
    first_submitted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    submitted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    submitted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    return_reason: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    period: Mapped[ReportingPeriod] = relationship()
    unit: Mapped[OrgUnit] = relationship()
    task: Mapped[Task] = relationship()
    submitted_by: Mapped[Optional[User]] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[Optional[User]] = relationship(foreign_keys=[reviewed_by_id])

    __table_args__ = (
        UniqueConstraint("period_id", "unit_id"),
        Index("ix_indicator_forms_period_id_status", "period_id", "status"),
    )

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class IndicatorValue(db.Model):
    """One value of one form: a number (count, amount, percent) or a text; `item` names the
    disease or technique of an enumerated row (an ICD-10 / ICD-9-CM-3 code when classified)."""

    __tablename__ = "indicator_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("indicator_forms.id", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("indicator_definitions.id"), index=True)
    number: Mapped[Optional[float]] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    item: Mapped[str] = mapped_column(String(200), default="")

    form: Mapped[IndicatorForm] = relationship()
    definition: Mapped[IndicatorDefinition] = relationship()

    __table_args__ = (UniqueConstraint("form_id", "definition_id"),)
