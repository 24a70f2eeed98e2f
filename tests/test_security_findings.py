"""Issue 16, findings 4-12: open redirects, timing, proxies, passive polls, revocable sessions,
inline handlers, the backup's password, HTMX fragments and scoped indicator periods."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from conftest import PASSWORD
from test_notifications import DUE, at, run
from tracker.extensions import db
from tracker.models import Notification

HX = {"HX-Request": "true"}

# -- finding 7: redirect targets from the request are same-site relative paths only ------------

HOSTILE_TARGETS = [
    "https://evil.example/x",
    "http:evil.example",
    "//evil.example/x",
    "/\\evil.example/x",
    "\\\\evil.example\\x",
    "\\/evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "/x\r\nSet-Cookie: a=b",
    "/x\nLocation: https://evil.example",
    "evil.example/x",
    "",
]


def _location_is_safe(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "evil" not in location


def test_the_redirect_helper_keeps_only_same_site_paths(app):
    from tracker.web import safe_next

    with app.test_request_context():
        assert safe_next("/plans?unit=P11") == "/plans?unit=P11"
        assert safe_next("/tasks/12#history") == "/tasks/12#history"
        for target in HOSTILE_TARGETS:
            assert safe_next(target, "/home") == "/home", target


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_sign_in_never_redirects_off_site_nor_fails_on_a_hostile_next(client, make_user, target):
    user = make_user("reporter", "P11-QC")
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 303, target
    assert _location_is_safe(response.headers["Location"]), (target, response.headers["Location"])


def test_sign_in_follows_a_same_site_next(client, make_user):
    user = make_user("reporter", "P11-QC")
    response = client.post(
        "/login", query_string={"next": "/notifications"}, data={"username": user.username, "password": PASSWORD}
    )
    assert response.headers["Location"] == "/notifications"


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.post("/lang/en", data={"next": target})
    assert response.status_code == 303 and _location_is_safe(response.headers["Location"]), target


def test_mark_read_never_redirects_off_site(client, auth, make_user, make_task):
    user = make_user("reporter", "P11-QC")
    task = make_task("P11-QC", title="逾期任务（重定向测试）", due_on=DUE)
    run(at(DUE + timedelta(days=1)))
    mine = db.session.scalar(
        select(Notification).where(Notification.user_id == user.id, Notification.task_id == task.id)
    )
    auth.login(user)
    for target in HOSTILE_TARGETS:
        response = client.post(f"/notifications/{mine.id}/read", data={"next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == "/notifications", (target, response.headers["Location"])
    response = client.post(f"/notifications/{mine.id}/read", data={"next": "/tasks/1"})
    assert response.headers["Location"] == "/tasks/1"


def test_the_bulk_urge_never_redirects_off_site_nor_fails_on_a_hostile_back(client, auth, make_user):
    """POST /supervision/urge (the old overdue form) takes `back` from the request: through
    safe_next like every other target, so CR/LF, another host, "//" and "/\\" land on the list."""
    auth.login(make_user("coordinator", "P11"))
    targets = HOSTILE_TARGETS + ["/overdue\r\nSet-Cookie: a=b", "/overdue/\\evil.example", "/overdue//evil.example"]
    for target in targets:
        for headers in ({}, HX):
            response = client.post("/supervision/urge", data={"back": target}, headers=headers)
            assert response.status_code == 303, (target, response.status_code)
            assert response.headers["Location"] == "/overdue", (target, response.headers["Location"])
    response = client.post("/supervision/urge", data={"back": "/overdue?unit=P11-QC"})
    assert response.headers["Location"] == "/overdue?unit=P11-QC"
    response = client.post("/supervision/urge", data={"back": "/tasks/1"})  # same site, not the list
    assert response.headers["Location"] == "/overdue"


# -- finding 10: an unknown user name costs a password hash like a known one -------------------


def test_an_unknown_user_name_costs_one_password_hash_like_a_wrong_password(app, make_user, monkeypatch):
    import werkzeug.security

    from tracker.auth.service import authenticate

    user = make_user("reporter", "P11-QC")
    disabled = make_user("reporter", "P11-QC")
    disabled.active = False
    db.session.commit()
    real = werkzeug.security._hash_internal
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    with app.test_request_context():
        authenticate("nobody-by-this-name", "warm-up-1")  # the dummy hash is made once per process
    monkeypatch.setattr(werkzeug.security, "_hash_internal", counting)
    with app.test_request_context():
        for name, password in (
            (user.username, "wrong-pass-1"),
            ("nobody-by-this-name", "wrong-pass-1"),
            (disabled.username, PASSWORD),
        ):
            calls.clear()
            assert authenticate(name, password) is None
            assert len(calls) == 1, name
            assert calls[0].startswith(user.password_hash.split("$")[0].split(":")[0]), calls
        calls.clear()
        assert authenticate(user.username, PASSWORD) is not None and len(calls) == 1


# -- finding 6: behind a proxy, the throttle keys on the client; names are slowed, never locked --


def _sign_in(client, username, password, address=None, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    environ = {"REMOTE_ADDR": address} if address else {}
    return client.post(
        "/login", data={"username": username, "password": password}, headers=headers, environ_base=environ
    )


def test_without_trusted_proxies_forwarded_headers_are_ignored(client, make_user, app):
    from tracker.models.security import LoginFailure

    assert app.config["TRUSTED_PROXY_HOPS"] == 0
    user = make_user("reporter", "P11-QC")
    _sign_in(client, user.username, "wrong-pass-1", address="10.0.0.9", forwarded="203.0.113.7")
    assert (
        db.session.scalar(select(LoginFailure.address).where(LoginFailure.username == user.username.lower()))
        == "10.0.0.9"
    )


def test_the_app_factory_trusts_the_configured_proxy_hops(tmp_path, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    from tracker import create_app
    from tracker.config import TestConfig

    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    url = f"sqlite:///{tmp_path / 'p.db'}"
    assert not isinstance(create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url).wsgi_app, ProxyFix)
    proxied = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, TRUSTED_PROXY_HOPS=2).wsgi_app
    assert isinstance(proxied, ProxyFix) and proxied.x_for == 2 and proxied.x_proto == 2


def test_behind_a_trusted_proxy_failures_under_many_names_lock_out_only_their_client(
    app, client, make_user, monkeypatch
):
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1))
    victim = make_user("reporter", "P11-QC")
    proxy = "10.0.0.2"  # every request reaches the app from nginx
    for n in range(20):  # 20 failures under 20 names from one client
        assert _sign_in(client, f"name-{n}", "wrong-pass-1", proxy, "198.51.100.66").status_code == 400
    assert _sign_in(client, "name-x", "wrong-pass-1", proxy, "198.51.100.66").status_code == 429
    # another client behind the same proxy is not locked out
    assert _sign_in(client, victim.username, PASSWORD, proxy, "203.0.113.7").status_code == 303


def test_failures_from_many_addresses_slow_a_name_but_never_lock_it(client, make_user):
    user = make_user("reporter", "P11-QC")
    start = datetime.now(timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        for n in range(12):  # an attacker spread over 12 addresses
            response = _sign_in(client, user.username, "wrong-pass-1", f"198.51.100.{n}")
            if response.status_code == 429:  # waits a growing delay, in seconds
                assert "秒" in response.get_data(as_text=True)
                clock.shift(int(response.headers["Retry-After"]))
                response = _sign_in(client, user.username, "wrong-pass-1", f"198.51.100.{n}")
            assert response.status_code == 400
        waits = []
        response = _sign_in(client, user.username, PASSWORD, "203.0.113.7")
        while response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            clock.shift(waits[-1])
            response = _sign_in(client, user.username, PASSWORD, "203.0.113.7")
        # the owner gets in after at most LOGIN_MAX_DELAY_SECONDS, not minutes later
        assert response.status_code == 303 and sum(waits) <= 60 and waits


def test_an_address_is_locked_per_name_after_repeated_failures_and_the_others_are_not(client, make_user):
    user = make_user("reporter", "P11-QC")
    for _ in range(5):
        assert _sign_in(client, user.username, "wrong-pass-1", "198.51.100.1").status_code == 400
    locked = _sign_in(client, user.username, PASSWORD, "198.51.100.1")
    assert locked.status_code == 429 and "分钟" in locked.get_data(as_text=True)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(seconds=61)):
        assert _sign_in(client, user.username, PASSWORD, "203.0.113.7").status_code == 303
