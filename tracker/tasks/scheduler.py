"""The scheduler process (`flask scheduler run`): APScheduler, never inside the web workers.

A BlockingScheduler with its job store in the app database, stable job ids, coalescing and one
instance at a time, on Asia/Shanghai time. On PostgreSQL a session-level advisory lock decides
which scheduler process runs: a second one waits as a standby. The lock lives as long as its
connection, so the runner checks that it still holds it each time it looks for due jobs (before
every job): if the connection was ended or the database cut off, it starts no more jobs, hands
nothing back to the job store and goes back to standing by, while the standby takes over. The
jobs are idempotent and take locks of their own, so a job already running when the lock was lost
and the new holder's can overlap without harm (see README, "Escalation and the scheduler", also
for PgBouncer).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tracker.timeutil import local_zone

log = logging.getLogger(__name__)

SCHEDULER_LOCK_KEY = 7_314_000
ESCALATION_JOB_ID = "escalation-daily"
ESCALATION_JOB = "tracker.tasks.escalation:run"
RECURRENCE_JOB_ID = "recurrence-daily"
RECURRENCE_JOB = "tracker.tasks.recurrence:run"
PROGRESS_JOB_ID = "progress-summary"
PROGRESS_JOB = "tracker.tasks.progress:run"
DELIVERY_JOB_ID = "delivery-pending"
DELIVERY_JOB = "tracker.tasks.delivery:run"
SECURITY_JOB_ID = "purge-login-failures"
SECURITY_JOB = "tracker.tasks.security:run"
EXPORTS_JOB_ID = "exports-pending"
EXPORTS_JOB = "tracker.tasks.exports:run"
JOB_TABLE = "apscheduler_jobs"
# The lock's own connection notices a silent network cut within about this many seconds
# (TCP keepalives and a user timeout), so a cut-off holder stops soon after the cut.
LOCK_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,
}
_HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
    "AND classid = :high AND objid = :low AND objsubid = 1"
)


class SchedulerLock:
    """The scheduler lock, held by one database session for as long as the process runs."""

    def __init__(self, connection: Connection, advisory: bool):
        self.connection = connection
        self.advisory = advisory

    def held(self) -> bool:
        """Does this session still hold the lock? False once its connection was ended or cut."""
        if not self.advisory:
            return True
        try:
            count = self.connection.execute(
                text(_HELD), {"high": SCHEDULER_LOCK_KEY >> 32, "low": SCHEDULER_LOCK_KEY & 0xFFFFFFFF}
            ).scalar()
            self.connection.commit()
        except SQLAlchemyError as exc:
            log.warning("scheduler lock: its connection is gone (%s)", str(exc).splitlines()[0])
            return False
        return bool(count)

    def release(self) -> None:
        try:
            if self.advisory:
                self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEDULER_LOCK_KEY})
                self.connection.commit()
        except SQLAlchemyError:
            pass  # the connection is gone, and the lock with it
        finally:
            try:
                self.connection.close()
            except SQLAlchemyError:
                pass


def lock_engine(database_url: str) -> Engine:
    """An engine of its own for the lock's connection (keepalives on PostgreSQL, no pool)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return create_engine(url, poolclass=NullPool)
    return create_engine(url, poolclass=NullPool, connect_args=LOCK_CONNECT_ARGS)


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


class GuardedJobStore(SQLAlchemyJobStore):
    """The job store as seen by the lock holder: before it hands out due jobs it checks the lock;
    once the lock is lost it hands out nothing (so no job starts and no run time is written back)
    and reports the loss once."""

    def __init__(self, guard: Callable[[], bool], on_lost: Callable[[], None], **options):
        super().__init__(**options)
        self.guard, self.on_lost, self.lost = guard, on_lost, False

    def get_due_jobs(self, now):
        if self.lost or not self.guard():
            if not self.lost:
                self.lost = True
                self.on_lost()
            return []
        return super().get_due_jobs(now)


def build_scheduler(
    database_url: str,
    hour: int,
    minute: int = 0,
    guard: Optional[Callable[[], bool]] = None,
    on_lost: Optional[Callable[[], None]] = None,
) -> BlockingScheduler:
    zone = local_zone()
    if guard is not None:
        store = GuardedJobStore(guard, on_lost or (lambda: None), url=database_url, tablename=JOB_TABLE)
    else:
        store = SQLAlchemyJobStore(url=database_url, tablename=JOB_TABLE)
    scheduler = BlockingScheduler(
        jobstores={"default": store},
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
    # mail and webhook messages still pending (a failed attempt, a pass cut short): retried
    scheduler.add_job(
        DELIVERY_JOB,
        trigger=IntervalTrigger(minutes=10, timezone=zone),
        id=DELIVERY_JOB_ID,
        name="pending mail and webhook messages",
        replace_existing=True,
        misfire_grace_time=600,
    )
    # large exports asked for in the pages: picked up within seconds; two may run side by side
    # (each claims its export, so two runs never write the same one), a third waits its turn
    scheduler.add_job(
        EXPORTS_JOB,
        trigger=IntervalTrigger(seconds=5, timezone=zone),
        id=EXPORTS_JOB_ID,
        name="background exports",
        replace_existing=True,
        max_instances=2,
        misfire_grace_time=30,
    )
    # sign-in failures older than the lock-out window are of no more use
    scheduler.add_job(
        SECURITY_JOB,
        trigger=CronTrigger(hour=3, minute=minute, timezone=zone),
        id=SECURITY_JOB_ID,
        name="purge old sign-in failures",
        replace_existing=True,
    )
    return scheduler


def wait_for_lock(engine: Engine, wait_seconds: float, echo=print) -> SchedulerLock:
    """The scheduler lock, standing by while another process holds it or the database is away."""
    while True:
        try:
            lock = try_scheduler_lock(engine)
        except SQLAlchemyError as exc:
            echo(f"database unreachable ({str(exc).splitlines()[0]}); standing by (retry in {wait_seconds:.0f} s)")
        else:
            if lock is not None:
                return lock
            echo(f"another scheduler holds the lock; standing by (retry in {wait_seconds:.0f} s)")
        time.sleep(wait_seconds)


def run_scheduler(
    wait_seconds: float = 30.0, echo=print, factory: Optional[Callable[..., BlockingScheduler]] = None
) -> None:
    """Take the lock (waiting as a standby if needed), run the scheduler while the lock is held,
    and stand by again when it is lost; until stopped. `factory` builds the scheduler from
    (database_url, guard, on_lost) (tests give one with quick jobs)."""
    config = current_app.config
    url = config["SQLALCHEMY_DATABASE_URI"]
    engine = lock_engine(url)
    if factory is None:

        def factory(database_url, guard, on_lost):
            return build_scheduler(database_url, config["ESCALATION_HOUR"], guard=guard, on_lost=on_lost)

    try:
        while True:
            lock = wait_for_lock(engine, wait_seconds, echo)
            echo(f"scheduler running: escalation daily at {config['ESCALATION_HOUR']:02d}:00 {local_zone().key}")
            if not _run_while_held(lock, factory, url):
                return
            # give the standby the first chance: this process was the one cut off
            echo(f"scheduler lock lost; standing by (retry in {wait_seconds:.0f} s)")
            time.sleep(wait_seconds)
    finally:
        engine.dispose()


def _run_while_held(lock: SchedulerLock, factory, url: str) -> bool:
    """Run a scheduler until it is stopped (False) or loses the lock (True)."""
    lost = threading.Event()
    scheduler: Optional[BlockingScheduler] = None

    def on_lost():
        lost.set()
        log.error("scheduler lock lost: no more jobs start here")
        scheduler.shutdown(wait=False)

    scheduler = factory(url, lock.held, on_lost)
    try:
        scheduler.start()
    finally:
        lock.release()
    return lost.is_set()
