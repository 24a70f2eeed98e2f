"""Notifications: the inbox and its badge, the overdue list, rules admin, e-mail digests and the webhook."""

from __future__ import annotations

import email
import email.policy
import json
import re
import socket
import threading
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Escalation, EscalationRule, Notification, Task
from tracker.notifications.delivery import deliver_pending
from tracker.tasks.escalation import escalate

SH = ZoneInfo("Asia/Shanghai")
HX = {"HX-Request": "true"}
DUE = date(2024, 4, 22)


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SH)


def run(moment: datetime):
    with time_machine.travel(moment, tick=False):
        return escalate()


@pytest.fixture
def overdue_task(make_task):
    return make_task("P11-QC", title="提交死亡病例抽查工作计划（测试）", due_on=DUE)


@pytest.fixture
def reporter(make_user):
    user = make_user("reporter", "P11-QC")
    user.email = "bj-qc@example.org"
    user.display_name = "北京质控中心 张三"
    db.session.commit()
    return user


# -- inbox ------------------------------------------------------------------------------------


def test_inbox_badge_and_mark_read(client, auth, reporter, overdue_task, make_user):
    run(at(DUE + timedelta(days=1)))
    auth.login(reporter)
    page = client.get("/notifications").get_data(as_text=True)
    assert "提交死亡病例抽查工作计划（测试）" in page and 'id="inbox-count"' in page
    unread = int(re.search(r'data-unread="(\d+)"', page).group(1))
    assert unread >= 1

    badge = client.get("/notifications/badge", headers=HX)
    assert badge.status_code == 200 and "<html" not in badge.get_data(as_text=True)
    assert f'data-unread="{unread}"' in badge.get_data(as_text=True)
    assert client.get("/notifications/badge").status_code == 302  # no HTMX: to the inbox

    mine = db.session.scalar(
        select(Notification).where(Notification.user_id == reporter.id, Notification.task_id == overdue_task.id)
    )
    response = client.post(f"/notifications/{mine.id}/read", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and f'id="notification-{mine.id}"' in body and 'hx-swap-oob="true"' in body
    assert f'data-unread="{unread - 1}"' in body
    db.session.expire_all()
    assert db.session.get(Notification, mine.id).read_at is not None

    response = client.post("/notifications/read-all")
    assert response.status_code == 303
    assert 'data-unread="0"' in client.get("/notifications").get_data(as_text=True)


def test_one_cannot_mark_another_users_notification(client, auth, reporter, overdue_task, make_user):
    run(at(DUE + timedelta(days=1)))
    mine = db.session.scalar(select(Notification).where(Notification.user_id == reporter.id))
    auth.login(make_user("reporter", "P11-QC"))
    assert client.post(f"/notifications/{mine.id}/read").status_code == 404
    db.session.expire_all()
    assert db.session.get(Notification, mine.id).read_at is None


def test_the_inbox_full_page_and_fragment(client, auth, reporter, overdue_task):
    run(at(DUE + timedelta(days=1)))
    auth.login(reporter)
    full = client.get("/notifications").get_data(as_text=True)
    fragment = client.get("/notifications", headers={**HX, "HX-Target": "inbox-list"}).get_data(as_text=True)
    assert "<html" in full and "<html" not in fragment and "提交死亡病例抽查工作计划（测试）" in fragment


# -- task page, tree marker, overdue list -------------------------------------------------------


def test_task_page_shows_escalation_history_and_the_tree_marks_it(client, auth, make_user):
    task = db.session.scalar(
        select(Task).where(Task.ref.like("%@P11-QC"), Task.title.contains("死亡病例抽查工作计划"), Task.due_on == DUE)
    )
    run(at(DUE + timedelta(days=45)))
    auth.login(make_user("leader", "NHC"))
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="escalation-history"' in page
    assert 'data-level="leadership"' in page and "escalation-skipped" in page
    children = client.get(f"/plans/ncc-qc-2024/children/{task.parent_id}", headers=HX).get_data(as_text=True)
    row = children[children.index(f'id="row-{task.id}"') :]
    assert 'class="badge text-bg-dark escalated" data-level="leadership"' in row[:3000]


def test_the_overdue_list_is_scoped_and_filters_by_unit(client, auth, make_task, make_user):
    bj = make_task("P11-QC", title="北京逾期测试任务", due_on=date(2020, 1, 10))
    sh = make_task("P31-QC", title="上海逾期测试任务", due_on=date(2020, 1, 10))
    run(at(date(2020, 1, 20)))
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/overdue").get_data(as_text=True)
    assert "北京逾期测试任务" in page and "上海逾期测试任务" not in page
    assert 'data-level="parent"' in page
    auth.login(make_user("leader", "NHC"))
    page = client.get("/overdue?unit=P31&escalated=1", headers={**HX, "HX-Target": "results"}).get_data(as_text=True)
    assert "上海逾期测试任务" in page and "北京逾期测试任务" not in page and "<html" not in page
    bad = client.get("/overdue?unit=NOPE")
    assert bad.status_code == 400 and "NOPE" in bad.get_data(as_text=True)
    assert bj.id and sh.id


def test_the_overdue_list_picks_its_unit_by_name_with_the_picker(client, auth, make_task, make_user):
    """The unit filter is the unit picker (search by name), not a code box: a full name typed
    works as its code does, the page shows the chosen unit's name, and a name naming no unit is
    the field's error."""
    make_task("P11-QC", title="北京逾期测试任务", due_on=date(2020, 1, 10))
    make_task("P31-QC", title="上海逾期测试任务", due_on=date(2020, 1, 10))
    run(at(date(2020, 1, 20)))
    auth.login(make_user("leader", "NHC"))
    page = client.get("/overdue", query_string={"unit": "上海市卫生健康委"}).get_data(as_text=True)
    assert "上海逾期测试任务" in page and "北京逾期测试任务" not in page
    assert "data-unit-picker" in page and 'value="上海市卫生健康委"' in page and 'data-code="P31"' in page
    wrong = client.get("/overdue", query_string={"unit": "火星卫生健康委"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and 'aria-invalid="true"' in text and "找不到单位" in text


# -- rules admin ------------------------------------------------------------------------------------


def test_only_an_admin_edits_the_rules_and_bad_rules_are_refused(client, auth, make_user):
    auth.login(make_user("coordinator", "NHC"))
    assert client.get("/admin/escalation-rules").status_code == 403
    auth.login(make_user("admin", "NHC"))
    assert client.get("/admin/escalation-rules").status_code == 200
    form = {
        "reminder_days": "-5",
        "reminder_active": "y",
        "overdue_days": "2",
        "overdue_active": "y",
        "parent_days": "10",
        "parent_active": "y",
        "leadership_days": "40",
        "leadership_active": "y",
    }
    response = client.post("/admin/escalation-rules?plan=ncc-qc-2024", data=form)
    assert response.status_code == 303
    rules = {
        r.level: r.offset_days
        for r in db.session.scalars(select(EscalationRule).where(EscalationRule.plan_id.is_not(None)))
    }
    assert rules == {"reminder": -5, "overdue": 2, "parent": 10, "leadership": 40}
    bad = client.post("/admin/escalation-rules", data={**form, "parent_days": "1"})
    assert bad.status_code == 400 and "invalid-feedback" not in bad.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(EscalationRule).where(EscalationRule.plan_id.is_(None), EscalationRule.level == "parent")
        )
        is None
    )
    missing = client.post("/admin/escalation-rules", data={**form, "overdue_days": "soon"})
    assert missing.status_code == 400 and "invalid-feedback" in missing.get_data(as_text=True)


# -- e-mail ---------------------------------------------------------------------------------------


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_config(app, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", port)
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
    monkeypatch.setitem(app.config, "MAIL_FROM", "tracker@nhc.example")
    monkeypatch.setitem(app.config, "BASE_URL", "http://tracker.example")
    return port


def start_smtp(port: int):
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, collector


def test_one_digest_per_user_in_chinese_over_a_real_smtp_server(smtp_config, reporter, make_task):
    make_task("P11-QC", title="提交死亡病例抽查工作计划（测试）", due_on=DUE)
    make_task("P11-QC", title="上报质控中心名单（测试）", due_on=DUE)
    controller, collector = start_smtp(smtp_config)
    try:
        run(at(DUE + timedelta(days=1)))
        report = deliver_pending(at(DUE + timedelta(days=1)))
    finally:
        controller.stop()
    to_reporter = [m for m in collector.messages if "bj-qc@example.org" in m.rcpt_tos]
    assert len(to_reporter) == 1  # one digest, not one mail per task
    message = email.message_from_bytes(to_reporter[0].content, policy=email.policy.default)
    assert "行动计划督办" in message["Subject"]
    body = message.get_content()
    assert "北京质控中心 张三" in body
    assert "提交死亡病例抽查工作计划（测试）" in body and "上报质控中心名单（测试）" in body
    assert "逾期" in body and "http://tracker.example/tasks/" in body
    assert report.mails_sent >= 1
    states = set(db.session.scalars(select(Notification.email_state).where(Notification.user_id == reporter.id)))
    assert states == {"sent"}


def test_with_the_mail_server_down_nothing_is_lost_and_the_next_run_delivers(smtp_config, reporter, overdue_task):
    run(at(DUE + timedelta(days=1)))
    report = deliver_pending()  # nothing listens on the port
    assert report.mail_failures >= 1 and report.mails_sent == 0
    pending = db.session.scalar(select(Notification).where(Notification.user_id == reporter.id))
    assert pending.email_state == "pending" and pending.email_attempts == 1 and pending.email_error
    controller, collector = start_smtp(smtp_config)
    try:
        run(at(DUE + timedelta(days=2)))  # the next run: nothing new to escalate, but delivers
        deliver_pending()
    finally:
        controller.stop()
    assert [m for m in collector.messages if "bj-qc@example.org" in m.rcpt_tos]
    db.session.refresh(pending)
    assert pending.email_state == "sent"


# -- webhook --------------------------------------------------------------------------------------


class Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        Hook.received.append(json.loads(self.rfile.read(length).decode("utf-8")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"errcode":0}')

    def log_message(self, *args):
        pass


def test_the_webhook_posts_robot_markdown_and_retries_after_a_failure(app, monkeypatch, overdue_task):
    port = free_port()
    monkeypatch.setitem(app.config, "WEBHOOK_URL", f"http://127.0.0.1:{port}/robot/send?key=test")
    monkeypatch.setitem(app.config, "SMTP_TIMEOUT", 3)
    run(at(DUE + timedelta(days=1)))
    failed = deliver_pending()
    assert failed.webhook_failures == 1
    assert (
        db.session.scalar(
            select(Escalation.webhook_state).where(Escalation.task_id == overdue_task.id, Escalation.state == "fired")
        )
        == "pending"
    )

    Hook.received = []
    server = HTTPServer(("127.0.0.1", port), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        delivered = deliver_pending()
    finally:
        server.shutdown()
        server.server_close()
    assert delivered.webhook_posts >= 1 and Hook.received
    message = Hook.received[0]
    assert message["msgtype"] == "markdown" and "行动计划督办" in message["markdown"]["content"]
    assert any("提交死亡病例抽查工作计划（测试）" in m["markdown"]["content"] for m in Hook.received)
    assert (
        db.session.scalar(
            select(Escalation.webhook_state).where(Escalation.task_id == overdue_task.id, Escalation.state == "fired")
        )
        == "sent"
    )
