"""`flask demo generate`: a deterministic data set, refused twice, with real figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tracker.demo.generate import CODE_PREFIX, PLAN_KEY, SCALES, generate
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan, Task
from tracker.plans.status import OVERDUE_STATUSES
from tracker.progress.service import unit_matrix

TODAY = date(2031, 5, 20)


def _fingerprint():
    return db.session.execute(
        select(Task.ref, Task.status, Task.due_on, Task.completed_on)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.key == PLAN_KEY)
        .order_by(Task.ref)
    ).all()


def test_the_small_data_set_is_deterministic_and_cascaded(app):
    first = generate("small", date(2025, 12, 31), seed=7)
    scale = SCALES["small"]
    units = db.session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.code.like("G-%")))
    assert first.units == units == 8 * 2  # eight provinces, one prefecture and one county each
    duties = scale.sections * scale.duties_per_section
    assert first.tasks == scale.sections + duties + duties * units
    fingerprint = _fingerprint()
    statuses = {row.status for row in fingerprint}
    assert {"accepted", "not_started"} <= statuses
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN_KEY))
    matrix = unit_matrix(
        plan, db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC")), "phases", date(2025, 12, 31)
    )
    assert matrix.total.items == duties * units and 0 < matrix.total.completion < 100
    db.session.rollback()
    generate("small", date(2025, 12, 31), seed=7)
    assert _fingerprint() == fingerprint  # the same arguments give the same data
    db.session.rollback()


def test_generating_twice_is_refused_in_one_line(runner):
    ok = runner.invoke(args=["demo", "generate", "--scale", "small"])
    assert ok.exit_code == 0, ok.output
    assert "generated" in ok.output
    again = runner.invoke(args=["demo", "generate", "--scale", "small"])
    assert again.exit_code != 0 and "already there" in again.output
    bad = runner.invoke(args=["demo", "generate", "--scale", "small", "--as-of", "someday"])
    assert bad.exit_code != 0 and "not a date" in bad.output


def _leaves() -> list[tuple[date, str, str]]:
    """(due date, status, owner code) of every generated unit's task."""
    return db.session.execute(
        select(Task.due_on, Task.status, OrgUnit.code)
        .join(Plan, Plan.id == Task.plan_id)
        .join(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Plan.key == PLAN_KEY, Task.depth == 2)
    ).all()


def _overdue(rows, today: date) -> list:
    return [r for r in rows if r.due_on < today and r.status in OVERDUE_STATUSES]


def _province(code: str) -> str:
    return code.removeprefix(CODE_PREFIX).split("-")[0]


@pytest.mark.parametrize("seed", [7, 2026, 99])
def test_the_data_set_looks_like_its_day_with_one_lagging_province(seed):
    report = generate("small", TODAY, seed=seed)
    rows = _leaves()
    assert len(rows) == 15 * 16
    not_yet_due = [r for r in rows if r.due_on >= TODAY]
    assert len(not_yet_due) > 0.5 * len(rows)  # most work is not yet due
    overdue = _overdue(rows, TODAY)
    assert 0.05 <= len(overdue) / len(rows) <= 0.10, len(overdue) / len(rows)
    assert all(TODAY - timedelta(days=200) <= r.due_on <= TODAY + timedelta(days=360) for r in rows)
    # the lagging province: the most overdue of all, and most of its due work overdue
    by_province: dict[str, list] = {}
    for r in rows:
        by_province.setdefault(_province(r.code), []).append(r)
    lagging = max(by_province, key=lambda p: len(_overdue(by_province[p], TODAY)))
    assert report.lagging == db.session.scalar(select(OrgUnit.name).where(OrgUnit.code == lagging))
    lagging_overdue = len(_overdue(by_province[lagging], TODAY))
    others = sorted((len(_overdue(v, TODAY)) for p, v in by_province.items() if p != lagging), reverse=True)
    assert lagging_overdue > others[0]
    due = [r for r in by_province[lagging] if r.due_on < TODAY]
    assert lagging_overdue > 0.5 * len(due)
    # the plan and its phases sit around the day: the middle phase is under way
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN_KEY))
    assert plan.period_start < TODAY < plan.period_end
    current = db.session.scalar(
        select(Phase.key).where(Phase.plan_id == plan.id, Phase.start_on <= TODAY, Phase.end_on >= TODAY)
    )
    assert current == "implement"
    db.session.rollback()


def test_an_earlier_as_of_is_the_worst_case_today():
    generate("small", TODAY, seed=7)
    normal = _leaves()
    db.session.rollback()
    generate("small", TODAY - timedelta(days=180), seed=7)
    shifted = _leaves()
    # the same data set, dated half a year earlier
    assert sorted(r.due_on for r in shifted) == sorted(r.due_on - timedelta(days=180) for r in normal)
    share = len(_overdue(shifted, TODAY)) / len(shifted)
    assert share >= 0.3 > len(_overdue(normal, TODAY)) / len(normal), share
    db.session.rollback()


def test_the_command_dates_it_today_by_default(runner):
    with time_machine.travel(datetime(2031, 5, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        result = runner.invoke(args=["demo", "generate", "--scale", "small"])
    assert result.exit_code == 0, result.output
    assert "as of 2031-05-20" in result.output and "lagging province" in result.output
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN_KEY))
    assert plan.period_start == TODAY - timedelta(days=365)
    bad = runner.invoke(args=["demo", "generate", "--scale", "small", "--as-of", "2031-02-30"])
    assert bad.exit_code != 0 and "not a date" in bad.output and len(bad.output.strip().splitlines()) == 1
