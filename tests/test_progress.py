"""Progress roll-ups on a small hand-built tree, with figures computed by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from conftest import count_queries
from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan
from tracker.progress.service import leadership_summary, phase_summaries, ranking, unit_matrix

TODAY = date(2024, 6, 30)
pytestmark = pytest.mark.usefixtures("progress_source")


def unit(code):
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


@pytest.fixture
def plan_tree(make_task):
    """Plan "progress-plan": section 一 (two provinces' work) and section 二 (one national task).

    一.1@P11  weight 2, accepted on 2024-04-20, due 2024-04-30  -> on time, 100
    一.1@P31  weight 1, in progress 50 %, due 2024-04-30        -> overdue by 61 days
    一.2@P11-QC weight 1, accepted 2024-05-10, due 2024-05-01   -> late, 100
    一.2@P31-QC weight 1, not started, due 2024-09-30           -> not yet due
    一.3@P31  cancelled                                          -> left out
    二.1 NHC-MA weight 1, in progress 20 %, no due date
    """
    key = "progress-plan"
    s1 = make_task(None, plan_key=key, ref="一", title="第一部分")
    s2 = make_task(None, plan_key=key, ref="二", title="第二部分")
    plan = db.session.scalar(select(Plan).where(Plan.key == key))
    startup = Phase(
        plan=plan, key="startup", name="启动阶段", start_on=date(2024, 4, 1), end_on=date(2024, 5, 31), position=0
    )
    later = Phase(
        plan=plan, key="later", name="实施阶段", start_on=date(2024, 6, 1), end_on=date(2024, 12, 31), position=1
    )
    db.session.add_all([startup, later])
    db.session.flush()
    t = {}
    t["a"] = make_task(
        "P11",
        plan_key=key,
        parent=s1,
        ref="一.1@P11",
        weight=2,
        status="accepted",
        percent=100,
        progress=100,
        due_on=date(2024, 4, 30),
        completed_on=date(2024, 4, 20),
    )
    t["b"] = make_task(
        "P31",
        plan_key=key,
        parent=s1,
        ref="一.1@P31",
        weight=1,
        status="in_progress",
        percent=50,
        progress=50,
        due_on=date(2024, 4, 30),
    )
    t["c"] = make_task(
        "P11-QC",
        plan_key=key,
        parent=s1,
        ref="一.2@P11-QC",
        status="accepted",
        percent=100,
        progress=100,
        due_on=date(2024, 5, 1),
        completed_on=date(2024, 5, 10),
    )
    t["d"] = make_task(
        "P31-QC",
        plan_key=key,
        parent=s1,
        ref="一.2@P31-QC",
        status="not_started",
        due_on=date(2024, 9, 30),
        phase=later,
    )
    t["e"] = make_task("P31", plan_key=key, parent=s1, ref="一.3@P31", status="cancelled", due_on=date(2024, 4, 1))
    t["f"] = make_task("NHC-MA", plan_key=key, parent=s2, ref="二.1", status="in_progress", percent=20, progress=20)
    db.session.commit()
    return plan, s1, s2, t


def test_the_unit_by_section_matrix_has_the_hand_computed_figures(plan_tree):
    plan, s1, s2, _ = plan_tree
    nhc, p11, p31, nhc_ma = unit("NHC"), unit("P11"), unit("P31"), unit("NHC-MA")
    matrix = unit_matrix(plan, nhc, "sections", TODAY)
    assert [c.ref for c in matrix.columns] == ["一", "二"]
    beijing = matrix.cells[(p11.id, s1.id)]
    assert (beijing.items, beijing.done, beijing.on_time, beijing.late, beijing.overdue) == (2, 2, 1, 1, 0)
    assert beijing.completion == 100.0
    shanghai = matrix.cells[(p31.id, s1.id)]  # P31 (w1, 50 %) + P31-QC (w1, 0 %); the cancelled one left out
    assert (shanghai.items, shanghai.done, shanghai.overdue, shanghai.overdue_days) == (2, 0, 1, 61)
    assert shanghai.completion == 25.0
    assert matrix.cells[(nhc_ma.id, s2.id)].completion == 20.0
    # whole plan: weights 2, 1, 1, 1, 1 with progress 100, 50, 100, 0, 20 -> 370 / 6 = 61.7
    assert matrix.total.items == 5 and matrix.total.completion == 61.7
    # section 一: (2*100 + 50 + 100 + 0) / 5 = 70.0
    assert matrix.column_totals[s1.id].completion == 70.0
    assert {u.code for u in matrix.rows} == {"NHC-MA", "P11", "P31"}


def test_a_province_drills_into_its_own_units(plan_tree):
    plan, s1, _, _ = plan_tree
    p11, p11_qc = unit("P11"), unit("P11-QC")
    matrix = unit_matrix(plan, p11, "sections", TODAY)
    assert [u.code for u in matrix.rows] == ["P11-QC"]
    assert matrix.own_row  # the commission's own task sits in the "本级" row
    assert matrix.cells[(None, s1.id)].items == 1 and matrix.cells[(p11_qc.id, s1.id)].late == 1


def test_phase_summary_counts_by_phase_or_by_due_date(plan_tree, make_user):
    plan, _, _, _ = plan_tree
    leader = make_user("leader", "NHC")
    startup, later = phase_summaries(plan, leader, TODAY)
    # startup (by due date 04-01..05-31): a, b, c (e cancelled); later: d (by phase), f has no date
    assert (
        startup.figures.items,
        startup.figures.done,
        startup.figures.on_time,
        startup.figures.late,
        startup.figures.overdue,
    ) == (3, 2, 1, 1, 1)
    assert startup.figures.completion == round((200 + 50 + 100) / 4, 1)
    assert later.figures.items == 1 and later.figures.overdue == 0
    assert startup.burnup[0] == (date(2024, 4, 7), 0, 0)
    assert startup.burnup[-1] == (date(2024, 5, 31), 3, 2)


def test_the_burn_up_done_line_stops_at_today_and_counts_are_whole_numbers(plan_tree, make_user, client, auth):
    """The scope line runs to the phase's end; the done line to the week holding today (after it
    nothing is done yet, so it is not drawn as flat); both axes of counts step by whole numbers."""
    plan, _, _, _ = plan_tree
    leader = make_user("leader", "NHC")
    startup, _later = phase_summaries(plan, leader, date(2024, 5, 1))
    weeks = {end: done for end, _due, done in startup.burnup}
    assert weeks[date(2024, 5, 5)] is not None  # the week holding 05-01
    assert all(done is None for end, done in weeks.items() if end > date(2024, 5, 5))
    assert startup.burnup[-1][0] == date(2024, 5, 31)  # the scope runs on to the phase's end
    auth.login(leader)
    page = client.get(f"/progress/{plan.key}/phases").get_data(as_text=True)
    assert "minInterval" in page


def test_phase_summary_is_scoped_to_what_the_user_sees(plan_tree, make_user):
    plan, _, _, _ = plan_tree
    beijing = make_user("coordinator", "P11")
    startup, later = phase_summaries(plan, beijing, TODAY)
    assert startup.figures.items == 2 and later.figures.items == 0


def test_ranking_by_on_time_rate_then_days_overdue(plan_tree):
    plan, _, _, _ = plan_tree
    ranked = ranking(unit("NHC"), TODAY, plan)
    codes = [r.unit.code for r in ranked]
    # P11: 1 on time of 2 due (50 %); P31: 0 of 1 due (0 %), 61 days overdue; NHC-MA: nothing due (last)
    assert codes.index("P11") < codes.index("P31") < codes.index("NHC-MA")
    p11 = next(r for r in ranked if r.unit.code == "P11")
    assert p11.figures.on_time_rate == 50.0


def test_leadership_summary(plan_tree, make_user):
    leader = make_user("leader", "NHC")
    summary = leadership_summary(leader, unit("NHC"), TODAY)
    plans = {p.key: f for p, f, _ in summary.plans}
    assert plans["progress-plan"].items == 5
    assert "P31" in [r.unit.code for r in summary.behind]
    assert len(summary.trend) == 12


def test_progress_figures_take_a_fixed_number_of_statements(plan_tree, make_task):
    plan, s1, _, _ = plan_tree
    with count_queries() as small:
        unit_matrix(plan, unit("NHC"), "sections", TODAY)
        ranking(unit("NHC"), TODAY, plan)
    for code in ("P12", "P13", "P14", "P15", "P21", "P22"):
        make_task(code, plan_key="progress-plan", parent=s1, due_on=date(2024, 5, 5))
    with count_queries() as large:
        unit_matrix(plan, unit("NHC"), "sections", TODAY)
        ranking(unit("NHC"), TODAY, plan)
    assert small() == large()


def test_adding_figures_adds_every_field():
    from tracker.progress.service import Figures
    from tracker.progress.summary import FIGURE_FIELDS

    total = Figures()
    total.add(Figures(*range(1, len(FIGURE_FIELDS) + 1)))
    total.add(Figures(*range(1, len(FIGURE_FIELDS) + 1)))
    assert [getattr(total, name) for name in FIGURE_FIELDS] == [2 * i for i in range(1, len(FIGURE_FIELDS) + 1)]
