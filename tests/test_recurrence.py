"""Recurring duties: the daily job makes dated occurrences ahead of time, each a task of its own;
a missed one stays overdue and escalates; a new rule changes only the future."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import count_queries
from tracker.duties.service import change_rule
from tracker.cascade.service import CascadeError, TargetSpec, cascade_task
from tracker.extensions import db
from tracker.models import Escalation, JournalEntry, Plan, Task
from tracker.models.cascade import Occurrence
from tracker.plans.operations import change_status
from tracker.tasks.escalation import escalate
from tracker.tasks.recurrence import LOOKAHEAD, sync_occurrences
from tracker.tasks.scheduler import RECURRENCE_JOB, RECURRENCE_JOB_ID, build_scheduler

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTHLY = "FREQ=MONTHLY;BYMONTHDAY=-1"
QUARTERLY = "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"
MONTH_ENDS_2024 = [
    date(2024, m, d)
    for m, d in (
        (1, 31),
        (2, 29),
        (3, 31),
        (4, 30),
        (5, 31),
        (6, 30),
        (7, 31),
        (8, 31),
        (9, 30),
        (10, 31),
        (11, 30),
        (12, 31),
    )
]


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def plan_2024():
    plan = Plan(
        key="duties-2024", title="2024年医疗质量工作", period_start=date(2024, 1, 1), period_end=date(2024, 12, 31)
    )
    db.session.add(plan)
    db.session.commit()
    return plan


@pytest.fixture
def duty(make_task, plan_2024):
    return make_task(
        "WZ-LT-H",
        plan_key="duties-2024",
        ref="四.3.1",
        title="每月召开医疗质量管理委员会专题会议",
        recurrence=MONTHLY,
        deliverable="会议纪要",
    )


def occurrences(duty: Task) -> list[Task]:
    return list(
        db.session.scalars(
            select(Task)
            .join(Occurrence, Occurrence.task_id == Task.id)
            .where(Occurrence.duty_task_id == duty.id)
            .order_by(Task.due_on)
        )
    )


def run_on(day: date, hour: int = 8, **kwargs):
    report = sync_occurrences(at(day, hour), **kwargs)
    db.session.commit()
    return report


def test_a_monthly_duty_over_a_frozen_year_gives_twelve_month_ends_once(duty):
    day = date(2024, 1, 1)
    while day.year == 2024:  # the job runs every day, twice
        with time_machine.travel(at(day), tick=False):
            sync_occurrences(duty_ids=[duty.id])
            second = sync_occurrences(duty_ids=[duty.id])
            db.session.commit()
        assert second.created == 0
        day += timedelta(days=1)
    made = occurrences(duty)
    assert [t.due_on for t in made] == MONTH_ENDS_2024
    feb = made[1]
    assert (feb.ref, feb.start_on, feb.due_on) == ("四.3.1#2024-02-29", date(2024, 2, 1), date(2024, 2, 29))
    assert {(t.owner_unit.code, t.title, t.deliverable, t.origin, t.parent_id, t.path) for t in made[:1]} == {
        ("WZ-LT-H", duty.title, "会议纪要", "recurrence", duty.id, f"{duty.path}{made[0].id}/")
    }
    assert len({t.ref for t in made}) == 12
    assert all(
        len(list(db.session.scalars(select(JournalEntry).where(JournalEntry.task_id == t.id)))) == 1 for t in made
    )


def test_the_next_two_periods_are_made_ahead_on_shanghai_dates(duty):
    late_on_31_january = datetime(2024, 1, 31, 15, 59, tzinfo=timezone.utc)  # 23:59 in Shanghai
    sync_occurrences(late_on_31_january, duty_ids=[duty.id])
    assert [t.due_on for t in occurrences(duty)] == [date(2024, 1, 31), date(2024, 2, 29)]
    first_of_february = datetime(2024, 1, 31, 16, 0, tzinfo=timezone.utc)  # 00:00 on 1 February
    sync_occurrences(first_of_february, duty_ids=[duty.id])
    assert [t.due_on for t in occurrences(duty)] == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]
    assert LOOKAHEAD == 2


def test_a_quarterly_duty_falls_on_quarter_ends(make_task, plan_2024):
    quarterly = make_task(
        "P64",
        plan_key="duties-2024",
        ref="四.23.5",
        title="每季度召开质控工作专题会议",
        recurrence=QUARTERLY,
        start_on=date(2024, 2, 10),
    )
    for month in range(1, 13):
        run_on(date(2024, month, 1))
    assert [t.due_on for t in occurrences(quarterly)] == [
        date(2024, 3, 31),
        date(2024, 6, 30),
        date(2024, 9, 30),
        date(2024, 12, 31),
    ]


def test_nothing_is_back_filled_but_downtime_is_caught_up(duty):
    run_on(date(2024, 3, 10))
    assert [t.due_on for t in occurrences(duty)] == [date(2024, 3, 31), date(2024, 4, 30)]
    run_on(date(2024, 7, 2))  # the scheduler was down in May and June
    assert [t.due_on for t in occurrences(duty)] == [
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
        date(2024, 7, 31),
        date(2024, 8, 31),
    ]


def test_a_missed_occurrence_stays_overdue_and_escalates(duty, make_user):
    run_on(date(2024, 1, 5))
    january = occurrences(duty)[0]
    report = escalate(at(date(2024, 2, 8)))
    db.session.commit()
    levels = set(
        db.session.scalars(
            select(Escalation.level).where(Escalation.task_id == january.id, Escalation.state == "fired")
        )
    )
    assert "parent" in levels
    run_on(date(2024, 2, 8))
    db.session.refresh(january)
    assert january.status == "not_started" and january.due_on == date(2024, 1, 31)
    assert report.total_fired >= 1


def test_a_new_rule_changes_only_future_occurrences(duty, make_user):
    coordinator = make_user("coordinator", "WZ-LT")
    for month in (1, 2, 3, 4, 5):
        run_on(date(2024, month, 1))
    made = {t.due_on: t for t in occurrences(duty)}
    assert sorted(made) == MONTH_ENDS_2024[:6]
    change_status(made[date(2024, 4, 30)], coordinator, "in_progress")
    db.session.commit()
    report = change_rule(duty, coordinator, QUARTERLY, now=at(date(2024, 5, 15)))
    db.session.commit()
    assert (report.superseded, report.created) == (1, 1)
    after = {t.due_on: t.status for t in occurrences(duty)}
    assert after == {
        date(2024, 1, 31): "not_started",
        date(2024, 2, 29): "not_started",
        date(2024, 3, 31): "not_started",
        date(2024, 4, 30): "in_progress",
        date(2024, 5, 31): "cancelled",
        date(2024, 6, 30): "not_started",
        date(2024, 9, 30): "not_started",
    }
    may = made[date(2024, 5, 31)]
    entry = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id == may.id, JournalEntry.action == "status")
    ).one()
    assert (entry.old_value, entry.new_value, entry.user_id) == ("not_started", "cancelled", coordinator.id)
    rule_entry = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id == duty.id, JournalEntry.field == "recurrence")
    ).one()
    assert (rule_entry.old_value, rule_entry.new_value) == (MONTHLY, QUARTERLY)
    change_rule(duty, coordinator, MONTHLY, now=at(date(2024, 5, 16)))  # back again: May 31 is due once more
    db.session.commit()
    assert {t.due_on: t.status for t in occurrences(duty)}[date(2024, 5, 31)] == "not_started"


def test_clearing_the_rule_cancels_the_future_occurrences_only(duty, make_user):
    coordinator = make_user("coordinator", "WZ-LT")
    run_on(date(2024, 1, 31))
    change_rule(duty, coordinator, "", now=at(date(2024, 2, 1)))
    db.session.commit()
    assert [(t.due_on, t.status) for t in occurrences(duty)] == [
        (date(2024, 1, 31), "not_started"),
        (date(2024, 2, 29), "cancelled"),
    ]
    assert duty.recurrence is None


def test_a_bad_rule_is_refused(duty, make_user):
    with pytest.raises(CascadeError):
        change_rule(duty, make_user("coordinator", "WZ-LT"), "FREQ=SOMETIMES")
    assert duty.recurrence == MONTHLY


def test_a_cascaded_duty_recurs_for_each_unit_and_the_template_itself_does_not(make_task, plan_2024, make_user):
    template = make_task("WZ", plan_key="duties-2024", ref="四.3.3", title="质量安全月报", recurrence=MONTHLY)
    cascade_task(template, make_user("coordinator", "WZ"), TargetSpec("list", codes=["WZ-LT", "WZ-HSB", "WZ-YC"]))
    db.session.commit()
    run_on(date(2024, 6, 3))
    made = list(db.session.scalars(select(Task).where(Task.origin == "recurrence", Task.plan_id == plan_2024.id)))
    assert sorted((t.owner_unit.code, t.due_on) for t in made) == sorted(
        (code, day) for code in ("WZ-LT", "WZ-HSB", "WZ-YC") for day in (date(2024, 6, 30), date(2024, 7, 31))
    )
    assert all(t.parent.parent_id == template.id for t in made)
    # the template's new rule flows to its units' duties and their future occurrences
    change_rule(template, make_user("coordinator", "WZ"), QUARTERLY, now=at(date(2024, 6, 4)))
    db.session.commit()
    open_dates = sorted(
        {
            t.due_on
            for t in db.session.scalars(
                select(Task).where(
                    Task.origin == "recurrence", Task.plan_id == plan_2024.id, Task.status == "not_started"
                )
            )
        }
    )
    assert open_dates == [date(2024, 6, 30), date(2024, 9, 30)]


def test_the_job_reads_a_fixed_number_of_statements(make_task, plan_2024):
    for index in range(30):
        make_task("WZ-LT-H", plan_key="duties-2024", ref=f"D{index}", title="月度抽查", recurrence=MONTHLY)
    with count_queries() as statements:
        report = run_on(date(2024, 4, 1))
    assert report.created >= 60
    assert statements() < 25


def test_the_scheduler_runs_the_recurrence_job_before_the_escalation_pass(tmp_path, app):
    scheduler = build_scheduler(f"sqlite:///{tmp_path / 'jobs.db'}", hour=7)
    job = {j.id: j for j in scheduler.get_jobs()}[RECURRENCE_JOB_ID]
    assert job.func_ref == RECURRENCE_JOB
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("6", "0")


def test_the_command_line_runs_one_pass(runner, duty):
    result = runner.invoke(args=["occurrences", "generate", "--now", "2024-03-10T08:00"])
    assert result.exit_code == 0, result.output
    assert "2024-03-10" in result.output and "created" in result.output
    assert [t.due_on for t in occurrences(duty)] == [date(2024, 3, 31), date(2024, 4, 30)]
    bad = runner.invoke(args=["occurrences", "generate", "--now", "yesterday"])
    assert bad.exit_code != 0 and "ISO" in bad.output


def test_the_rule_page_shows_the_next_dates_and_saves(client, auth, duty, make_user):
    auth.login(make_user("coordinator", "WZ-LT"))
    page = client.get(f"/tasks/{duty.id}/recurrence").get_data(as_text=True)
    assert MONTHLY in page and 'id="rule-form"' in page
    refused = client.post(f"/tasks/{duty.id}/recurrence", data={"rule": "FREQ=HOURLY"})
    assert refused.status_code == 400 and 'id="rule-form"' in refused.get_data(as_text=True)
    saved = client.post(f"/tasks/{duty.id}/recurrence", data={"rule": QUARTERLY, "comment": "按季度"})
    assert saved.status_code == 303
    db.session.refresh(duty)
    assert duty.recurrence == QUARTERLY
    auth.login(make_user("reporter", "WZ-LT-H"))
    assert client.post(f"/tasks/{duty.id}/recurrence", data={"rule": MONTHLY}).status_code == 403
