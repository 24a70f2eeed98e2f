"""Indicator definitions: the numeric measures a plan is judged by."""
from __future__ import annotations

from typing import Optional

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
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
