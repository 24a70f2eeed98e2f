"""Error pages: 503 in Chinese while the database is unreachable, 500 with a request id that is also
in the log; HTMX requests get the notice alone, retargeted into the page."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
HX = {"HX-Request": "true"}


def database_gone(*_args, **_kwargs):
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def boom(*_args, **_kwargs):
    raise RuntimeError("a bug")


@pytest.fixture
def signed_in(client, auth, make_user):
    return auth.login(make_user("coordinator", "P11"))


def test_a_database_error_gives_a_chinese_503_page_with_retry_advice(app, client, signed_in, monkeypatch, caplog):
    monkeypatch.setitem(app.view_functions, "plans.plan_list", database_gone)
    with caplog.at_level(logging.WARNING, logger="tracker.errors"):
        response = client.get("/plans")
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "服务暂时不可用" in page and "请过一分钟再试" in page and "<html" in page
    request_id = response.headers["X-Request-ID"]
    assert request_id in page
    [record] = [r for r in caplog.records if r.name == "tracker.errors"]
    assert (
        record.getMessage()
        == "503 GET /plans: database unreachable: Exception: server closed the connection unexpectedly"
    )
    assert record.request_id == request_id


def test_an_htmx_request_gets_the_503_notice_alone_retargeted(app, client, signed_in, monkeypatch):
    monkeypatch.setitem(app.view_functions, "plans.plan_list", database_gone)
    response = client.get("/plans", headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and "<html" not in page and "服务暂时不可用" in page
    assert response.headers["HX-Retarget"] == "#request-problem" and response.headers["HX-Reswap"] == "innerHTML"
    assert "HX-Request" in response.headers["Vary"]


def test_any_other_failure_gives_500_with_the_request_id_that_is_in_the_log(
    app, client, signed_in, monkeypatch, caplog
):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production (tests re-raise)
    monkeypatch.setitem(app.view_functions, "plans.plan_list", boom)
    with caplog.at_level(logging.ERROR):
        response = client.get("/plans", headers={"X-Request-ID": "nginx-req-0042"})
        fragment = client.get("/plans", headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "出错了" in page and "nginx-req-0042" in page  # the proxy's id is kept
    assert response.headers["X-Request-ID"] == "nginx-req-0042"
    failures = [r for r in caplog.records if r.getMessage().startswith("500 GET /plans")]
    assert [r.request_id for r in failures] == ["nginx-req-0042", fragment.headers["X-Request-ID"]]
    assert failures[0].exc_info[0] is RuntimeError  # the traceback goes with it (folded into the line)
    assert fragment.status_code == 500 and "<html" not in fragment.get_data(as_text=True)
    assert fragment.headers["X-Request-ID"] in fragment.get_data(as_text=True)


def test_every_response_carries_a_request_id_and_a_bad_incoming_one_is_replaced(client):
    assert len(client.get("/login").headers["X-Request-ID"]) == 16
    assert client.get("/login", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


def _free_port() -> int:
    for port in range(52050, 52100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def test_a_server_whose_database_is_down_answers_503_not_a_bare_500(tmp_path):
    """gunicorn with DATABASE_URL at a port where no PostgreSQL listens: a signed-in page is 503."""
    from flask import Flask

    dead_port, port = _free_port(), None
    with socket.socket() as holder:  # keep the dead port taken by nobody listening
        holder.bind(("127.0.0.1", dead_port))
        port = _free_port()
        secret = "error-page-test"
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{dead_port}/gone?connect_timeout=2",
            "SECRET_KEY": secret,
            "INSTANCE_DIR": str(tmp_path),
            "PROGRESS_CACHE_DIR": "",
            "REDIS_URL": "",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{port}",
                "tracker:create_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            signer = Flask(__name__)
            signer.secret_key = secret
            cookie = signer.session_interface.get_signing_serializer(signer).dumps(
                {"_user_id": "1", "_fresh": True, "sid": "some-session-id"}
            )
            request = urllib.request.Request(f"http://127.0.0.1:{port}/plans", headers={"Cookie": f"session={cookie}"})
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(request, timeout=10)
                    raise AssertionError("a page was served without its database")
                except urllib.error.HTTPError as answer:
                    status, body, request_id = (
                        answer.code,
                        answer.read().decode("utf-8"),
                        answer.headers["X-Request-ID"],
                    )
                    break
                except OSError:  # not listening yet
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
        finally:
            server.terminate()
            _out, err = server.communicate(timeout=20)
    assert status == 503 and "服务暂时不可用" in body, err[-3000:]
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "503 GET /plans" in line]  # one line, with the request id
    assert f"WARNING tracker.errors [{request_id}] 503 GET /plans: database unreachable: OperationalError: " in line
