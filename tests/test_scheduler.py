"""The scheduler process: its job, its settings, and one scheduler at a time on PostgreSQL."""
from __future__ import annotations

import multiprocessing
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from conftest import requires_postgresql
from tracker.extensions import db
from tracker.tasks import scheduler as scheduler_module
from tracker.tasks.scheduler import ESCALATION_JOB, ESCALATION_JOB_ID, build_scheduler, try_scheduler_lock


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_the_scheduler_has_one_daily_escalation_job_on_shanghai_time(tmp_path, app):
    scheduler = build_scheduler(f"sqlite:///{tmp_path / 'jobs.db'}", hour=6, minute=30)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {ESCALATION_JOB_ID, "recurrence-daily", "progress-summary"}  # tests/test_recurrence.py, tests/test_progress_summary.py
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
    processes = [context.Process(target=_escalate_in_a_process, args=(committed_database, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    counts = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Notification))
        distinct = db.session.scalar(select(func.count()).select_from(
            select(Notification.user_id, Notification.escalation_id).distinct().subquery()))
        db.session.remove()
        db.engine.dispose()
    assert sorted(counts) == [0, expected]  # one pass did the work, the other found it done
    assert total == distinct == expected
