"""A rig for delivery fault tests: a committed PostgreSQL (or SQLite) database with escalations
due, a loopback SMTP server (aiosmtpd) and webhook receiver that count what arrives, and
`flask escalate` run as separate processes."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
NOW_TEXT = "2024-05-30T08:00"  # Asia/Shanghai: plan 001 has tasks overdue at every level
PORTS = range(52000, 52100)  # issue 20's ports
TASK_LINK = re.compile(r"/tasks/(\d+)")
UNIT_LINK = re.compile(r"/overdue\?unit=([\w-]+)")  # a leader's notice of one unit's tasks


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 52000-52099")


def seed_database(url: str, tasks: int = 160) -> None:
    """Units, plan 001, `tasks` more overdue tasks spread over the provincial QC centres and
    commissions, and users with e-mail in each of those units; committed."""
    from sqlalchemy.orm import scoped_session, sessionmaker

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.extensions import db
    from tracker.importer.seed import load_seed_files
    from tracker.models import OrgUnit, Plan, Task

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        original = db.session
        db.session = scoped_session(sessionmaker(bind=db.engine))
        try:
            db.create_all()
            load_seed_files([ROOT / "seed_plans" / "units.yaml", ROOT / "seed_plans" / "001_ncc_qc_2024.yaml"])
            units = [
                u
                for u in db.session.scalars(db.select(OrgUnit).order_by(OrgUnit.id))
                if re.fullmatch(r"P\d+(-QC)?", u.code)
            ]
            codes = [u.code for u in units]
            plan = Plan(
                key="fault-plan",
                title="故障测试计划",
                issuer_unit=db.session.scalar(db.select(OrgUnit).where(OrgUnit.code == "NHC")),
            )
            db.session.add(plan)
            made = [
                Task(
                    plan=plan,
                    ref=f"F-{n}",
                    title=f"故障测试任务 {n}",
                    owner_unit=units[n % len(units)],
                    depth=0,
                    due_on=date(2024, 5, 1) + timedelta(days=n % 28),
                )
                for n in range(tasks)
            ]
            db.session.add_all(made)
            db.session.flush()
            for task in made:
                task.path = f"/{task.id}/"
            for code in codes:
                role = "reporter" if code.endswith("-QC") else "coordinator"
                create_user(
                    f"u-{code}",
                    "password-123",
                    role,
                    code,
                    display_name=f"用户 {code}",
                    email=f"{code.lower()}@example.org",
                )
            create_user("leader-nhc", "password-123", "leader", "NHC", email="leader@example.org")
            db.session.commit()
        finally:
            db.session.remove()
            db.session = original
            db.engine.dispose()


# -- receivers --------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server accepted: (Message-ID, recipient, task ids and "unit:CODE" of the
    overdue lists linked in the body)."""

    delay: float = 0.0
    hang_first: int = 0  # the first messages are read, recorded, and then not answered for hang_seconds
    hang_seconds: float = 0.0
    messages: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_content()
        tasks = sorted({int(t) for t in TASK_LINK.findall(body)})
        tasks += sorted({f"unit:{code}" for code in UNIT_LINK.findall(body)})
        self.messages.append((message["Message-ID"], tuple(envelope.rcpt_tos), tasks, body))
        if len(self.messages) <= self.hang_first:
            await asyncio.sleep(self.hang_seconds)
        elif self.delay:
            await asyncio.sleep(self.delay)
        return "250 OK"

    def items(self) -> Counter:
        """(recipient, task id) -> how often it arrived."""
        return Counter((rcpt, task) for _key, rcpts, tasks, _body in self.messages for rcpt in rcpts for task in tasks)

    def keys(self) -> Counter:
        return Counter(key for key, *_rest in self.messages)

    def items_deduplicated(self) -> Counter:
        """What a mail system that drops repeated Message-IDs keeps."""
        seen, kept = set(), Counter()
        for key, rcpts, tasks, _body in self.messages:
            if key not in seen:
                seen.add(key)
                kept.update((rcpt, task) for rcpt in rcpts for task in tasks)
        return kept


class SMTPServer:
    def __init__(self, delay: float = 0.0, hang_first: int = 0, hang_seconds: float = 0.0):
        self.port = free_port()
        self.mailbox = Mailbox(delay=delay, hang_first=hang_first, hang_seconds=hang_seconds)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


@dataclass
class Post:
    key: str
    item_keys: list[str]
    content: str


class WebhookServer:
    """Records every post that was read in full. `hang_first` posts are read, recorded, and then
    left without an answer for `hang_seconds` (the sender times out after the receiver read it)."""

    def __init__(self, delay: float = 0.0, hang_first: int = 0, hang_seconds: float = 0.0):
        self.port = free_port()
        self.posts: list[Post] = []
        self.delay, self.hang_first, self.hang_seconds = delay, hang_first, hang_seconds
        self.lock = threading.Lock()
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8"))
                with rig.lock:
                    rig.posts.append(
                        Post(
                            self.headers.get("Idempotency-Key", ""),
                            [k for k in self.headers.get("X-Tracker-Item-Keys", "").split(",") if k],
                            body["markdown"]["content"],
                        )
                    )
                    hang = len(rig.posts) <= rig.hang_first
                if hang:
                    time.sleep(rig.hang_seconds)
                    return  # no answer
                if rig.delay:
                    time.sleep(rig.delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode":0}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.port}/robot/send?key=test"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def items(self) -> Counter:
        return Counter(k for post in self.posts for k in post.item_keys)

    def tasks(self) -> Counter:
        """Task ids linked in the posts' lines (one line per item)."""
        return Counter(int(t) for post in self.posts for t in TASK_LINK.findall(post.content))

    def items_deduplicated(self) -> Counter:
        """What a receiver that drops repeats of an Idempotency-Key keeps."""
        seen, kept = set(), Counter()
        for post in self.posts:
            if post.key not in seen:
                seen.add(post.key)
                kept.update(post.item_keys)
        return kept


@dataclass
class SignedPost:
    headers: dict
    body: bytes

    @property
    def key(self) -> str:
        return self.headers.get("Idempotency-Key", "")

    def events(self) -> list[dict]:
        return json.loads(self.body)["events"]


class JsonWebhookServer:
    """A receiver of the API's webhooks: records every post read in full, raw body and headers;
    answers `fail_first` posts with 500 (after reading them), the rest with 204."""

    def __init__(self, fail_first: int = 0):
        self.port = free_port()
        self.posts: list[SignedPost] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        rig = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with rig.lock:
                    rig.posts.append(SignedPost(dict(self.headers.items()), body))
                    fail = len(rig.posts) <= rig.fail_first
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.port}/hooks/tracker"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# -- processes --------------------------------------------------------------------------------------


def job_env(
    url: str, tmp_path: Path, smtp: SMTPServer | None = None, hook: WebhookServer | None = None, **extra
) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "WEBHOOK_", "REDIS_", "DATABASE_"))}
    env.update(
        DATABASE_URL=url,
        INSTANCE_DIR=str(tmp_path / "instance"),
        SECRET_KEY="delivery-test",
        PROGRESS_CACHE_DIR="",
        BASE_URL="http://tracker.example",
        MAIL_FROM="tracker@nhc.example",
        SMTP_TIMEOUT="3",
        PYTHONPATH=str(ROOT),
    )
    if smtp is not None:
        env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp.port))
    if hook is not None:
        env["WEBHOOK_URL"] = hook.url
    env.update({k: str(v) for k, v in extra.items()})
    return env


def flask_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("flask")), "--app", "app", *args]


def start_escalations(count: int, env: dict) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            flask_command("escalate", "--now", NOW_TEXT),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def finish(processes: list[subprocess.Popen], timeout: float = 180) -> list[tuple[int, str, str]]:
    results = []
    for process in processes:
        out, err = process.communicate(timeout=timeout)
        results.append((process.returncode, out, err))
    return results


def expected_deliveries(url: str) -> tuple[Counter, Counter]:
    """From the database: (e-mail, task id or "unit:CODE" for a leader's per-unit notice) per
    notification with e-mail, and the webhook item keys
    (escalation ids; a pass escalates a task once, so also task ids: `webhook_tasks`)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            mails = Counter(
                (row[0], int(row[1]) if row[1].isdigit() else row[1])
                for row in conn.execute(
                    text(
                        "SELECT u.email, COALESCE(CAST(n.task_id AS VARCHAR(40)), 'unit:' || g.code)"
                        " FROM notifications n JOIN users u ON u.id = n.user_id"
                        " LEFT JOIN org_units g ON g.id = n.unit_id AND n.task_id IS NULL"
                        " WHERE n.email_state <> 'none'"
                    )
                )
            )
            items = Counter(
                f"tracker.escalation.{row[0]}"
                for row in conn.execute(text("SELECT id FROM escalations WHERE webhook_state <> 'none'"))
            )
    finally:
        engine.dispose()
    return mails, items


def webhook_tasks(url: str) -> Counter:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(
                row[0] for row in conn.execute(text("SELECT task_id FROM escalations WHERE webhook_state <> 'none'"))
            )
    finally:
        engine.dispose()


def states(url: str) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "notifications": dict(
                    conn.execute(text("SELECT email_state, count(*) FROM notifications GROUP BY email_state")).all()
                ),
                "escalations": dict(
                    conn.execute(text("SELECT webhook_state, count(*) FROM escalations GROUP BY webhook_state")).all()
                ),
                "messages": dict(
                    conn.execute(text("SELECT state, count(*) FROM delivery_messages GROUP BY state")).all()
                ),
            }
    finally:
        engine.dispose()


def with_application_name(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def cut_connections(url: str, application_name: str) -> int:
    """End every backend of `application_name` (the database cut as the client sees it)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            return len(
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": application_name},
                ).all()
            )
    finally:
        engine.dispose()


def wait_for(condition, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
