"""Time rules: timestamps are stored in UTC; due dates are calendar dates in the local zone."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    name = current_app.config.get("TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name)


def local_today(now: datetime | None = None) -> date:
    """Today's date in Asia/Shanghai (a due date on this day is not yet overdue)."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(local_zone()).date()
