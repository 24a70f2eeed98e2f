"""The progress summary: small tables the progress pages read instead of a million tasks.

- `progress_items`: the work items (leaf, not cancelled tasks) as of the last fold, one row each,
  with their section (root task) and effective phase;
- `progress_rollup`: per plan, unit, section and phase, the figures of the work items owned by
  that unit *and every unit under it* (unit 0 holds the items without an owner), as of
  `progress_state.as_of`;
- `progress_daily`: per plan, top-level unit (or 0), phase and day, the items due and done that
  day (burn-up and trend charts);
- `progress_dirty_tasks`: the tasks that changed since the last fold (and the parents whose
  children came or went), marked by database triggers on `tasks` (so bulk statements are
  caught too);
- `progress_dirty`: the (plan, owner unit) pairs all of whose tasks may have changed (a phase's
  dates moved), marked by a trigger on `phases`;
- `progress_content`: one counter, raised by triggers whenever something a progress page shows
  besides the figures changes (units, plans, phases, task names, section headings' places,
  escalations).

`progress_state.generation` (raised by every fold and rebuild), the dirty marks and the content
counter together make the version that the rendered progress pages are cached under
(tracker/progress/pages.py).

None of these is a source of truth: `flask progress refresh --rebuild` recomputes them from the
tasks, and the pages add the live figures of dirty owners (minus their folded ones) so that
what they show is exact at every moment. See tracker/progress/summary.py; the triggers are in tracker/models/triggers.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Date, Float, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db
from tracker.models.base import UTCDateTime


class ProgressState(db.Model):
    __tablename__ = "progress_state"

    id: Mapped[int] = mapped_column(primary_key=True)  # a slot, 1..CONTENT_SLOTS; the version is their sum
    as_of: Mapped[Optional[date]] = mapped_column(Date)  # None: no summary, pages read the tasks
    built_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    folded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # +1 per fold or rebuild


class ProgressContent(db.Model):
    """Raised by triggers (tracker/models/triggers.py) on any change to what the progress
    pages show besides the figures; never written by the application."""

    __tablename__ = "progress_content"

    id: Mapped[int] = mapped_column(primary_key=True)  # a slot, 1..CONTENT_SLOTS; the version is their sum
    version: Mapped[int] = mapped_column(Integer, default=0)


class ProgressDirty(db.Model):
    __tablename__ = "progress_dirty"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner_unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0: no owner
    marks: Mapped[int] = mapped_column(Integer, default=1)


class ProgressDirtyTask(db.Model):
    __tablename__ = "progress_dirty_tasks"

    task_id: Mapped[int] = mapped_column(
        Integer, primary_key=True, autoincrement=False
    )  # no foreign key: deleted tasks too
    marks: Mapped[int] = mapped_column(Integer, default=1)


class _Figures:
    items: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    due_so_far: Mapped[int] = mapped_column(Integer, default=0)
    overdue_days: Mapped[int] = mapped_column(Integer, default=0)
    done_recent: Mapped[int] = mapped_column(Integer, default=0)
    weight: Mapped[float] = mapped_column(Float, default=0.0)
    weighted: Mapped[float] = mapped_column(Float, default=0.0)


class ProgressItem(db.Model):
    __tablename__ = "progress_items"

    task_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    plan_id: Mapped[int] = mapped_column(Integer)
    owner_unit_id: Mapped[int] = mapped_column(Integer)  # 0: no owner
    section_id: Mapped[int] = mapped_column(Integer)
    phase_id: Mapped[int] = mapped_column(Integer)  # 0: no phase
    status: Mapped[str] = mapped_column(String(20))
    due_on: Mapped[Optional[date]] = mapped_column(Date)
    completed_on: Mapped[Optional[date]] = mapped_column(Date)
    weight: Mapped[float] = mapped_column(Float)
    progress: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_progress_items_plan_owner", "plan_id", "owner_unit_id"),)


class ProgressRollup(_Figures, db.Model):
    __tablename__ = "progress_rollup"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0: no owner
    section_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    phase_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # 0: no phase

    __table_args__ = (Index("ix_progress_rollup_unit", "unit_id"),)


class ProgressDaily(db.Model):
    __tablename__ = "progress_daily"

    plan_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # top-level unit, 0: none
    phase_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    due: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)


@event.listens_for(db.metadata, "after_create")
def _install_triggers(target, connection, **kw):  # create_all (tests, a fresh SQLite file): the triggers too
    from tracker.models.triggers import install_triggers

    install_triggers(connection)
