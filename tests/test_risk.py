"""Deadline risk on hand-built histories: on track, late, stalled."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan
from tracker.progress.risk import HIGH, LOW, MEDIUM, assess, unit_phase_risks

TODAY = date(2024, 6, 1)
pytestmark = pytest.mark.usefixtures("progress_source")


def test_on_track_late_and_stalled_by_the_rule(app):
    on_track = assess(items=30, open_items=6, done_recently=8, weeks_left=4)  # 2/week x 4 = 8 >= 7.2
    assert on_track.level == LOW and not on_track.at_risk
    late = assess(items=30, open_items=12, done_recently=4, weeks_left=3)  # 1/week x 3 = 3 < 9.6
    assert late.level == HIGH
    with app.test_request_context():
        assert late.reason == "30 项任务中 12 项未完成，近 4 周完成 4 项，剩余 3 周"
    stalled = assess(items=10, open_items=10, done_recently=0, weeks_left=8)
    assert stalled.level == HIGH
    close = assess(items=20, open_items=10, done_recently=10, weeks_left=4)  # 2.5/week x 4 = 10: 80-120 %
    assert close.level == MEDIUM
    over = assess(items=5, open_items=1, done_recently=3, weeks_left=-1)  # the phase has ended with work open
    assert over.level == HIGH
    assert assess(items=5, open_items=0, done_recently=0, weeks_left=2).level == LOW


def _history(make_task, code: str, plan_key: str, phase: Phase, done_days_ago: list[int], open_count: int):
    for days in done_days_ago:
        make_task(
            code,
            plan_key=plan_key,
            phase=phase,
            due_on=phase.end_on,
            status="accepted",
            percent=100,
            progress=100,
            completed_on=TODAY - timedelta(days=days),
        )
    for _ in range(open_count):
        make_task(code, plan_key=plan_key, phase=phase, due_on=phase.end_on, status="in_progress")


def test_three_provinces_on_hand_built_histories(make_task, app):
    plan_key = "risk-plan"
    make_task(None, plan_key=plan_key, ref="一")
    plan = db.session.scalar(select(Plan).where(Plan.key == plan_key))
    phase = Phase(plan=plan, key="impl", name="实施阶段", start_on=date(2024, 1, 1), end_on=TODAY + timedelta(weeks=4))
    db.session.add(phase)
    db.session.commit()
    _history(make_task, "P11", plan_key, phase, done_days_ago=[1, 3, 5, 8, 10, 12, 15, 20], open_count=4)  # on track
    _history(make_task, "P31", plan_key, phase, done_days_ago=[2, 60, 70], open_count=9)  # late: 1 in 4 weeks
    _history(make_task, "P44", plan_key, phase, done_days_ago=[90, 100], open_count=6)  # stalled: none lately
    nhc = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC"))
    units = {u.code: u.id for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(["P11", "P31", "P44"])))}
    with app.test_request_context():
        risks = unit_phase_risks(plan, nhc, TODAY)
        assert risks[(units["P11"], phase.id)].level == LOW
        late = risks[(units["P31"], phase.id)]
        assert late.level == HIGH and (late.items, late.open, late.done_recently) == (12, 9, 1)
        stalled = risks[(units["P44"], phase.id)]
        assert stalled.level == HIGH and stalled.done_recently == 0
        assert "6" in stalled.reason and "8" in stalled.reason


def test_the_matrix_and_the_leadership_screen_show_risk_markers(client, auth, make_user, make_task, monkeypatch):
    import tracker.progress.routes as routes

    monkeypatch.setattr(routes, "local_today", lambda: TODAY)
    plan_key = "risk-plan-2"
    make_task(None, plan_key=plan_key, ref="一")
    plan = db.session.scalar(select(Plan).where(Plan.key == plan_key))
    phase = Phase(plan=plan, key="impl", name="实施阶段", start_on=date(2024, 1, 1), end_on=TODAY + timedelta(weeks=4))
    db.session.add(phase)
    db.session.commit()
    _history(make_task, "P11", plan_key, phase, done_days_ago=[1, 3, 5, 8, 10, 12, 15, 20], open_count=4)
    # many open items: at the top of the leadership screen's list (the seed plans have risks too)
    _history(make_task, "P44", plan_key, phase, done_days_ago=[90, 100], open_count=80)
    auth.login(make_user("leader", "NHC"))
    matrix = client.get(f"/progress/{plan_key}?by=phases").get_data(as_text=True)
    row = matrix[matrix.index('data-unit="P44"') :]
    assert 'data-risk="high"' in row[: row.index("</tr>")]
    beijing = matrix[matrix.index('data-unit="P11"') :]
    assert "data-risk" not in beijing[: beijing.index("</tr>")]
    leadership = client.get("/leadership").get_data(as_text=True)
    risks = leadership[leadership.index('id="risks"') :]
    assert 'data-unit="P44" data-risk="high"' in risks and "近 4 周完成 0 项" in risks


def test_the_matrix_by_phases_gives_the_risks_the_figures_it_already_has(make_task, app):
    """The route hands its matrix cells to the risk rule: the same risks, one statement fewer."""
    from conftest import count_queries
    from tracker.progress.service import unit_matrix

    plan = make_task("P11", plan_key="risk-cells", ref="1", due_on=TODAY + timedelta(days=10)).plan
    db.session.add(
        Phase(plan=plan, key="impl", name="实施阶段", start_on=date(2024, 1, 1), end_on=TODAY + timedelta(weeks=4))
    )
    db.session.commit()
    nhc = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC"))
    matrix = unit_matrix(plan, nhc, "phases", TODAY)
    with count_queries() as alone:
        expected = unit_phase_risks(plan, nhc, TODAY)
    with count_queries() as shared:
        given = unit_phase_risks(plan, nhc, TODAY, cells=matrix.cells)
    assert given == expected and expected
    assert shared() < alone()


def test_a_phase_that_ended_long_ago_with_open_work_is_at_risk_and_one_all_done_is_not(make_task, app):
    """Phase risk counts every phase that has ended with work open, not only the last few weeks'."""
    plan_key = "risk-old-phase"
    make_task(None, plan_key=plan_key, ref="一")
    plan = db.session.scalar(select(Plan).where(Plan.key == plan_key))
    ended = Phase(plan=plan, key="early", name="启动阶段", start_on=date(2023, 1, 1), end_on=date(2023, 6, 30))
    done = Phase(plan=plan, key="mid", name="推进阶段", start_on=date(2023, 7, 1), end_on=date(2023, 12, 31))
    db.session.add_all([ended, done])
    db.session.commit()
    _history(make_task, "P31", plan_key, ended, done_days_ago=[400], open_count=2)  # 11 months after the end
    _history(make_task, "P31", plan_key, done, done_days_ago=[200, 210], open_count=0)
    nhc = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC"))
    shanghai = db.session.scalar(select(OrgUnit.id).where(OrgUnit.code == "P31"))
    with app.test_request_context():
        risks = unit_phase_risks(plan, nhc, TODAY)
    assert risks[(shanghai, ended.id)].level == HIGH and risks[(shanghai, ended.id)].open == 2
    assert not risks[(shanghai, done.id)].at_risk
