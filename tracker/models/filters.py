"""Saved filters: a user's named views of the task list (its query string), their own only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow


class SavedFilter(db.Model):
    """One saved view of the task list: its name (unique per user) and the list's query string
    (only the filter form's own arguments, validated by that form when saved and when applied)."""

    __tablename__ = "saved_filters"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    query: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    # the unique key (user, name) is also the index a user's list is read from
    __table_args__ = (UniqueConstraint("user_id", "name"),)
