"""Large exports made in the background: one row per export a user asked for.

A task-list export above EXPORT_BACKGROUND_ROWS rows would keep a web worker busy for minutes
(1,000,000 rows ≈ 2 minutes), so it becomes a job (so does an audit-log export above
AUDIT_EXPORT_BACKGROUND_ROWS; `kind` says which): the web request records it (`queued`), the
scheduler process claims it (`running`, one claimant only), writes the file in batches and
records its progress (`rows_written` of `rows_total`), then `done` (the file is in the store
under `stored_name`) or `failed` (`error`). The file is kept for its owner until `expires_at`
(a day after it was asked for); a sweep then deletes the file and the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import User

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)
TASKS, AUDIT = "tasks", "audit"  # the kinds of export made in the background
FORMATS = ("xlsx", "csv")


class ExportJob(db.Model):
    __tablename__ = "export_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=TASKS)
    format: Mapped[str] = mapped_column(String(10))
    args: Mapped[dict] = mapped_column(JSON, default=dict)  # the filters, as the list's query string
    locale: Mapped[str] = mapped_column(String(10), default="zh")  # the headers' language
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    claim: Mapped[Optional[str]] = mapped_column(String(32))  # the token of the process running it
    claimed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    stored_name: Mapped[Optional[str]] = mapped_column(String(200))  # in tracker.storage
    size: Mapped[Optional[int]] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()

    __table_args__ = (
        Index("ix_export_jobs_state_created_at", "state", "created_at"),
        Index("ix_export_jobs_expires_at", "expires_at"),
        Index("ix_export_jobs_user_id", "user_id"),
    )

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.id}.{self.format}"

    @property
    def percent(self) -> int:
        if self.state == DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(self.rows_written * 100 / self.rows_total))


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"
