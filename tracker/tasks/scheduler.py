"""The scheduler process (`flask scheduler run`): APScheduler, never inside the web workers.

A BlockingScheduler with its job store in the app database, stable job ids, coalescing and one
instance at a time, on Asia/Shanghai time. On PostgreSQL a session-level advisory lock makes a
second scheduler process wait as a standby until the first one stops.
"""
from __future__ import annotations

import logging
import time
from typing import Optional

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from tracker.timeutil import local_zone

log = logging.getLogger(__name__)

SCHEDULER_LOCK_KEY = 7_314_000
ESCALATION_JOB_ID = "escalation-daily"
ESCALATION_JOB = "tracker.tasks.escalation:run"
RECURRENCE_JOB_ID = "recurrence-daily"
RECURRENCE_JOB = "tracker.tasks.recurrence:run"
PROGRESS_JOB_ID = "progress-summary"
PROGRESS_JOB = "tracker.tasks.progress:run"
JOB_TABLE = "apscheduler_jobs"


class SchedulerLock:
    """The scheduler lock, held by one database session for as long as the process runs."""

    def __init__(self, connection: Connection, advisory: bool):
        self.connection = connection
        self.advisory = advisory

    def release(self) -> None:
        if self.advisory:
            self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEDULER_LOCK_KEY})
            self.connection.commit()
        self.connection.close()


def try_scheduler_lock(engine: Engine) -> Optional[SchedulerLock]:
    """On PostgreSQL: the scheduler lock, or None if another process holds it.

    On other databases (SQLite: one machine, one scheduler by deployment) there is nothing to
    take; a lock object is returned all the same so that the caller's code is the same.
    """
    connection = engine.connect()
    if engine.dialect.name != "postgresql":
        return SchedulerLock(connection, advisory=False)
    got = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SCHEDULER_LOCK_KEY}).scalar()
    connection.commit()
    if got:
        return SchedulerLock(connection, advisory=True)
    connection.close()
    return None


def build_scheduler(database_url: str, hour: int, minute: int = 0) -> BlockingScheduler:
    zone = local_zone()
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        timezone=zone,
    )
    scheduler.add_job(
        ESCALATION_JOB,
        trigger=CronTrigger(hour=hour, minute=minute, timezone=zone),
        id=ESCALATION_JOB_ID,
        name="daily escalation pass",
        replace_existing=True,
    )
    # occurrences first (an hour before the escalation pass), so a new period's ones exist
    scheduler.add_job(
        RECURRENCE_JOB,
        trigger=CronTrigger(hour=(hour - 1) % 24, minute=minute, timezone=zone),
        id=RECURRENCE_JOB_ID,
        name="daily occurrences of recurring duties",
        replace_existing=True,
    )
    # the progress summary: changed owners folded in every minute, rebuilt on a new day
    scheduler.add_job(
        PROGRESS_JOB,
        trigger=IntervalTrigger(minutes=1, timezone=zone),
        id=PROGRESS_JOB_ID,
        name="progress summary",
        replace_existing=True,
        misfire_grace_time=60,
    )
    return scheduler


def run_scheduler(wait_seconds: float = 30.0, echo=print) -> None:
    """Take the lock (waiting as a standby if needed), then run the scheduler until stopped."""
    from tracker.extensions import db

    engine = db.engine
    lock = try_scheduler_lock(engine)
    while lock is None:
        echo(f"another scheduler holds the lock; standing by (retry in {wait_seconds:.0f} s)")
        time.sleep(wait_seconds)
        lock = try_scheduler_lock(engine)
    config = current_app.config
    scheduler = build_scheduler(config["SQLALCHEMY_DATABASE_URI"], config["ESCALATION_HOUR"])
    echo(f"scheduler running: escalation daily at {config['ESCALATION_HOUR']:02d}:00 {local_zone().key}")
    try:
        scheduler.start()
    finally:
        lock.release()
