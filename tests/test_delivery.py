"""Delivery messages: composed once, keyed by their items, claimed by one deliverer at a time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select, update

from tracker.extensions import db
from tracker.models import DeliveryMessage, Escalation, Notification
from tracker.notifications import delivery
from tracker.tasks.escalation import escalate

DUE = date(2024, 4, 22)
MOMENT = datetime(2024, 4, 23, 8, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def pending(app, monkeypatch, make_task, make_user):
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "WEBHOOK_URL", "http://127.0.0.1:9/none")
    for code in ("P11-QC", "P31-QC"):
        user = make_user("reporter", code)
        user.email = f"{code.lower()}@example.org"
        for n in range(3):
            make_task(code, title=f"任务 {code} {n}", due_on=DUE)
    for n in range(25):
        make_task("P44-QC", title=f"任务 P44 {n}", due_on=DUE)
    db.session.commit()
    with time_machine.travel(MOMENT, tick=False):
        escalate()


def test_pending_items_are_composed_into_messages_once(pending):
    assert delivery.compose_digests() == 2  # one digest per user with e-mail
    items = len(db.session.scalars(select(Escalation.id).where(Escalation.webhook_state == "pending")).all())
    assert items >= 31
    assert delivery.compose_webhook_posts() == -(-items // delivery.WEBHOOK_BATCH)  # 20 items a post
    assert delivery.compose_digests() == 0 and delivery.compose_webhook_posts() == 0
    digests = db.session.scalars(select(DeliveryMessage).where(DeliveryMessage.channel == "email")).all()
    for message in digests:
        ids = list(db.session.scalars(select(Notification.id).where(Notification.email_message_id == message.id)))
        assert message.items == len(ids) >= 3
        assert message.key == delivery.message_key("digest", ids, message.user_id)  # derived from the notice ids
    assert (
        db.session.scalar(
            select(Escalation.id).where(Escalation.webhook_state == "pending", Escalation.webhook_message_id.is_(None))
        )
        is None
    )


def test_the_key_depends_on_the_items_only():
    assert delivery.message_key("webhook", [3, 1, 2]) == delivery.message_key("webhook", [1, 2, 3])
    assert delivery.message_key("webhook", [1, 2, 3]) != delivery.message_key("webhook", [1, 2, 4])
    assert delivery.message_key("digest", [1, 2], 7) != delivery.message_key("digest", [1, 2], 8)


def test_a_claimed_message_is_not_claimed_again_until_its_lease_runs_out(pending, app):
    if db.engine.dialect.name == "postgresql":
        pytest.skip("on PostgreSQL the claim is a row lock (tests/test_delivery_faults.py, other processes)")
    delivery.compose_webhook_posts()
    first = delivery.claim_next("webhook")
    assert first.token and db.session.get(DeliveryMessage, first.id).state == "sending"
    others = []
    while (claim := delivery.claim_next("webhook")) is not None:
        others.append(claim.id)
    assert others and first.id not in others  # the next ones, never the claimed one twice
    assert len(set(others)) == len(others)
    # a deliverer died holding `first`: after the lease another may take it, under the same key
    old = datetime.now(timezone.utc) - timedelta(seconds=app.config["DELIVERY_LEASE_SECONDS"] + 1)
    db.session.execute(update(DeliveryMessage).where(DeliveryMessage.id == first.id).values(claimed_at=old))
    db.session.commit()
    taken = delivery.claim_next("webhook")
    assert (taken.id, taken.key) == (first.id, first.key) and taken.token != first.token
    assert delivery.mark_sent("webhook", first) is False  # the first holder's late mark changes nothing
    assert delivery.mark_sent("webhook", taken) is True
    assert set(
        db.session.scalars(select(Escalation.webhook_state).where(Escalation.webhook_message_id == first.id))
    ) == {"sent"}


def test_a_failed_message_goes_back_to_pending_with_its_key(pending):
    delivery.compose_webhook_posts()
    claim = delivery.claim_next("webhook")
    delivery.mark_failed("webhook", claim, "timed out")
    message = db.session.get(DeliveryMessage, claim.id)
    db.session.refresh(message)
    assert (message.state, message.key, message.attempts, message.error) == ("pending", claim.key, 1, "timed out")
    again = delivery.claim_next("webhook")
    assert (again.id, again.key) == (claim.id, claim.key)


def test_a_leaders_digest_names_each_units_overdue_tasks_and_links_its_overdue_list(
    app, monkeypatch, make_task, make_user
):
    """Leaders' notices are per unit and day, not per task: the digest must carry them (an inner
    join on the task once dropped them, so a leader's mail said nothing)."""
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    leader = make_user("leader", "NHC")
    leader.email = "leader@example.org"
    for n in range(4):
        make_task("P44-QC", title=f"任务 P44 {n}", due_on=DUE)
    db.session.commit()
    with time_machine.travel(MOMENT + timedelta(days=60), tick=False):
        escalate()
    assert delivery.compose_digests() >= 1
    message = db.session.scalar(
        select(DeliveryMessage).where(DeliveryMessage.channel == "email", DeliveryMessage.user_id == leader.id)
    )
    items = delivery._digest_items(message.id)
    [p44] = [item for item in items if item.task_id is None and item.unit_code == "P44"]
    assert p44.item_count >= 4 and p44.unit_name
    body = delivery.build_digest(leader.email, leader.username, items, MOMENT).get_content()
    assert "/overdue?unit=P44" in body and "项逾期任务已上报领导" in body
