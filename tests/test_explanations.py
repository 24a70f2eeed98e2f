"""Overdue explanations (逾期说明): asked once, journaled, kept or missed; rates per unit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from tracker.explanations.service import ExplanationError, explain, explanation_rates, needs_explanation
from tracker.extensions import db
from tracker.models import Escalation, JournalEntry, Notification, OrgUnit, OverdueExplanation
from tracker.plans.operations import change_status
from tracker.tasks.escalation import escalate

SH = ZoneInfo("Asia/Shanghai")
DUE = date(2024, 4, 22)
HX = {"HX-Request": "true"}


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=SH)


@pytest.fixture
def late_task(make_task):
    return make_task("P11-QC", title="上交质控工作计划（测试）", due_on=DUE, status="in_progress")


def levels(task) -> list[str]:
    return [
        e.level
        for e in db.session.scalars(
            select(Escalation)
            .where(Escalation.task_id == task.id, Escalation.state == "fired")
            .order_by(Escalation.rank)
        )
    ]


def test_an_overdue_task_asks_its_owner_once_on_the_task_page(client, auth, make_user, late_task):
    reporter = make_user("reporter", "P11-QC")
    with time_machine.travel(at(DUE + timedelta(days=2)), tick=False):
        auth.login(reporter)
        page = client.get(f"/tasks/{late_task.id}").get_data(as_text=True)
        assert 'id="explanation-form"' in page
        bad = client.post(
            f"/tasks/{late_task.id}/explanation",
            headers=HX,
            data={"reason": "other", "detail": "", "committed_on": "2024-05-10"},
        )
        assert bad.status_code == 400 and "原因" in bad.get_data(as_text=True)
        past = client.post(
            f"/tasks/{late_task.id}/explanation",
            headers=HX,
            data={"reason": "staff_or_funds", "committed_on": "2024-04-01"},
        )
        assert past.status_code == 400
        assert db.session.scalar(select(OverdueExplanation).where(OverdueExplanation.task_id == late_task.id)) is None
        ok = client.post(
            f"/tasks/{late_task.id}/explanation",
            headers=HX,
            data={"reason": "staff_or_funds", "detail": "质控人员借调", "committed_on": "2024-05-10"},
        )
        body = ok.get_data(as_text=True)
        assert ok.status_code == 200 and 'id="explanation"' in body and 'id="explanation-form"' not in body
        again = client.post(
            f"/tasks/{late_task.id}/explanation",
            headers=HX,
            data={"reason": "other", "detail": "x", "committed_on": "2024-06-10"},
        )
        assert again.status_code == 400  # asked once: the committed date stands
    entry = db.session.scalar(
        select(JournalEntry).where(JournalEntry.task_id == late_task.id, JournalEntry.action == "explanation")
    )
    assert entry.new_value == "2024-05-10" and "质控人员借调" in entry.comment and entry.user_id == reporter.id


def test_a_leader_or_another_unit_cannot_explain(make_user, late_task, app):
    with app.test_request_context():
        for user in (make_user("leader", "NHC"), make_user("reporter", "P31-QC")):
            with pytest.raises(ExplanationError):
                explain(late_task, user, "staff_or_funds", "", date(2024, 5, 10), today=DUE + timedelta(days=2))


def test_a_kept_committed_date_closes_the_matter(make_user, late_task, app):
    reporter, coordinator = make_user("reporter", "P11-QC"), make_user("coordinator", "P11")
    with app.test_request_context():
        explain(late_task, reporter, "data_not_ready", "", date(2024, 5, 10), today=DUE + timedelta(days=2))
        db.session.commit()
        with time_machine.travel(at(date(2024, 5, 8)), tick=False):
            change_status(late_task, reporter, "submitted")
            change_status(late_task, coordinator, "accepted")
            db.session.commit()
    explanation = db.session.scalar(select(OverdueExplanation).where(OverdueExplanation.task_id == late_task.id))
    assert explanation.state == "kept"
    with time_machine.travel(at(date(2024, 5, 20)), tick=False):
        escalate()
    assert levels(late_task) == []  # accepted: nothing escalates, not even the missed-date rule


def test_a_missed_committed_date_escalates_one_level_at_once(make_user, late_task, app):
    reporter, coordinator = make_user("reporter", "P11-QC"), make_user("coordinator", "P11")
    with time_machine.travel(at(DUE + timedelta(days=1)), tick=False):
        escalate()
    assert levels(late_task) == ["overdue"]
    with app.test_request_context():
        explain(late_task, reporter, "depends_on_others", "", DUE + timedelta(days=4), today=DUE + timedelta(days=2))
    db.session.commit()
    with time_machine.travel(at(DUE + timedelta(days=5)), tick=False):  # committed date passed; only 5 days late
        escalate()
    assert levels(late_task) == ["overdue", "parent"]
    notified = db.session.scalar(
        select(Notification).where(Notification.user_id == coordinator.id, Notification.task_id == late_task.id)
    )
    assert notified is not None and notified.level == "parent"
    state = db.session.scalar(select(OverdueExplanation.state).where(OverdueExplanation.task_id == late_task.id))
    assert state == "missed"
    with time_machine.travel(at(DUE + timedelta(days=6)), tick=False):
        escalate()
    assert levels(late_task) == ["overdue", "parent"]  # once


def test_explanation_rates_per_unit_on_a_hand_built_case(make_task, make_user, app):
    reporter = make_user("reporter", "P11-QC")
    today = date(2020, 3, 1)
    tasks = [make_task("P11-QC", due_on=date(2020, 2, 1), status="in_progress") for _ in range(4)]
    make_task("P31-QC", due_on=date(2020, 2, 1), status="in_progress")
    with app.test_request_context():
        explain(tasks[0], reporter, "staff_or_funds", "", date(2020, 3, 10), today=date(2020, 2, 5))
        explain(tasks[1], reporter, "staff_or_funds", "", date(2020, 3, 10), today=date(2020, 2, 5))
        kept = explain(tasks[2], reporter, "staff_or_funds", "", date(2020, 2, 20), today=date(2020, 2, 5))
    kept.state, kept.resolved_on = "kept", date(2020, 2, 18)
    tasks[2].status = "accepted"
    db.session.commit()
    nhc = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC"))
    rows = {r.unit.code: r for r in explanation_rates(nhc, today)}
    beijing = rows["P11"]
    # P11 (with its seeded tasks): our three open overdue tasks, two explained; one commitment come, kept
    assert beijing.explained == 2 and beijing.committed_due == 1 and beijing.kept == 1 and beijing.kept_rate == 100.0
    assert beijing.overdue >= 3
    assert rows["P31"].explained == 0


def test_the_overdue_list_shows_the_explanation(client, auth, make_user, late_task, app):
    reporter = make_user("reporter", "P11-QC")
    with app.test_request_context():
        explain(late_task, reporter, "staff_or_funds", "", date.today() + timedelta(days=10))
    db.session.commit()
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/overdue?unit=P11-QC").get_data(as_text=True)
    row = page[page.index("上交质控工作计划（测试）") :]
    assert 'data-explained="open"' in row[: row.index("</tr>")]
    assert needs_explanation(late_task) is False
    auth.login(make_user("leader", "NHC"))
    assert client.get("/explanations").status_code == 200
