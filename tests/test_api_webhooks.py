"""Webhooks out: an admin registers an address for task events (status changed, overdue,
escalated); the existing deliverer (tracker/notifications/delivery.py) posts them as JSON to a
real receiver on loopback, signed with the webhook's secret (shown once), under a key that stays
the same on a retry; each event once, and only the events the webhook asked for."""

# ruff: noqa: F811  (the api_as fixture is imported from tests/api_support.py)
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.api_support import api_as  # noqa: F401
from tests.delivery_rig import JsonWebhookServer
from tracker.api import webhooks
from tracker.extensions import db
from tracker.models import DeliveryMessage, Webhook, WebhookDelivery
from tracker.notifications.delivery import deliver_pending
from tracker.tasks.escalation import escalate

DUE = date(2024, 4, 22)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _verifies(secret: str, post) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), post.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(post.headers["X-Tracker-Signature"], expected)


def _register_on_the_page(client, auth, make_user, url: str, events: list[str]) -> str:
    auth.login(make_user("admin", "NHC"))
    response = client.post("/admin/webhooks", data={"url": url, "events": events})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    found = re.search(r'id="new-webhook-secret" value="(whsec_[A-Za-z0-9_-]+)"', response.get_data(as_text=True))
    assert found, "the secret is shown"
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert found.group(1) not in page, "shown once"
    assert "登记 Webhook" in page and url in page  # the page in Chinese, the default language
    return found.group(1)


@pytest.fixture
def world(app, make_task, make_user, api_as):
    """A task overdue soon, a reporter's API client on it, and a status change from before any
    webhook existed (never sent)."""
    task = make_task("P11-QC", title="推送测试", due_on=DUE)
    other = make_task("P11-QC", title="早先的")
    api = api_as(make_user("reporter", "P11-QC"))
    assert (
        api.post(
            f"/api/v1/tasks/{other.id}/status", json={"target": "in_progress", "version": other.version}
        ).status_code
        == 200
    )
    return task, api


def _events_happen(task, api):
    """A status change through the API, the overdue level, then the parent level (escalated)."""
    response = api.post(f"/api/v1/tasks/{task.id}/status", json={"target": "in_progress", "version": task.version})
    assert response.status_code == 200, response.json
    with time_machine.travel(datetime(2024, 4, 23, 8, tzinfo=SHANGHAI), tick=False):
        escalate()
    with time_machine.travel(datetime(2024, 4, 29, 8, tzinfo=SHANGHAI), tick=False):
        escalate()


def test_each_event_is_posted_once_signed_and_only_to_the_webhooks_that_asked(client, auth, make_user, world):
    task, api = world
    with JsonWebhookServer() as everything, JsonWebhookServer() as statuses:
        all_secret = _register_on_the_page(client, auth, make_user, everything.url, [])
        status_secret = _register_on_the_page(client, auth, make_user, statuses.url, [webhooks.STATUS_CHANGED])
        _events_happen(task, api)
        report = deliver_pending()
        again = deliver_pending()
    assert report.hook_failures == 0 and again.hook_posts == 0
    assert report.hook_posts == len(everything.posts) + len(statuses.posts)
    assert all(_verifies(all_secret, p) and not _verifies(status_secret, p) for p in everything.posts)
    assert all(_verifies(status_secret, p) for p in statuses.posts)
    every = [e for p in everything.posts for e in p.events()]
    keys = [e["key"] for e in every]
    assert len(keys) == len(set(keys)) == report.hook_items - 1, "each event once"
    assert all(len(p.events()) <= 20 for p in everything.posts)
    assert [k for p in everything.posts for k in p.headers["X-Tracker-Item-Keys"].split(",")] == keys
    assert all(p.headers["Idempotency-Key"].startswith("tracker.hook.") for p in everything.posts)
    mine = [e for e in every if e["task"]["id"] == task.id]
    assert [e["event"] for e in mine] == ["task.status_changed", "task.overdue", "task.escalated"]
    assert mine[0]["old"] == "not_started" and mine[0]["new"] == "in_progress"
    assert mine[2]["level"] == "parent" and mine[2]["task"]["owner_unit"]["code"] == "P11-QC"
    assert {e["event"] for e in every} == set(webhooks.EVENTS)
    # the webhook for status changes only: this one change, not the one from before it was registered
    assert [(e["event"], e["task"]["id"]) for p in statuses.posts for e in p.events()] == [
        ("task.status_changed", task.id)
    ]


def _mine(posts, task_id):
    return [e for p in posts for e in p.events() if e["task"]["id"] == task_id]


def test_a_failed_post_is_retried_with_the_same_key_body_and_signature_then_never_again(client, auth, make_user, world):
    task, api = world
    with JsonWebhookServer(fail_first=1) as receiver:
        secret = _register_on_the_page(client, auth, make_user, receiver.url, [])
        _events_happen(task, api)
        failed = deliver_pending()
        assert failed.hook_failures == 1 and failed.hook_posts == 0
        assert db.session.scalar(select(DeliveryMessage.state).where(DeliveryMessage.channel == "hook")) == "pending"
        retried = deliver_pending()
        assert deliver_pending().hook_posts == 0
    first, *rest = receiver.posts
    assert retried.hook_posts == len(rest) and retried.hook_items == failed_items(rest)
    second = rest[0]
    assert first.key == second.key and first.body == second.body
    assert first.headers["X-Tracker-Signature"] == second.headers["X-Tracker-Signature"]
    assert all(_verifies(secret, p) for p in receiver.posts)
    assert len(_mine(rest, task.id)) == 3
    kept = [e["key"] for p in rest for e in p.events()]
    assert len(kept) == len(set(kept)), "each event once after the retry"
    states = db.session.execute(
        select(WebhookDelivery.state, WebhookDelivery.attempts, WebhookDelivery.message_id).order_by(WebhookDelivery.id)
    ).all()
    first_message = states[0][2]
    assert {(s, a) for s, a, m in states if m == first_message} == {("sent", 2)}
    assert {(s, a) for s, a, m in states if m != first_message} <= {("sent", 1)}


def failed_items(posts) -> int:
    return sum(len(p.events()) for p in posts)


def test_new_events_go_in_a_new_post_under_a_new_key(client, auth, make_user, world):
    task, api = world
    with JsonWebhookServer() as receiver:
        _register_on_the_page(client, auth, make_user, receiver.url, [webhooks.STATUS_CHANGED])
        _events_happen(task, api)
        deliver_pending()
        refreshed = api.get(f"/api/v1/tasks/{task.id}").json
        api.post(f"/api/v1/tasks/{task.id}/status", json={"target": "submitted", "version": refreshed["version"]})
        deliver_pending()
    assert len(receiver.posts) == 2 and receiver.posts[0].key != receiver.posts[1].key
    assert [e["new"] for e in _mine(receiver.posts, task.id)] == ["in_progress", "submitted"]


def test_a_removed_webhook_receives_nothing_more(client, auth, make_user, world):
    task, api = world
    with JsonWebhookServer() as receiver:
        _register_on_the_page(client, auth, make_user, receiver.url, [])
        hook = db.session.scalar(select(Webhook))
        assert client.post(f"/admin/webhooks/{hook.id}/remove").status_code == 303
        _events_happen(task, api)
        deliver_pending()
    assert receiver.posts == []


def test_only_admins_register_webhooks_and_bad_addresses_are_refused(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    assert client.get("/admin/webhooks").status_code == 403
    assert client.post("/admin/webhooks", data={"url": "https://example.org/h"}).status_code == 403
    auth.login(make_user("admin", "NHC"))
    for url in ("", "ftp://example.org/x", "javascript:alert(1)", "https://", "https://a b/"):
        response = client.post("/admin/webhooks", data={"url": url})
        assert response.status_code == 422, url
        assert 'id="url-error"' in response.get_data(as_text=True)
    refused = client.post("/admin/webhooks", data={"url": "https://example.org/h", "events": ["task.deleted"]})
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Webhook)) == 0
