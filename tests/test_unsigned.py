"""签收 reminders: a task not signed for within N days (default 3) reminds the owner unit's users;
after 2N days the parent unit's coordinators too; once per assignment and recipient; signing
stops it; the rule is set on the escalation rules page."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import EscalationRule, Notification
from tracker.supervision.service import sign_task
from tracker.tasks.escalation import escalate

ASSIGNED = datetime(2026, 11, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def people(make_user):
    return {
        "reporter": make_user("reporter", "P11-QC"),
        "qc_coordinator": make_user("coordinator", "P11-QC"),
        "province": make_user("coordinator", "P11"),
        "province_reporter": make_user("reporter", "P11"),
        "elsewhere": make_user("coordinator", "P12-QC"),
        "leader": make_user("leader", "NHC"),
    }


@pytest.fixture
def given(make_task, people):
    """A task due far ahead (no overdue escalation) given to P11-QC and not yet signed for."""
    task = make_task(
        "P11-QC", title="制定抽查工作计划", status="not_started", due_on=ASSIGNED.date() + timedelta(days=90)
    )
    task.assigned_at = ASSIGNED
    db.session.commit()
    return task


def reminders(task) -> dict[int, str]:
    """user id -> level of their 签收 reminder about `task`."""
    rows = db.session.execute(
        select(Notification.user_id, Notification.level).where(
            Notification.kind == "unsigned", Notification.task_id == task.id
        )
    )
    return dict(rows.all())


def ids(people, *names):
    return {people[name].id for name in names}


def test_nothing_before_n_days_then_the_owner_unit_once_then_the_parent_after_twice_as_long(given, people):
    assert escalate(ASSIGNED + timedelta(days=2, hours=23)).unsigned == 0
    assert reminders(given) == {}

    report = escalate(ASSIGNED + timedelta(days=3, hours=1))
    assert report.unsigned == 2
    assert set(reminders(given)) == ids(people, "reporter", "qc_coordinator")
    assert set(reminders(given).values()) == {"overdue"}
    assert escalate(ASSIGNED + timedelta(days=4)).unsigned == 0  # nobody twice

    climbed = escalate(ASSIGNED + timedelta(days=6, hours=1))
    told = reminders(given)
    assert set(told) == ids(people, "reporter", "qc_coordinator", "province")
    assert set(told.values()) == {"parent"}  # the owners' notices climbed in place, unread again
    assert climbed.unsigned == 3
    assert escalate(ASSIGNED + timedelta(days=9)).unsigned == 0
    rows = Counter(
        db.session.scalars(
            select(Notification.user_id).where(Notification.kind == "unsigned", Notification.task_id == given.id)
        )
    )
    assert max(rows.values()) == 1


def test_a_first_pass_long_after_tells_everyone_once_at_the_higher_level(given, people):
    report = escalate(ASSIGNED + timedelta(days=30))
    assert report.unsigned == 3
    assert reminders(given) == dict.fromkeys(ids(people, "reporter", "qc_coordinator", "province"), "parent")
    assert escalate(ASSIGNED + timedelta(days=31)).unsigned == 0


def test_signing_stops_the_reminders_and_a_new_assignment_starts_again(given, people):
    sign_task(given, people["reporter"], now=ASSIGNED + timedelta(days=1))
    db.session.commit()
    assert escalate(ASSIGNED + timedelta(days=10)).unsigned == 0
    assert reminders(given) == {}

    again = ASSIGNED + timedelta(days=20)
    given.assigned_at, given.signed_at, given.signed_by_id = again, None, None
    db.session.commit()
    assert escalate(again + timedelta(days=3, hours=1)).unsigned == 2


def test_the_responsible_person_is_reminded_too(given, people):
    given.responsible_user_id = people["province_reporter"].id
    db.session.commit()
    escalate(ASSIGNED + timedelta(days=3, hours=1))
    assert people["province_reporter"].id in reminders(given)


def test_the_rule_sets_the_days_and_can_be_switched_off(given, people):
    db.session.add(EscalationRule(plan_id=None, level="unsigned", offset_days=5, active=True))
    db.session.commit()
    assert escalate(ASSIGNED + timedelta(days=4, hours=1)).unsigned == 0
    assert escalate(ASSIGNED + timedelta(days=5, hours=1)).unsigned == 2
    rule = db.session.scalar(select(EscalationRule).where(EscalationRule.level == "unsigned"))
    rule.active = False
    db.session.commit()
    assert escalate(ASSIGNED + timedelta(days=20)).unsigned == 0


def test_the_rules_page_saves_the_sign_for_days_and_refuses_zero_beside_the_field(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    page = client.get("/admin/escalation-rules")
    assert page.status_code == 200 and 'name="unsigned_days"' in page.text
    form = {
        "reminder_days": -3,
        "reminder_active": "y",
        "overdue_days": 1,
        "overdue_active": "y",
        "parent_days": 7,
        "parent_active": "y",
        "leadership_days": 30,
        "leadership_active": "y",
        "unsigned_active": "y",
    }
    bad = client.post("/admin/escalation-rules", data={**form, "unsigned_days": 0})
    assert bad.status_code == 400 and "invalid-feedback" in bad.text
    assert db.session.scalar(select(EscalationRule).where(EscalationRule.level == "unsigned")) is None
    good = client.post("/admin/escalation-rules", data={**form, "unsigned_days": 4})
    assert good.status_code == 303
    rule = db.session.scalar(select(EscalationRule).where(EscalationRule.level == "unsigned"))
    assert (rule.offset_days, rule.active) == (4, True)


def test_the_reminder_reaches_the_digest_named_as_a_sign_for_reminder(app, monkeypatch, given, people):
    from tracker.models import DeliveryMessage
    from tracker.notifications import delivery

    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    people["reporter"].email = "rep@example.org"
    db.session.commit()
    escalate(ASSIGNED + timedelta(days=3, hours=1))
    delivery.compose_digests()
    message = db.session.scalar(select(DeliveryMessage).where(DeliveryMessage.user_id == people["reporter"].id))
    items = delivery._digest_items(message.id)
    body = delivery.build_digest("rep@example.org", "rep", items, ASSIGNED).get_content()
    assert f"/tasks/{given.id}" in body and "[待签收]" in body
    assert "#explanation-form" not in body  # not asked to explain a delay it does not have


def test_the_ranking_and_leadership_pages_show_each_units_sign_for_rate_and_median_time(
    client, auth, make_user, make_task
):
    """P11's subtree: 2 given, 1 signed after 4 h; P12's: 1 given, signed after 2 days."""
    from tracker.progress.service import ranking
    from tracker.timeutil import local_today
    from tests.conftest import unit

    due = ASSIGNED.date() - timedelta(days=1)  # due so far: both units are ranked
    rows = [("P11-QC", timedelta(hours=4)), ("P11-QC", None), ("P12-QC", timedelta(days=2))]
    for code, after in rows:
        task = make_task(code, due_on=due, status="in_progress")
        task.assigned_at = ASSIGNED
        task.signed_at = ASSIGNED + after if after is not None else None
    make_task("P13-QC", due_on=due, status="in_progress")  # never given by a cascade: not counted
    db.session.commit()
    ranked = {r.unit.code: r.sign_for for r in ranking(unit("NHC"), local_today())}
    assert (ranked["P11"].assigned, ranked["P11"].signed, ranked["P11"].rate) == (2, 1, 50.0)
    assert ranked["P11"].median_hours == pytest.approx(4.0, abs=0.01)
    assert ranked["P12"].median_text == "2.0 d" and ranked["P12"].rate == 100.0
    assert ranked.get("P13") is None or ranked["P13"].assigned == 0

    auth.login(make_user("leader", "NHC"))
    page = client.get("/ranking?unit=NHC").text
    assert "签收" in page and "50.0" in page and "4.0 h" in page
    assert client.get("/ranking.csv?unit=NHC").status_code == 200


def test_signing_shows_on_the_cached_ranking_page_at_once(client, auth, make_user, make_task, people):
    due = ASSIGNED.date() - timedelta(days=1)
    task = make_task("P11-QC", due_on=due, status="in_progress")
    task.assigned_at = ASSIGNED
    db.session.commit()
    auth.login(people["leader"])
    before = client.get("/ranking?unit=NHC").text
    assert "0.0" in before.split('data-unit="P11"')[1].split("</tr>")[0]
    sign_task(task, people["reporter"])
    db.session.commit()
    row = client.get("/ranking?unit=NHC").text.split('data-unit="P11"')[1].split("</tr>")[0]
    assert "100.0" in row
