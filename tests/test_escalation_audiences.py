"""Escalation reaches everyone it should, once: the owner unit (and the responsible person) at
every level, the parent's coordinators from "parent" on, the leaders at "leadership" (one notice
per unit and day); a catch-up pass tells each audience once; a second or parallel pass nobody new."""

from __future__ import annotations

import multiprocessing
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from conftest import requires_postgresql
from tracker.extensions import db
from tracker.models import Notification, OrgUnit, Task
from tracker.tasks.escalation import escalate

SH = ZoneInfo("Asia/Shanghai")
DUE = date(2024, 4, 22)  # seed 001: provincial QC centres submit the death-case review plan


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


def run_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return escalate()


def notices_of(user, task) -> list[tuple[str, bool]]:
    return db.session.execute(
        select(Notification.level, Notification.catch_up).where(
            Notification.user_id == user.id, Notification.task_id == task.id
        )
    ).all()


def groups_of(user, since: date = date.min) -> list[tuple[str, int, bool]]:
    return db.session.execute(
        select(OrgUnit.code, Notification.item_count, Notification.catch_up)
        .join(OrgUnit, OrgUnit.id == Notification.unit_id)
        .where(Notification.user_id == user.id, Notification.kind == "leader_group", Notification.day >= since)
        .order_by(OrgUnit.code)
    ).all()


def total_notices() -> int:
    return db.session.scalar(select(func.count()).select_from(Notification))


def seeded_task() -> Task:
    task = db.session.scalar(
        select(Task).where(Task.ref.like("%@P11-QC"), Task.title.contains("死亡病例抽查工作计划"), Task.due_on == DUE)
    )
    assert task is not None
    return task


def test_a_first_pass_at_60_days_tells_every_audience_once_and_leaders_per_unit(make_user):
    task = seeded_task()
    reporter, qc_coordinator = make_user("reporter", "P11-QC"), make_user("coordinator", "P11-QC")
    parent_coordinator, parent_reporter = make_user("coordinator", "P11"), make_user("reporter", "P11")
    national_leader, beijing_leader = make_user("leader", "NHC"), make_user("leader", "P11")
    shanghai_leader = make_user("leader", "P31")

    report = run_at(at(DUE + timedelta(days=60)))

    for user in (reporter, qc_coordinator, parent_coordinator):
        assert notices_of(user, task) == [("leadership", True)]
    assert notices_of(parent_reporter, task) == []  # only the parent's coordinators
    # leaders: no notice per task, one per unit (the unit just below theirs) and day
    assert notices_of(national_leader, task) == []
    national = groups_of(national_leader)
    assert [code for code, *_ in national].count("P11") == 1
    p11 = dict((code, (count, catch_up)) for code, count, catch_up in national)["P11"]
    assert p11[0] >= 1 and p11[1] is True
    leadership_fired = report.fired["leadership"]
    assert len(national) < leadership_fired  # grouped: far fewer notices than tasks
    assert sum(count for _code, count, _c in national) == leadership_fired
    # a provincial leader's groups are the units under the province (here the QC centre)
    assert ("P11-QC",) in [(code,) for code, *_ in groups_of(beijing_leader)]
    assert all(code.startswith("P31") for code, *_ in groups_of(shanghai_leader))

    before = total_notices()
    second = run_at(at(DUE + timedelta(days=60), hour=20))
    assert second.notifications == 0 and total_notices() == before
    assert groups_of(national_leader) == national


def test_a_fresh_due_date_climbs_at_1_7_and_30_days_telling_each_level_once(make_task, make_user, make_unit):
    hospital = make_unit("P11-QC-HX", "P11-QC")
    reporter, coordinator = make_user("reporter", hospital.code), make_user("coordinator", "P11-QC")
    responsible = make_user("reporter", "P11-QC")  # named responsible though of another unit
    leader = make_user("leader", "NHC")
    due = date(2031, 3, 10)  # after every seeded due date: only this task climbs
    task = make_task(hospital.code, due_on=due, responsible_user_id=responsible.id)
    run_at(at(due - timedelta(days=10)))  # the seeded plans' tasks, all long overdue by then

    def step(days: int):
        first = run_at(at(due + timedelta(days=days)))
        count = total_notices()
        second = run_at(at(due + timedelta(days=days), hour=21))
        assert second.notifications == 0 and total_notices() == count, days
        return first

    assert step(-3).notifications == 2
    assert notices_of(reporter, task) == [("reminder", False)] and notices_of(coordinator, task) == []
    assert step(1).notifications == 2  # raised in place
    assert notices_of(reporter, task) == [("overdue", False)] and notices_of(responsible, task) == [("overdue", False)]
    assert notices_of(coordinator, task) == []

    db.session.execute(Notification.__table__.update().values(read_at=datetime.now(SH)))  # all read
    db.session.commit()
    assert step(7).notifications == 3
    assert notices_of(coordinator, task) == [("parent", False)]  # the parent (P11-QC)'s coordinator
    assert notices_of(reporter, task) == [("parent", False)]  # raised in place, unread again
    assert (
        db.session.scalar(
            select(Notification.read_at).where(Notification.user_id == reporter.id, Notification.task_id == task.id)
        )
        is None
    )

    assert step(30).notifications == 4  # three per-task notices raised, one leader group
    for user in (reporter, responsible, coordinator):
        assert notices_of(user, task) == [("leadership", False)]
    assert groups_of(leader, since=due) == [("P11", 1, False)]

    task.due_on = due + timedelta(days=60)  # a moved due date starts again
    db.session.commit()
    run_at(at(due + timedelta(days=61)))
    assert sorted(notices_of(reporter, task)) == [("leadership", False), ("overdue", True)]  # its reminder skipped


def test_two_tasks_of_one_unit_the_same_day_make_one_leader_notice(make_task, make_user):
    leader = make_user("leader", "NHC")
    due = date(2031, 3, 10)
    run_at(at(due - timedelta(days=10)))  # the seeded plans' tasks
    make_task("P44-QC", due_on=due)
    run_at(at(due + timedelta(days=30)))
    make_task("P44-QC", due_on=due - timedelta(days=1))
    make_task("P44", due_on=due)
    run_at(at(due + timedelta(days=30), hour=20))
    assert groups_of(leader, since=due) == [("P44", 3, True)]  # found at +30 at once: a catch-up


# -- the same at +60 in two processes at once (PostgreSQL) ------------------------------------------

NOW = at(DUE + timedelta(days=60))


def _escalate_in_a_process(url: str, barrier, results) -> None:
    from tracker import create_app
    from tracker.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        barrier.wait()
        results.put(escalate(NOW).notifications)


def test_two_passes_at_60_days_in_two_processes_tell_each_audience_once(scratch_database_url, monkeypatch):
    requires_postgresql(scratch_database_url, "two processes at once: the PostgreSQL guarantee")
    from pathlib import Path

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.importer.seed import load_seed_files

    root = Path(__file__).resolve().parent.parent
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with app.app_context():
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
        context.Process(target=_escalate_in_a_process, args=(scratch_database_url, barrier, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    counts = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    with app.app_context():
        total = db.session.scalar(select(func.count()).select_from(Notification))
        per_task = db.session.scalar(
            select(func.count()).select_from(
                select(Notification.task_id, Notification.due_on, Notification.user_id)
                .where(Notification.kind == "escalation")
                .distinct()
                .subquery()
            )
        )
        groups = db.session.execute(
            select(Notification.unit_id, Notification.item_count).where(Notification.kind == "leader_group")
        ).all()
        catch_up = db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.catch_up.is_(True))
        )
        db.session.remove()
        db.engine.dispose()
    assert sorted(counts) == [0, expected]  # one pass did the work, the other found it done
    assert total == per_task + len(groups) == expected
    assert len({unit for unit, _ in groups}) == len(groups) and catch_up > 0
