"""Two web nodes that share nothing but PostgreSQL, Redis and the object store.

Two gunicorn instances on different ports, each with its own instance folder, upload folder and
page folder, run the app against one PostgreSQL database, one Redis database and one S3-compatible
server (moto's, on loopback). A user signs in on A and acts on B; a file uploaded through A is
downloaded whole through B (and kept on neither machine's disk); a change made through A is seen
on B's progress pages at once; of two scheduler processes, one runs and the other stands by.

Needs PostgreSQL and Redis at 127.0.0.1 (skipped on a developer machine without them, failing in
CI, which starts both).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"  # this test's own database number
PASSWORD = "demo-pass-2026"
SECRET = "two-nodes-shared-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    for port, name in ((5432, "PostgreSQL"), (6379, "Redis")):
        if not _reachable(port):
            if os.environ.get("CI"):
                pytest.fail(f"{name} is not running at 127.0.0.1:{port}")
            pytest.skip(f"no {name} at 127.0.0.1:{port}")
    import psycopg
    import redis
    from moto.server import ThreadedMotoServer

    database = f"two_nodes_{os.getpid()}_{int(time.time())}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    s3_port = _free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    s3.start()
    base = tmp_path_factory.mktemp("two-nodes")
    shared = {
        "DATABASE_URL": f"{PG}/{database}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": SECRET,
        "TRACKER_NODES": "2",
        "STORAGE_BACKEND": "s3",
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "S3_BUCKET": "two-nodes",
        "S3_ACCESS_KEY": "test",
        "S3_SECRET_KEY": "test",
        "S3_REGION": "us-east-1",
        "S3_PATH_STYLE": "1",
        "SCHEDULER_ENABLED": "0",
        "FLASK_APP": "app",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
    }

    def node_env(name: str) -> dict:
        folder = base / name
        env = {
            **os.environ,
            **shared,
            "INSTANCE_DIR": str(folder / "instance"),
            "UPLOAD_DIR": str(folder / "uploads"),
            "PROGRESS_CACHE_DIR": str(folder / "page-cache"),
        }
        env.pop("TEST_DATABASE_URL", None)
        return env

    setup = node_env("setup")
    for command in (
        ["storage", "init"],  # the bucket, as an operator makes it on a new MinIO
        ["db", "upgrade", "heads"],
        ["seed", "load"],
        ["demo", "users"],
        ["progress", "refresh", "--rebuild"],
    ):
        subprocess.run(
            [str(BIN / "flask"), *command], cwd=ROOT, env=setup, check=True, capture_output=True, timeout=300
        )
    nodes, processes = {}, []
    for name in ("a", "b"):
        port = _free_port()
        log = open(base / f"{name}.log", "w")
        processes.append(
            subprocess.Popen(
                [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "60", "app:app"],
                cwd=ROOT,
                env=node_env(name),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        nodes[name] = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 60
    for address in nodes.values():
        while True:
            try:
                if requests.get(f"{address}/login", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "the nodes did not start: "
                    + " / ".join((base / f"{n}.log").read_text(errors="replace")[-2000:] for n in nodes)
                )
            time.sleep(0.3)
    try:
        yield {"nodes": nodes, "env": node_env, "database": f"{PG}/{database}", "base": base}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        s3.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        shutil.rmtree(base, ignore_errors=True)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def _signed_in(address: str, username: str):
    import requests

    browser = requests.Session()
    page = browser.get(f"{address}/login", timeout=10)
    answer = browser.post(
        f"{address}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code in (302, 303), answer.text[:500]
    return browser


def _task_of(database: str, unit_code: str) -> tuple[int, int, str]:
    """A leaf task of the unit that is open, with its version and plan slug."""
    import psycopg

    with psycopg.connect(database.replace("+psycopg", "")) as connection:
        row = connection.execute(
            "SELECT t.id, t.version, p.key FROM tasks t JOIN org_units u ON u.id = t.owner_unit_id "
            "JOIN plans p ON p.id = t.plan_id WHERE u.code = %s AND t.status NOT IN ('accepted', 'cancelled', 'submitted') "
            "AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.id LIMIT 1",
            (unit_code,),
        ).fetchone()
    assert row, f"no open leaf task of {unit_code}"
    return row


def test_signed_in_on_a_the_user_acts_on_b(cluster):
    a, b = cluster["nodes"]["a"], cluster["nodes"]["b"]
    browser = _signed_in(a, "bj_qc")
    home = browser.get(f"{b}/", timeout=10)  # the cookie made by A is good on B
    assert home.status_code == 200 and "/login" not in home.url
    task_id, version, _slug = _task_of(cluster["database"], "P11-QC")
    page = browser.get(f"{a}/tasks/{task_id}", timeout=10)
    assert page.status_code == 200
    # the form (and its CSRF token) from A, posted to B
    answer = browser.post(
        f"{b}/tasks/{task_id}/percent",
        data={"version": version, "percent": 40, "csrf_token": _csrf(page.text)},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]
    assert browser.get(f"{a}/tasks/{task_id}", timeout=10).text.count("40") >= 1


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + "两节点整改报告".encode() * 30_000


def test_a_file_uploaded_on_a_downloads_whole_on_b(cluster):
    import psycopg

    a, b = cluster["nodes"]["a"], cluster["nodes"]["b"]
    task_id, _version, _slug = _task_of(cluster["database"], "P11-QC")
    browser = _signed_in(a, "bj_qc")
    page = browser.get(f"{a}/tasks/{task_id}", timeout=10)
    sent = browser.post(
        f"{a}/tasks/{task_id}/evidence",
        data={"note": "经节点 A 上传", "csrf_token": _csrf(page.text)},
        files={"file": ("整改报告.pdf", PDF, "application/pdf")},
        timeout=30,
        allow_redirects=False,
    )
    assert sent.status_code == 303, sent.text[:500]
    with psycopg.connect(cluster["database"].replace("+psycopg", "")) as connection:
        evidence_id, stored_name = connection.execute(
            "SELECT id, stored_name FROM evidence WHERE task_id = %s ORDER BY id DESC LIMIT 1", (task_id,)
        ).fetchone()
    download = browser.get(f"{b}/evidence/{evidence_id}", timeout=30)
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["Content-Length"] == str(len(PDF))
    for node in ("a", "b"):  # in the object store, on neither machine's disk
        folder = cluster["base"] / node / "uploads"
        assert not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]
    # another province's user, through B: not even told it exists
    other = _signed_in(b, "sh_qc")
    assert other.get(f"{b}/evidence/{evidence_id}", timeout=10).status_code == 404
    assert stored_name not in other.get(f"{b}/evidence/{evidence_id}", timeout=10).text


def test_a_change_through_a_is_on_b_progress_pages_at_once(cluster):
    a, b = cluster["nodes"]["a"], cluster["nodes"]["b"]
    leader = _signed_in(b, "leader")
    task_id, version, slug = _task_of(cluster["database"], "P31-QC")

    def page() -> str:
        answer = leader.get(f"{b}/progress/{slug}", timeout=20)
        assert answer.status_code == 200
        text = answer.text
        return text[text.index('<div id="content">') : text.index("</main>")]

    before = page()
    assert page() == before  # served again (from Redis) unchanged
    reporter = _signed_in(a, "sh_qc")
    form = reporter.get(f"{a}/tasks/{task_id}", timeout=10)
    answer = reporter.post(
        f"{a}/tasks/{task_id}/percent",
        data={"version": version, "percent": 100, "csrf_token": _csrf(form.text)},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text[:500]
    assert page() != before, "B served the page of before the change"


def test_of_two_schedulers_one_runs_and_the_other_stands_by(cluster):
    env = cluster["env"]("scheduler")
    logs = [cluster["base"] / f"scheduler-{n}.log" for n in (1, 2)]
    processes = [
        subprocess.Popen(
            [str(BIN / "flask"), "scheduler", "run"], cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT
        )
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            texts = [log.read_text(errors="replace") for log in logs]
            running = sum("scheduler running" in text for text in texts)
            waiting = sum("standing by" in text for text in texts)
            if running + waiting == 2:
                break
            time.sleep(0.3)
        assert (running, waiting) == (1, 1), texts
        # the one running stops: the standby takes over on its next try
        holder = next(p for p, text in zip(processes, texts) if "scheduler running" in text)
        assert all(p.poll() is None for p in processes)
        holder.terminate()
        holder.wait(timeout=10)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
