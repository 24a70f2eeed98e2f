"""Web defences: headers, sign-in throttling, idle sessions, password policy."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from conftest import PASSWORD
from tracker.auth.service import UserError, check_password_policy


def _login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def test_no_template_has_inline_script_or_event_handlers():
    from pathlib import Path

    for template in (Path(__file__).resolve().parent.parent / "tracker" / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+=\"", text), template.name
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)


# What HTMX would evaluate as JavaScript, which the CSP (no 'unsafe-eval') refuses with a console
# error: hx-on handlers (hx-on:*, hx-on::*, hx-on-*), js: values, hx-vars, event filters in
# hx-trigger ("keyup[key=='Enter']"), and javascript: links. Behaviours live in tracker/static/app.js.
EVALUATED = {
    "hx-on": re.compile(r"\bhx-on[:\-]", re.I),
    "data-hx-on": re.compile(r"\bdata-hx-on[:\-]", re.I),
    "js: value": re.compile(r"\bhx-(vals|headers)=['\"]\s*(js|javascript):", re.I),
    "hx-vars": re.compile(r"\bhx-vars=", re.I),
    "trigger filter": re.compile(r"\bhx-trigger=\"[^\"]*\[", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_no_template_has_what_htmx_would_evaluate_under_the_csp():
    from pathlib import Path

    found = []
    for template in sorted((Path(__file__).resolve().parent.parent / "tracker" / "templates").rglob("*.html")):
        for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
            found += [f"{template.name}:{number} {what}" for what, pattern in EVALUATED.items() if pattern.search(line)]
    assert found == []


def test_the_pages_load_the_apps_own_behaviours_as_a_same_origin_script(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/plans").get_data(as_text=True)
    assert '<script src="/static/app.js" defer></script>' in page
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "htmx:afterRequest" in script.get_data(as_text=True)
    assert "data-reset-on-success" in script.get_data(as_text=True)


def test_every_page_carries_the_security_headers(client, auth, make_user):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Frame-Options"] == "DENY"
    auth.login(make_user("leader", "NHC"))
    for url in ("/", "/plans", "/leadership", "/notifications"):
        page = client.get(url)
        assert page.headers["Content-Security-Policy"] == csp
        # no inline script: every <script> has a src or is inert JSON data
        for tag in re.findall(r"<script[^>]*>", page.get_data(as_text=True)):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert not re.search(r"\son(click|change|submit|load)=", page.get_data(as_text=True)), url


def test_the_session_cookie_is_http_only_and_same_site(client, make_user):
    user = make_user("reporter", "P11-QC")
    response = _login(client, user.username, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_sign_in_is_throttled_after_repeated_failures(client, make_user):
    user = make_user("reporter", "P11-QC")
    for _ in range(5):
        assert _login(client, user.username, "wrong-pass-1").status_code == 400
    locked = _login(client, user.username, PASSWORD)  # even the right password waits
    assert locked.status_code == 429 and "分钟" in locked.get_data(as_text=True)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=16)):
        assert _login(client, user.username, PASSWORD).status_code == 303


def test_an_idle_session_ends(client, make_user):
    user = make_user("reporter", "P11-QC")
    _login(client, user.username, PASSWORD)
    assert client.get("/").status_code == 200
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=31)):
        response = client.get("/")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "password, username",
    [
        ("short1", "someone"),
        ("onlyletters", "someone"),
        ("123456789", "someone"),
        ("zhang-san-2024", "zhang-san"),
    ],
)
def test_the_password_policy_refuses_weak_passwords(password, username, app):
    with app.test_request_context():
        with pytest.raises(UserError):
            check_password_policy(password, username)


@pytest.mark.parametrize(
    "shared",
    [
        {"TRACKER_NODES": 2},
        {"REDIS_URL": "redis://127.0.0.1:6379/15"},
        # the object store is shared too: a machine of its own key would sign what others refuse
        {"STORAGE_BACKEND": "s3", "S3_ENDPOINT_URL": "http://127.0.0.1:1", "S3_ACCESS_KEY": "t", "S3_SECRET_KEY": "t"},
    ],
    ids=["nodes", "redis", "s3"],
)
def test_a_deployment_over_several_machines_refuses_to_start_without_a_shared_secret_key(tmp_path, monkeypatch, shared):
    from tracker import create_app
    from tracker.config import TestConfig

    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app(TestConfig, SECRET_KEY=None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}", **shared)
    assert not (tmp_path / "secret_key").exists()
    app = create_app(
        TestConfig,
        SECRET_KEY="the same on every machine",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'x.db'}",
        **shared,
    )
    assert app.config["SECRET_KEY"] == "the same on every machine"
