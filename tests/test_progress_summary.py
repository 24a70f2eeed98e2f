"""The maintained progress summary: triggers mark changed tasks, folds and rebuilds keep the
roll-up equal to the figures computed from the tasks, and pages read it when it is current."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, update

from conftest import count_queries
from tracker.cascade.service import PROVINCES, TargetSpec, cascade_task, withdraw_cascade
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan, Task
from tracker.models.progress import ProgressDirty, ProgressDirtyTask, ProgressRollup, ProgressState
from tracker.progress import summary
from tracker.progress.service import _daily_live, leadership_summary, phase_summaries, ranking, unit_matrix
from tracker.progress.summary import figures_by, fold, rebuild

TODAY = date(2025, 6, 30)


def unit(code):
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def dirty() -> set[int]:
    """The marked tasks."""
    return set(db.session.scalars(select(ProgressDirtyTask.task_id)))


def dirty_pairs() -> set[tuple[int, int]]:
    return set(db.session.execute(select(ProgressDirty.plan_id, ProgressDirty.owner_unit_id)).all())


@pytest.fixture
def plan(make_task):
    key = "summary-plan"
    s1 = make_task(None, plan_key=key, ref="一", title="第一部分")
    make_task(None, plan_key=key, ref="二", title="第二部分")
    plan = db.session.scalar(select(Plan).where(Plan.key == key))
    db.session.add_all(
        [
            Phase(
                plan=plan, key="startup", name="启动", start_on=date(2025, 3, 1), end_on=date(2025, 5, 31), position=0
            ),
            Phase(plan=plan, key="impl", name="实施", start_on=date(2025, 6, 1), end_on=date(2025, 12, 31), position=1),
        ]
    )
    template = make_task(
        "NHC", plan_key=key, parent=s1, ref="一.1", title="制定实施方案", due_on=date(2025, 5, 20), weight=2.0
    )
    make_task("NHC-MA", plan_key=key, parent=s1, ref="一.2", title="国家级任务", due_on=date(2025, 7, 1))
    db.session.commit()
    return plan, template


def test_triggers_mark_the_tasks_whose_work_items_changed(plan, make_task):
    plan, template = plan
    rebuild(TODAY)
    db.session.commit()
    assert dirty() == set() and dirty_pairs() == set()
    child = make_task("P11", plan_key=plan.key, parent=template, ref="一.1@P11", due_on=date(2025, 5, 20))
    db.session.commit()
    # the new task, and the template (it stopped being a work item)
    assert dirty() == {child.id, template.id}
    assert fold(TODAY) == 2 and dirty() == set()
    child.title = "改个标题"  # not a figure: nothing to fold
    db.session.commit()
    assert dirty() == set()
    child.status, child.progress = "in_progress", 30.0
    db.session.commit()
    # the task (and, where the template's rolled-up percent was rewritten too, harmlessly, the template)
    assert child.id in dirty() <= {child.id, template.id}
    fold(TODAY)
    db.session.execute(delete(Task).where(Task.id == child.id))  # a bulk statement is caught as well
    db.session.commit()
    assert dirty() == {child.id, template.id}
    fold(TODAY)
    # a phase's dates move the items without a phase of their own: their (plan, owner) pairs
    startup = db.session.scalar(select(Phase).where(Phase.plan_id == plan.id).order_by(Phase.position))
    startup.end_on = startup.end_on + timedelta(days=30)
    db.session.commit()
    owners = {
        t.owner_unit_id or 0
        for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id, Task.phase_id.is_(None)))
    }
    assert dirty_pairs() == {(plan.id, owner) for owner in owners} and dirty() == set()


def _normalised(rows) -> dict:
    out = {}
    for row in rows:
        figures = tuple(round(float(v or 0), 6) for v in row[2:])
        if figures[0] == 0:
            assert not any(figures), f"a row with no items but figures: {row}"
            continue
        out[(row[0], row[1])] = figures
    return out


VIEWS = [
    ("children", "NHC", "section"),
    ("children", "NHC", "phase"),
    ("children", "NHC", None),
    ("children", "P11", "section"),
    ("children", "P44", "phase"),
    ("self", "NHC", "plan"),
    ("self", "P11", "phase"),
    ("all", None, "phase"),
    ("all", None, "section"),
]


def assert_summary_matches_tasks(plan_id: int, today: date = TODAY) -> None:
    assert summary.ready(today)
    for mode, code, key in VIEWS:
        u = unit(code) if code else None
        for plan_filter in (plan_id, None):
            from_summary = _normalised(figures_by(mode, u, key, today, plan_filter))
            from_tasks = _normalised(figures_by(mode, u, key, today, plan_filter, live=True))
            assert from_summary == from_tasks, (mode, code, key, plan_filter)
    for plan_filter in (plan_id, None):
        daily = {(p, d): (due, done) for p, d, due, done in summary.daily_by(plan_filter, None, today) if due or done}
        live = {(p, d): (due, done) for p, d, due, done in _daily_live(plan_filter, None) if due or done}
        assert daily == live
    root = unit("NHC")
    daily = {(p, d): (due, done) for p, d, due, done in summary.daily_by(None, root, today) if due or done}
    live = {(p, d): (due, done) for p, d, due, done in _daily_live(None, None, unit=root) if due or done}
    assert daily == live


def test_the_summary_equals_the_tasks_through_a_history_of_changes(plan, nhc_coord):
    """Cascades (set-based inserts), status and percent changes, due dates, owners, phases,
    withdrawals and deletions; folds at random moments. After every step the summary (roll-up
    plus the dirty owners' correction) gives what the tasks give."""
    plan, template = plan
    rng = random.Random(7)
    rebuild(TODAY)
    db.session.commit()
    assert_summary_matches_tasks(plan.id)
    cascade = cascade_task(template, nhc_coord, TargetSpec(PROVINCES), {"P11": date(2025, 6, 15)})
    db.session.commit()
    assert_summary_matches_tasks(plan.id)
    children = list(db.session.scalars(select(Task).where(Task.parent_id == template.id).order_by(Task.id)))
    units = list(db.session.scalars(select(OrgUnit).where(OrgUnit.path.like(unit("P44").path + "%"))))
    for step in range(40):
        task = rng.choice(children)
        action = rng.choice(["accept", "progress", "due", "owner", "child", "fold", "phase", "return"])
        if action == "accept":
            task.status, task.progress, task.percent = "accepted", 100.0, 100
            task.completed_on = TODAY - timedelta(days=rng.randint(0, 60))
        elif action == "progress":
            task.status, task.percent = "in_progress", rng.randint(1, 99)
            task.progress = float(task.percent)
        elif action == "return":
            task.status, task.completed_on = "returned", None
        elif action == "due":
            task.due_on = TODAY + timedelta(days=rng.randint(-90, 90))
        elif action == "owner":
            task.owner_unit_id = rng.choice(units).id
        elif action == "child":
            sub = Task(
                plan_id=plan.id,
                parent_id=task.id,
                ref=f"{task.ref}.{step}",
                title="下级任务",
                owner_unit_id=task.owner_unit_id,
                due_on=TODAY + timedelta(days=rng.randint(-30, 30)),
                depth=task.depth + 1,
                path="",
            )
            db.session.add(sub)
            db.session.flush()
            sub.path = f"{task.path}{sub.id}/"
        elif action == "phase":
            phase = db.session.scalar(select(Phase).where(Phase.plan_id == plan.id, Phase.key == "startup"))
            phase.end_on = phase.end_on + timedelta(days=rng.choice([-20, 20]))
            task.phase_id = None
        else:
            fold(TODAY)
        db.session.commit()
        assert_summary_matches_tasks(plan.id)
    withdraw_cascade(cascade, nhc_coord, "改由省级自行部署")
    db.session.commit()
    assert_summary_matches_tasks(plan.id)
    assert fold(TODAY) > 0 and dirty() == set()
    db.session.commit()
    assert_summary_matches_tasks(plan.id)


@pytest.fixture
def nhc_coord(make_user):
    return make_user("coordinator", "NHC")


def test_the_pages_read_the_summary_when_it_is_as_of_today(plan, nhc_coord, make_user):
    plan, template = plan
    cascade_task(template, nhc_coord, TargetSpec(PROVINCES), {})
    rebuild(TODAY)
    db.session.commit()
    nhc = unit("NHC")
    leader = make_user("leader", "NHC")
    for call in (
        lambda: unit_matrix(plan, nhc, "sections", TODAY),
        lambda: ranking(nhc, TODAY, plan),
        lambda: phase_summaries(plan, leader, TODAY),
        lambda: leadership_summary(leader, nhc, TODAY),
    ):
        with count_queries() as statements:
            call()
        assert "progress_rollup" in " ".join(statements.sql) or "progress_daily" in " ".join(statements.sql)
    # same figures either way
    assert unit_matrix(plan, nhc, "sections", TODAY).cells == unit_matrix(plan, nhc, "sections", TODAY, live=True).cells
    assert [(r.unit.code, r.figures) for r in ranking(nhc, TODAY, plan)] == [
        (r.unit.code, r.figures) for r in ranking(nhc, TODAY, plan, live=True)
    ]
    assert [(s.figures, s.burnup) for s in phase_summaries(plan, leader, TODAY)] == [
        (s.figures, s.burnup) for s in phase_summaries(plan, leader, TODAY, live=True)
    ]
    # a new day: the summary is not as of it, the pages read the tasks until it is rebuilt
    tomorrow = TODAY + timedelta(days=1)
    assert not summary.ready(tomorrow)
    with count_queries() as statements:
        unit_matrix(plan, nhc, "sections", tomorrow)
    assert "progress_rollup" not in " ".join(statements.sql)
    assert fold(tomorrow) == -1 and summary.ready(tomorrow)  # the scheduler's pass rebuilds it


def test_moving_a_unit_sets_the_summary_aside_until_it_is_rebuilt(plan):
    rebuild(TODAY)
    db.session.commit()
    assert summary.ready(TODAY)
    qc = unit("P11-QC")
    db.session.execute(update(OrgUnit).where(OrgUnit.id == qc.id).values(path=qc.path + "x/"))
    db.session.commit()
    db.session.expire_all()
    assert not summary.ready(TODAY)
    assert db.session.get(ProgressState, 1).as_of is None


def test_the_refresh_command_rebuilds_and_folds(plan, runner):
    result = runner.invoke(args=["progress", "refresh", "--rebuild", "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "rebuilt the progress summary as of 2025-06-30" in result.output
    assert db.session.scalar(
        select(ProgressRollup.items)
        .where(ProgressRollup.unit_id == unit("NHC").id, ProgressRollup.plan_id == plan[0].id)
        .limit(1)
    )
    result = runner.invoke(args=["progress", "refresh", "--today", TODAY.isoformat()])
    assert result.exit_code == 0 and "folded 0 changed owners" in result.output
    bad = runner.invoke(args=["progress", "refresh", "--today", "30/06/2025"])
    assert bad.exit_code != 0 and "is not a date" in bad.output
