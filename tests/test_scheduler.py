"""The scheduler process: its job, its settings, and one scheduler at a time on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from conftest import requires_postgresql
from tracker.extensions import db
from tracker.tasks import scheduler as scheduler_module
from tracker.tasks.scheduler import (
    ESCALATION_JOB,
    ESCALATION_JOB_ID,
    GuardedJobStore,
    build_scheduler,
    try_scheduler_lock,
)


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_the_scheduler_has_one_daily_escalation_job_on_shanghai_time(tmp_path, app):
    scheduler = build_scheduler(f"sqlite:///{tmp_path / 'jobs.db'}", hour=6, minute=30)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # tests/test_recurrence.py, tests/test_progress_summary.py; pending deliveries, the sign-in
    # failures' purge; the background exports (tests/test_export_jobs.py)
    assert set(jobs) == {
        "exports-pending",
        ESCALATION_JOB_ID,
        "recurrence-daily",
        "progress-summary",
        "delivery-pending",
        "purge-login-failures",
    }
    job = jobs[ESCALATION_JOB_ID]
    assert job.func_ref == ESCALATION_JOB
    assert str(scheduler.timezone) == "Asia/Shanghai"
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert fields["hour"] == "6" and fields["minute"] == "30"
    assert scheduler._job_defaults["coalesce"] is True and scheduler._job_defaults["max_instances"] == 1
    nxt = job.trigger.get_next_fire_time(None, datetime(2024, 4, 22, 7, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert (nxt.date(), nxt.hour, nxt.minute) == (date(2024, 4, 23), 6, 30)


def test_only_one_scheduler_process_holds_the_lock_on_postgresql(app):
    if not is_postgres():
        lock = try_scheduler_lock(db.engine)
        assert lock is not None  # SQLite: nothing to take
        lock.release()
        return
    first = try_scheduler_lock(db.engine)
    assert first is not None
    try:
        assert try_scheduler_lock(db.engine) is None
    finally:
        first.release()
    again = try_scheduler_lock(db.engine)
    assert again is not None
    again.release()


def test_a_second_scheduler_stands_by_while_the_first_runs(app, monkeypatch):
    if not is_postgres():
        pytest.skip("the scheduler lock is a PostgreSQL advisory lock")
    held = try_scheduler_lock(db.engine)
    said = []

    class Stop(Exception):
        pass

    def no_sleep(_seconds):
        raise Stop

    monkeypatch.setattr(scheduler_module.time, "sleep", no_sleep)
    try:
        with pytest.raises(Stop):
            scheduler_module.run_scheduler(echo=said.append)
    finally:
        held.release()
    assert said and "standing by" in said[0]


def test_the_lock_holder_knows_whether_it_still_holds_the_lock(app):
    lock = try_scheduler_lock(db.engine)
    try:
        assert lock.held()
        if is_postgres():
            pid = lock.connection.execute(text("SELECT pg_backend_pid()")).scalar()
            lock.connection.commit()
            with db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert not lock.held()  # its connection was ended: the lock went with it
    finally:
        lock.release()


def test_a_scheduler_that_lost_its_lock_hands_out_no_job_and_stops(tmp_path):
    held = [True]
    lost = []
    store = GuardedJobStore(lambda: held[0], lambda: lost.append(1), url=f"sqlite:///{tmp_path / 'jobs.db'}")
    scheduler = BackgroundScheduler(jobstores={"default": store})
    scheduler.add_job(
        "tracker.tasks.progress:run",
        "interval",
        seconds=1,
        id="job",
        next_run_time=datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")),
    )
    scheduler.start(paused=True)
    try:
        now = datetime.now(ZoneInfo("UTC"))
        assert [job.id for job in store.get_due_jobs(now)] == ["job"]
        held[0] = False
        assert store.get_due_jobs(now) == [] and store.get_due_jobs(now) == []
        assert lost == [1]  # reported once
    finally:
        scheduler.shutdown(wait=False)


def test_when_the_lock_holders_connection_is_ended_the_standby_takes_over_and_no_two_run(
    scratch_database_url, tmp_path
):
    """Two scheduler processes with a job every second; the holder's lock connection is terminated
    (pg_terminate_backend): it stops starting jobs, the standby takes over, never both at once."""
    requires_postgresql(scratch_database_url, "the scheduler lock is a PostgreSQL advisory lock")
    import time

    from sqlalchemy import create_engine

    import scheduler_rig

    engine = create_engine(scratch_database_url)
    with engine.begin() as conn:
        conn.execute(text(scheduler_rig.RUNS_TABLE))

    def runs():
        with engine.connect() as conn:
            return conn.execute(text("SELECT pid, started, ended FROM job_runs ORDER BY started")).all()

    def wait_for(condition, seconds=30.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.2)
        return False

    context = multiprocessing.get_context("spawn")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    # the first holder waits long after losing the lock; the standby retries quickly
    first = context.Process(target=scheduler_rig.scheduler_process, args=(scratch_database_url, 3.0, str(logs[0])))
    second = context.Process(target=scheduler_rig.scheduler_process, args=(scratch_database_url, 0.3, str(logs[1])))
    try:
        first.start()
        assert wait_for(lambda: len(runs()) >= 2), "the first scheduler never ran its job"
        second.start()
        assert wait_for(lambda: logs[1].exists() and "standing by" in logs[1].read_text())
        time.sleep(2)
        assert {pid for pid, *_ in runs()} == {first.pid}  # the standby runs nothing
        with engine.begin() as conn:
            holder = conn.execute(
                text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND granted"),
                {"key": scheduler_module.SCHEDULER_LOCK_KEY},
            ).scalar()
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder}).scalar()
        assert wait_for(lambda: sum(pid == second.pid for pid, *_ in runs()) >= 3), "the standby never took over"
        time.sleep(2)
        assert first.is_alive() and second.is_alive()
        assert "scheduler lock lost" in logs[0].read_text()
    finally:
        for process in (first, second):
            if process.pid is not None:
                process.terminate()
                process.join(timeout=10)
    done = runs()
    engine.dispose()
    by_first = [r for r in done if r.pid == first.pid]
    by_second = [r for r in done if r.pid == second.pid]
    assert by_first and by_second
    # one, then the other: the first started nothing once the standby had taken over (a job of
    # its already running at the cut may finish: the jobs are idempotent and lock for themselves)
    assert max(r.started for r in by_first) < min(r.started for r in by_second)


# -- two escalation passes at the same moment, in two processes -------------------------------------

NOW = datetime(2024, 5, 30, 8, tzinfo=ZoneInfo("Asia/Shanghai"))


def _escalate_in_a_process(url: str, barrier, results) -> None:
    from tracker import create_app
    from tracker.config import TestConfig
    from tracker.tasks.escalation import escalate

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connect before the start line
        barrier.wait()
        report = escalate(NOW)
        results.put(report.notifications)


def test_two_passes_at_once_in_two_processes_notify_each_recipient_once(scratch_database_url, monkeypatch):
    requires_postgresql(scratch_database_url, "two processes at once: the PostgreSQL guarantee")
    committed_database = scratch_database_url
    from pathlib import Path

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.importer.seed import load_seed_files
    from tracker.models import Notification
    from tracker.tasks.escalation import escalate

    root = Path(__file__).resolve().parent.parent
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=committed_database)
    with app.app_context():
        # a session on this database that really commits (not the test's rolled-back one)
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine)))
        db.create_all()
        load_seed_files([root / "seed_plans" / "units.yaml", root / "seed_plans" / "001_ncc_qc_2024.yaml"])
        for code in ("P11-QC", "P31-QC", "P44-QC"):
            create_user(f"rep-{code}", "password-123", "reporter", code)
        for code in ("P11", "P31", "P44"):
            create_user(f"coord-{code}", "password-123", "coordinator", code)
        create_user("leader-nhc", "password-123", "leader", "NHC")
        db.session.commit()
        expected = escalate(NOW, dry_run=True).notifications
        assert expected > 0
        db.session.remove()
        db.engine.dispose()

    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_escalate_in_a_process, args=(committed_database, barrier, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    counts = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Notification))
        distinct = db.session.scalar(
            select(func.count()).select_from(
                # what a notice is about: a task's due date, or (leaders) a unit's day
                select(
                    Notification.user_id,
                    Notification.kind,
                    Notification.task_id,
                    Notification.due_on,
                    Notification.unit_id,
                    Notification.day,
                )
                .distinct()
                .subquery()
            )
        )
        db.session.remove()
        db.engine.dispose()
    assert sorted(counts) == [0, expected]  # one pass did the work, the other found it done
    assert total == distinct == expected
