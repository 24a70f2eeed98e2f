"""Scheduler processes with one quick job (every second) that records which process ran it, for
the test of a lost scheduler lock (tests/test_scheduler.py)."""

from __future__ import annotations

import os
import time

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

RUNS_TABLE = "CREATE TABLE job_runs (id serial PRIMARY KEY, pid int, started timestamptz, ended timestamptz)"


def record_run(url: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            run = conn.execute(
                text("INSERT INTO job_runs (pid, started) VALUES (:pid, clock_timestamp()) RETURNING id"),
                {"pid": os.getpid()},
            ).scalar()
        time.sleep(0.2)
        with engine.begin() as conn:
            conn.execute(text("UPDATE job_runs SET ended = clock_timestamp() WHERE id = :id"), {"id": run})
    finally:
        engine.dispose()


def quick_scheduler(database_url: str, guard, on_lost) -> BlockingScheduler:
    from tracker.tasks.scheduler import JOB_TABLE, GuardedJobStore

    scheduler = BlockingScheduler(
        jobstores={"default": GuardedJobStore(guard, on_lost, url=database_url, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5},
    )
    scheduler.add_job(
        "scheduler_rig:record_run", IntervalTrigger(seconds=1), args=[database_url], id="quick", replace_existing=True
    )
    return scheduler


def scheduler_process(url: str, wait_seconds: float, log_path: str) -> None:
    from tracker import create_app
    from tracker.config import TestConfig
    from tracker.tasks.scheduler import run_scheduler

    def echo(line: str) -> None:
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        run_scheduler(wait_seconds=wait_seconds, echo=echo, factory=quick_scheduler)
