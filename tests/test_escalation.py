"""Escalation: overdue tasks climb the hierarchy by themselves, each level once, per recipient once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Escalation, Notification, Plan, Task
from tracker.notifications.rules import save_rules
from tracker.tasks.escalation import escalate

SH = ZoneInfo("Asia/Shanghai")
DUE = date(2024, 4, 22)  # seed 001: provincial QC centres submit the death-case review plan


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


@pytest.fixture
def review_plan_task() -> Task:
    """The Beijing QC centre's copy of seed 001's death-case review plan task."""
    task = db.session.scalar(
        select(Task).where(Task.ref.like("%@P11-QC"), Task.title.contains("死亡病例抽查工作计划"), Task.due_on == DUE)
    )
    assert task is not None
    return task


@pytest.fixture
def people(make_user):
    return {
        "reporter": make_user("reporter", "P11-QC"),
        "coordinator": make_user("coordinator", "P11"),
        "leader": make_user("leader", "NHC"),
        "other_leader": make_user("leader", "P31"),
        "other_reporter": make_user("reporter", "P31-QC"),
    }


def levels_for(user, task) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.level)
            .where(Notification.user_id == user.id, Notification.task_id == task.id)
            .order_by(Notification.id)
        )
    )


def leader_groups(user) -> dict[str, tuple[int, bool]]:
    """{unit code: (item count, catch-up)} of a leader's grouped notices."""
    from tracker.models import OrgUnit

    return {
        code: (count, catch_up)
        for code, count, catch_up in db.session.execute(
            select(OrgUnit.code, Notification.item_count, Notification.catch_up)
            .join(OrgUnit, OrgUnit.id == Notification.unit_id)
            .where(Notification.user_id == user.id, Notification.kind == "leader_group")
        )
    }


def run_at(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return escalate()


def test_an_overdue_task_climbs_once_per_level_to_the_right_people(review_plan_task, people):
    """Each level tells its audience and those below it: one notice per task, due date and
    person, raised in place (unread again) as the task climbs."""
    task = review_plan_task
    run_at(at(DUE - timedelta(days=4)))
    assert levels_for(people["reporter"], task) == []

    run_at(at(DUE - timedelta(days=3)))
    assert levels_for(people["reporter"], task) == ["reminder"]
    assert levels_for(people["coordinator"], task) == []

    second = run_at(at(DUE - timedelta(days=3), hour=20))
    assert levels_for(people["reporter"], task) == ["reminder"]  # a second run notifies nobody new
    assert second.fired.get("reminder", 0) == 0

    run_at(at(DUE + timedelta(days=1)))
    assert levels_for(people["reporter"], task) == ["overdue"]
    assert levels_for(people["coordinator"], task) == []

    run_at(at(DUE + timedelta(days=7)))
    assert levels_for(people["coordinator"], task) == ["parent"]
    assert levels_for(people["reporter"], task) == ["parent"]  # the owner is told at every level

    run_at(at(DUE + timedelta(days=30)))
    run_at(at(DUE + timedelta(days=31)))
    assert "P11" in leader_groups(people["leader"])  # the leader: Beijing's tasks, grouped
    assert levels_for(people["leader"], task) == []
    assert levels_for(people["coordinator"], task) == ["leadership"]
    assert levels_for(people["reporter"], task) == ["leadership"]
    # leaders of other provinces, and other provinces' staff, hear nothing of Beijing's task
    assert "P11" not in leader_groups(people["other_leader"])
    assert levels_for(people["other_reporter"], task) == []
    states = dict(
        db.session.execute(select(Escalation.level, Escalation.state).where(Escalation.task_id == task.id)).all()
    )
    assert states == {"reminder": "fired", "overdue": "fired", "parent": "fired", "leadership": "fired"}


def test_accepting_the_task_stops_its_escalation(review_plan_task, people):
    task = review_plan_task
    run_at(at(DUE + timedelta(days=1)))
    assert levels_for(people["reporter"], task) == ["overdue"]
    task.status = "accepted"
    db.session.commit()
    run_at(at(DUE + timedelta(days=40)))
    assert levels_for(people["coordinator"], task) == []
    assert levels_for(people["reporter"], task) == ["overdue"]
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.task_id == task.id, Escalation.level == "leadership")
        )
        == 0
    )


def test_a_cancelled_or_submitted_task_does_not_escalate(make_task, make_user):
    coordinator = make_user("coordinator", "P11")
    cancelled = make_task("P11-QC", due_on=DUE, status="cancelled")
    submitted = make_task("P11-QC", due_on=DUE, status="submitted")
    run_at(at(DUE + timedelta(days=8)))
    assert levels_for(coordinator, cancelled) == [] and levels_for(coordinator, submitted) == []


def test_after_downtime_a_task_gets_the_highest_level_once_and_every_audience_is_told_once(review_plan_task, people):
    task = review_plan_task
    report = run_at(at(DUE + timedelta(days=45)))
    assert report.fired["leadership"] >= 1
    # the owner unit, the parent's coordinators and the leaders: one notice each, marked catch-up
    for who in ("reporter", "coordinator"):
        assert db.session.execute(
            select(Notification.level, Notification.catch_up).where(
                Notification.user_id == people[who].id, Notification.task_id == task.id
            )
        ).all() == [("leadership", True)]
    count, catch_up = leader_groups(people["leader"])["P11"]
    assert count >= 1 and catch_up
    rows = dict(
        db.session.execute(select(Escalation.level, Escalation.state).where(Escalation.task_id == task.id)).all()
    )
    assert rows == {"reminder": "skipped", "overdue": "skipped", "parent": "skipped", "leadership": "fired"}
    again = run_at(at(DUE + timedelta(days=46)))
    assert levels_for(people["reporter"], task) == ["leadership"] and again.notifications == 0
    assert leader_groups(people["leader"])["P11"] == (count, True)


def test_a_moved_due_date_starts_the_climb_again(make_task, make_user):
    reporter = make_user("reporter", "P11-QC")
    task = make_task("P11-QC", due_on=DUE)
    run_at(at(DUE + timedelta(days=1)))
    assert levels_for(reporter, task) == ["overdue"]
    task.due_on = DUE + timedelta(days=30)
    db.session.commit()
    run_at(at(DUE + timedelta(days=28)))
    assert levels_for(reporter, task) == ["overdue", "reminder"]


def test_section_headings_do_not_escalate_only_their_leaves(make_task, make_user):
    coordinator = make_user("coordinator", "P11")
    heading = make_task("P11-QC", due_on=DUE)
    leaf = make_task("P11-QC", parent=heading, due_on=DUE)
    run_at(at(DUE + timedelta(days=7)))
    assert levels_for(coordinator, heading) == []
    assert levels_for(coordinator, leaf) == ["parent"]


def test_a_plan_can_override_the_default_rules(make_task, make_user):
    reporter = make_user("reporter", "P11-QC")
    task = make_task("P11-QC", plan_key="slow-plan", due_on=DUE)
    other = make_task("P11-QC", due_on=DUE)
    plan = db.session.scalar(select(Plan).where(Plan.key == "slow-plan"))
    save_rules(plan, {"reminder": (-3, False), "overdue": (5, True), "parent": (10, True), "leadership": (60, True)})
    db.session.commit()
    run_at(at(DUE + timedelta(days=2)))
    assert levels_for(reporter, task) == [] and levels_for(reporter, other) == ["overdue"]
    run_at(at(DUE + timedelta(days=5)))
    assert levels_for(reporter, task) == ["overdue"]


def test_rules_must_rise_with_the_level_and_nothing_is_saved_otherwise(app):
    from tracker.notifications.rules import RuleError, default_rules

    before = default_rules()
    with app.test_request_context():
        with pytest.raises(RuleError):
            save_rules(
                None, {"reminder": (-3, True), "overdue": (10, True), "parent": (7, True), "leadership": (30, True)}
            )
    db.session.rollback()
    assert default_rules() == before


def test_dry_run_reports_and_writes_nothing(review_plan_task, people):
    before = db.session.scalar(select(func.count()).select_from(Escalation))
    with time_machine.travel(at(DUE + timedelta(days=1)), tick=False):
        report = escalate(dry_run=True)
    assert report.fired.get("overdue", 0) >= 1 and report.notifications >= 1
    assert any(review_plan_task.ref.split("@")[0] in line for line in report.lines)
    assert db.session.scalar(select(func.count()).select_from(Escalation)) == before
    assert levels_for(people["reporter"], review_plan_task) == []


def test_the_escalation_query_uses_a_bounded_number_of_statements(review_plan_task, people):
    from conftest import count_queries

    with count_queries() as first:
        run_at(at(DUE + timedelta(days=45)))
    with count_queries() as second:
        run_at(at(DUE + timedelta(days=46)))
    assert first() == second() and first() < 40


def test_cli_escalate_prints_what_it_did_and_refuses_a_bad_time(runner, review_plan_task, people):
    result = runner.invoke(args=["escalate", "--now", "2024-04-23T08:00", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: would fire" in result.output and "overdue" in result.output
    assert levels_for(people["reporter"], review_plan_task) == []
    result = runner.invoke(args=["escalate", "--now", "2024-04-23T08:00"])
    assert result.exit_code == 0 and result.output.startswith("fired")
    assert levels_for(people["reporter"], review_plan_task) == ["overdue"]
    bad = runner.invoke(args=["escalate", "--now", "next tuesday"])
    assert bad.exit_code != 0 and "not an ISO date-time" in bad.output
