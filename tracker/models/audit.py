"""The journal of changes to users, units and plans (the task journal is `journal_entries`).

Append-only, like the task journal: who (`actor`), when, what (`action`, `field`, old, new), on
what (`subject` and `subject_id`, with a label kept as it was), and the unit concerned (a user's
unit, the unit itself, a plan's issuing unit), by which the audit view filters and scopes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import OrgUnit, User

SUBJECTS = ("user", "unit", "plan")


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer)
    subject_label: Mapped[str] = mapped_column(String(300), default="")
    unit_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id"))
    field: Mapped[Optional[str]] = mapped_column(String(60))
    old_value: Mapped[Optional[str]] = mapped_column(Text)
    new_value: Mapped[Optional[str]] = mapped_column(Text)
    comment: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[Optional[User]] = relationship(foreign_keys=[actor_id])
    unit: Mapped[Optional[OrgUnit]] = relationship(foreign_keys=[unit_id])

    __table_args__ = (
        Index("ix_audit_entries_at", "at"),
        Index("ix_audit_entries_subject_subject_id", "subject", "subject_id"),
        Index("ix_audit_entries_unit_id", "unit_id"),
        Index("ix_audit_entries_actor_id", "actor_id"),
    )
