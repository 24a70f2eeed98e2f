"""`flask demo`: a demo plan dated around the day it runs, so every demo account has work today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tracker.auth.service import DEMO_USERS, ensure_demo_users
from tracker.demo.living import PLAN_KEY, load_living_demo
from tracker.extensions import db
from tracker.models import JournalEntry, Plan, Task, User
from tracker.plans.queries import my_work
from tracker.timeutil import local_today

SH = ZoneInfo("Asia/Shanghai")
TODAY = date(2031, 3, 10)  # far from every seed plan's dates: only the demo plan can be due around it
ALL_LISTS = {"unsigned", "overdue", "due_soon", "returned", "review"}
# Leaders and reporters review nothing (tracker/plans/queries.py awaiting_review_clause).
LISTS_OF_ROLE = {
    "admin": ALL_LISTS,
    "coordinator": ALL_LISTS,
    "reporter": ALL_LISTS - {"review"},
    "leader": ALL_LISTS - {"review"},
}


@pytest.fixture
def frozen_today():
    with time_machine.travel(datetime(2031, 3, 10, 10, 30, tzinfo=SH), tick=False):
        yield TODAY


def _demo_tasks() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Task).join(Plan, Plan.id == Task.plan_id).where(Plan.key == PLAN_KEY)
    )


def _demo_journal() -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(JournalEntry)
        .join(Task, Task.id == JournalEntry.task_id)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.key == PLAN_KEY)
    )


def _demo_users() -> list[User]:
    names = [name for name, *_ in DEMO_USERS]
    return list(db.session.scalars(select(User).where(User.username.in_(names)).order_by(User.id)))


def test_every_demo_account_has_work_in_each_of_its_lists_today(frozen_today):
    ensure_demo_users()
    assert local_today() == TODAY
    report = load_living_demo(local_today())
    db.session.commit()
    assert report.created > 0
    users = _demo_users()
    assert len(users) == len(DEMO_USERS)
    for user in users:
        work = my_work(user)
        for name in LISTS_OF_ROLE[user.role]:
            assert work.counts[name] > 0 and work.lists[name], f"{user.username}: nothing in {name}"
            if name != "review":  # own unit's lists: the demo plan's tasks of today
                assert any(t.plan.key == PLAN_KEY for t in work.lists[name]), f"{user.username}: {name}"


def test_the_dates_are_those_of_the_script_around_today(frozen_today):
    load_living_demo(TODAY)
    tasks = list(
        db.session.scalars(select(Task).join(Plan, Plan.id == Task.plan_id).where(Plan.key == PLAN_KEY, Task.depth > 0))
    )
    offsets = {(t.due_on - TODAY).days for t in tasks}
    assert {3, 7, -1, -8, -31} <= offsets
    returned = [t for t in tasks if t.status == "returned"]
    assert returned
    reasons = db.session.scalars(
        select(JournalEntry.comment).where(
            JournalEntry.task_id == returned[0].id, JournalEntry.field == "status", JournalEntry.new_value == "returned"
        )
    ).all()
    assert reasons and reasons[-1]  # the return carries its reason
    unsigned = [t for t in tasks if t.assigned_at is not None and t.signed_at is None]
    assert unsigned and all(t.assigned_at < datetime.now(SH) for t in unsigned)
    assert any(t.status == "submitted" for t in tasks)
    # every task is journaled as created
    created = db.session.scalar(
        select(func.count()).where(
            JournalEntry.task_id.in_([t.id for t in tasks]),
            JournalEntry.action == "create",
            JournalEntry.comment == "demo",
        )
    )
    assert created == len(tasks)


def test_running_twice_the_same_day_changes_nothing(frozen_today, runner):
    ensure_demo_users()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "tasks created" in first.output
    count, journal = _demo_tasks(), _demo_journal()
    snapshot = db.session.execute(
        select(Task.ref, Task.due_on, Task.status, Task.version)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.key == PLAN_KEY)
        .order_by(Task.ref)
    ).all()
    # what a demo user did today stays
    task = db.session.scalar(
        select(Task).join(Plan, Plan.id == Task.plan_id).where(Plan.key == PLAN_KEY, Task.assigned_at.is_not(None))
    )
    task.signed_at = datetime.now(SH)
    db.session.commit()
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output
    db.session.expire_all()
    assert _demo_tasks() == count
    assert _demo_journal() == journal
    assert task.signed_at is not None
    after = db.session.execute(
        select(Task.ref, Task.due_on, Task.status, Task.version)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.key == PLAN_KEY)
        .order_by(Task.ref)
    ).all()
    assert [r for r in after if r.ref != task.ref] == [r for r in snapshot if r.ref != task.ref]


def test_on_a_later_day_it_re_dates_the_plan_journaled(frozen_today):
    load_living_demo(TODAY)
    db.session.commit()
    count, journal = _demo_tasks(), _demo_journal()
    soon = db.session.scalar(
        select(Task).join(Plan, Plan.id == Task.plan_id).where(Plan.key == PLAN_KEY, Task.ref == "二.1@WZ-LT")
    )
    assert soon.due_on == TODAY + timedelta(days=3)
    soon.status = "submitted"  # someone acted on it
    db.session.commit()
    later = TODAY + timedelta(days=20)
    report = load_living_demo(later)
    db.session.commit()
    assert report.redated and report.updated > 0 and report.created == 0
    db.session.expire_all()
    assert _demo_tasks() == count
    assert soon.due_on == later + timedelta(days=3) and soon.status == "in_progress"
    assert _demo_journal() > journal
    moved = db.session.scalar(
        select(JournalEntry).where(JournalEntry.task_id == soon.id, JournalEntry.field == "due_on")
    )
    assert moved.old_value == (TODAY + timedelta(days=3)).isoformat() and moved.comment == "demo"
    assert not load_living_demo(later).changed  # and that day again: nothing


def test_the_demo_reporter_home_page_lists_the_demo_tasks(frozen_today, client, auth):
    ensure_demo_users()
    load_living_demo(TODAY)
    db.session.commit()
    auth.login(db.session.scalar(select(User).where(User.username == "lt_rep")))
    page = client.get("/").get_data(as_text=True)
    for title in ("落实督办通知交办事项", "上报月度病例抽查结果", "报送本季度质控工作进展", "报送单病种质量监测数据"):
        assert title in page


def test_a_bad_day_is_refused_in_one_line(runner):
    result = runner.invoke(args=["demo", "plan", "--today", "soon"])
    assert result.exit_code != 0 and "not a date" in result.output
