"""`flask demo generate`: a deterministic data set, refused twice, with real figures."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tracker.demo.generate import PLAN_KEY, SCALES, generate
from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task
from tracker.progress.service import unit_matrix


def _fingerprint():
    return db.session.execute(
        select(Task.ref, Task.status, Task.due_on, Task.completed_on)
        .join(Plan, Plan.id == Task.plan_id).where(Plan.key == PLAN_KEY).order_by(Task.ref)
    ).all()


def test_the_small_data_set_is_deterministic_and_cascaded(app):
    first = generate("small", date(2025, 12, 31), seed=7)
    scale = SCALES["small"]
    units = db.session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.code.like("G-%")))
    assert first.units == units and 2 * 2 * 3 <= units <= 2 * (2 + 2 * 3)
    duties = scale.sections * scale.duties_per_section
    assert first.tasks == scale.sections + duties + duties * units
    fingerprint = _fingerprint()
    statuses = {row.status for row in fingerprint}
    assert {"accepted", "not_started"} <= statuses
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN_KEY))
    matrix = unit_matrix(plan, db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC")), "phases", date(2025, 12, 31))
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
