"""Sessions that end (issue 16, findings 4, 5 and 12).

A signed-in session is a record in `user_sessions`; the cookie carries its random id. Logout,
a password change or reset, disabling the account and "sign out everywhere" delete records, so a
copy of the cookie saved before stops working. Background polls (the unread badge) are passive:
they renew neither the cookie nor the record, so the idle timeout fires while a page stays open.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import AuditEntry, UserSession

MOMENT = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def sign_in(client, user, password=PASSWORD):
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def signed_in(client) -> bool:
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code in (302, 303), response.status_code
    assert "/login" in response.headers["Location"]
    return False


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def client_with(app, cookie: str):
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def records_of(user) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


# --- finding 4: logout and the other ends of a session ----------------------------------------------


def test_a_cookie_saved_before_logout_fails_after_it(app, client, make_user):
    user = make_user("reporter", "P11-QC")
    sign_in(client, user)
    saved = cookie_of(client)
    assert signed_in(client_with(app, saved))
    assert client.post("/logout").status_code == 303
    assert not signed_in(client)
    assert not signed_in(client_with(app, saved))  # the copy is signed out too
    assert records_of(user) == 0


def test_the_database_keeps_only_a_hash_of_the_session_id(client, make_user):
    from flask.sessions import SecureCookieSessionInterface

    user = make_user("reporter", "P11-QC")
    sign_in(client, user)
    serializer = SecureCookieSessionInterface().get_signing_serializer(client.application)
    session_id = serializer.loads(cookie_of(client))["sid"]
    record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert record.token_hash == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in (record.token_hash, record.user_agent, record.address)
    assert record.created_at == record.last_seen_at and record.created_at.tzinfo is not None


def test_a_session_id_of_another_user_signs_nobody_in(app, client, make_user):
    from flask.sessions import SecureCookieSessionInterface

    mine, theirs = make_user("reporter", "P11-QC"), make_user("reporter", "P11-QC")
    sign_in(client, mine)
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    forged = serializer.loads(cookie_of(client)) | {"_user_id": str(theirs.id)}
    assert not signed_in(client_with(app, serializer.dumps(forged)))


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(app, client, make_user):
    user = make_user("reporter", "P11-QC")
    other = app.test_client()
    sign_in(other, user)
    sign_in(client, user)
    before = cookie_of(client)
    response = client.post(
        "/account/password", data={"current": PASSWORD, "new": "a-new-pass-456", "repeated": "a-new-pass-456"}
    )
    assert response.status_code == 303
    assert signed_in(client)  # this browser goes on, with a fresh session
    assert not signed_in(other)
    assert not signed_in(client_with(app, before))  # nor this browser's cookie from before the change
    assert records_of(user) == 1


def test_an_admins_password_reset_ends_the_users_sessions(app, client, auth, make_user):
    user = make_user("reporter", "P11-QC")
    theirs = app.test_client()
    sign_in(theirs, user)
    auth.login(make_user("admin", "NHC"))
    assert client.post(f"/admin/users/{user.id}/reset-password").status_code == 200
    assert not signed_in(theirs)  # signed out, not merely sent to the password form
    assert records_of(user) == 0


def test_disabling_ends_the_sessions_for_good_even_when_enabled_again(app, client, auth, make_user):
    user = make_user("reporter", "P11-QC")
    theirs = app.test_client()
    sign_in(theirs, user)
    saved = cookie_of(theirs)
    auth.login(make_user("admin", "NHC"))
    assert client.post(f"/admin/users/{user.id}/disable").status_code == 303
    assert records_of(user) == 0
    assert client.post(f"/admin/users/{user.id}/enable").status_code == 303
    assert not signed_in(client_with(app, saved))
    assert not signed_in(theirs)


def test_an_admin_signs_a_user_out_everywhere_journaled(app, client, auth, make_user):
    user = make_user("reporter", "P11-QC")
    browsers = [app.test_client(), app.test_client()]
    for browser in browsers:
        sign_in(browser, user)
    admin = auth.login(make_user("admin", "NHC"))
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert 'id="sign-out-everywhere"' in page and re.search(r'id="session-count">2<', page)
    response = client.post(f"/admin/users/{user.id}/sign-out", data={"comment": "lost laptop"})
    assert response.status_code == 303
    assert not any(signed_in(browser) for browser in browsers)
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.subject == "user", AuditEntry.subject_id == user.id)
        .order_by(AuditEntry.id.desc())
    )
    assert (entry.action, entry.actor_id, entry.field, entry.old_value, entry.new_value, entry.comment) == (
        "sign_out_everywhere",
        admin.id,
        "sessions",
        "2",
        "0",
        "lost laptop",
    )
    assert signed_in(client)


def test_sign_out_everywhere_needs_the_right_to_manage_the_account(app, client, auth, make_user):
    user = make_user("reporter", "P31-QC")
    theirs = app.test_client()
    sign_in(theirs, user)
    auth.login(make_user("coordinator", "P11"))  # another province's coordinator
    assert client.post(f"/admin/users/{user.id}/sign-out").status_code == 404
    auth.login(make_user("reporter", "P31-QC"))
    assert client.post(f"/admin/users/{user.id}/sign-out").status_code == 403
    assert signed_in(theirs)


def test_sign_out_everywhere_needs_its_csrf_token(database_url, make_user):
    from tracker import create_app
    from tracker.config import TestConfig

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    with app.app_context():
        admin = make_user("admin", "NHC")
        user = make_user("reporter", "P11-QC")
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": admin.username, "password": PASSWORD, "csrf_token": token})
        assert client.post(f"/admin/users/{user.id}/sign-out").status_code == 400


def test_sign_out_my_other_sessions_keeps_this_browser(app, client, make_user):
    user = make_user("reporter", "P11-QC")
    other = app.test_client()
    sign_in(other, user)
    sign_in(client, user)
    page = client.get("/account").get_data(as_text=True)
    assert 'id="sign-out-others-form"' in page and page.count("<tr>") >= 2
    assert client.post("/account/sessions/sign-out-others").status_code == 303
    assert signed_in(client) and not signed_in(other)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "sign_out_others"))
    assert (entry.actor_id, entry.subject_id, entry.old_value, entry.new_value) == (user.id, user.id, "1", "0")


# --- finding 5: the idle timeout holds while a page polls ------------------------------------------


def badge_poll(page_html: str) -> tuple[str, dict]:
    """The badge's poll as the page declares it: its hx-get and its hx-headers (as htmx sends them)."""
    import json

    span = re.search(r'<span id="inbox-count"[^>]*>', page_html, re.S).group(0)
    url = unescape(re.search(r'hx-get="([^"]+)"', span).group(1))
    assert "every 60s" in span
    headers = {"HX-Request": "true"}
    declared = re.search(r"hx-headers='([^']+)'", span)
    if declared:
        headers |= json.loads(unescape(declared.group(1)))
    return url, headers


def test_an_idle_session_expires_while_the_badge_keeps_polling(app, client, make_user):
    user = make_user("reporter", "P11-QC")
    with time_machine.travel(MOMENT, tick=False) as clock:
        sign_in(client, user)
        url, headers = badge_poll(client.get("/").get_data(as_text=True))
        saved = cookie_of(client)
        for _minute in range(29):
            clock.shift(timedelta(minutes=1))
            assert client.get(url, headers=headers).status_code == 200
        record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
        db.session.refresh(record)
        assert record.last_seen_at == MOMENT  # the polls were no activity
        clock.shift(timedelta(minutes=2))  # 31 minutes after the last page
        ended = client.get(url, headers=headers)
        assert ended.status_code == 401 and ended.headers["HX-Redirect"].startswith("/login")
        assert not signed_in(client)
        assert not signed_in(client_with(app, saved))


def test_the_server_side_record_expires_even_with_a_fresh_cookie(app, client, make_user):
    """A cookie re-signed by requests the record does not count (passive) cannot outlive the record."""
    user = make_user("reporter", "P11-QC")
    with time_machine.travel(MOMENT, tick=False) as clock:
        sign_in(client, user)
        clock.shift(timedelta(minutes=20))
        assert signed_in(client)  # activity: record renewed at 20 min
        record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
        db.session.refresh(record)
        assert record.last_seen_at == MOMENT + timedelta(minutes=20)
        record.last_seen_at = MOMENT - timedelta(hours=1)  # as if the record had been idle an hour
        db.session.commit()
        assert not signed_in(client)
        assert records_of(user) == 0  # the idle record is gone


def test_requests_that_are_activity_renew_the_session_at_most_once_a_minute(app, client, make_user):
    user = make_user("reporter", "P11-QC")
    with time_machine.travel(MOMENT, tick=False) as clock:
        sign_in(client, user)
        record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
        for _step in range(6):  # an hour of work, a page every 10 minutes: past the 30-minute timeout
            clock.shift(timedelta(minutes=10))
            assert signed_in(client)
        db.session.refresh(record)
        assert record.last_seen_at == MOMENT + timedelta(minutes=60)
        clock.shift(timedelta(seconds=30))
        writes = []

        def count_updates(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("UPDATE USER_SESSIONS"):
                writes.append(statement)

        from sqlalchemy import event

        event.listen(db.engine, "before_cursor_execute", count_updates)
        try:
            for _page in range(3):
                assert signed_in(client)
        finally:
            event.remove(db.engine, "before_cursor_execute", count_updates)
        assert writes == []  # within the minute: no write per request
        db.session.refresh(record)
        assert record.last_seen_at == MOMENT + timedelta(minutes=60)


def test_a_passive_request_does_not_refresh_the_cookie(client, make_user):
    user = make_user("reporter", "P11-QC")
    sign_in(client, user)
    passive = client.get("/notifications/badge", headers={"HX-Request": "true", "X-Passive": "1"})
    assert passive.status_code == 200 and "Set-Cookie" not in passive.headers
    active = client.get("/notifications/badge", headers={"HX-Request": "true"})
    assert "session=" in active.headers.get("Set-Cookie", "")


def test_an_api_request_is_untouched_by_sessions(client, make_user):
    from tracker.api.tokens import create_personal_token

    user = make_user("reporter", "P11-QC")
    secret = create_personal_token(user, "t", 30).secret
    db.session.commit()
    response = client.get("/api/v1/plans", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert records_of(user) == 0 and "Set-Cookie" not in response.headers


# --- finding 12: the backup's database password never on a command line ----------------------------


def test_pg_dump_and_pg_restore_get_the_password_from_the_environment(tmp_path, monkeypatch):
    from tracker import create_app
    from tracker.admin import backup as backup_module
    from tracker.config import TestConfig

    secret = "s3cret-Passw0rd"
    app = create_app(
        TestConfig, SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://tracker:{secret}@127.0.0.1:1/tracker_db"
    )
    calls = []

    def fake_run(argv, **kwargs):
        calls.append((argv, kwargs.get("env")))
        return subprocess.CompletedProcess(argv, 1, "", "stopped by the test")

    monkeypatch.setattr(backup_module.subprocess, "run", fake_run)
    monkeypatch.setattr(backup_module, "verify_backup", lambda directory: {})
    with app.app_context():
        with pytest.raises(backup_module.BackupError, match="pg_dump failed"):
            backup_module.backup(tmp_path / "bak")
        with pytest.raises(backup_module.BackupError, match="pg_restore failed"):
            backup_module.restore(tmp_path / "bak")
    assert [argv[0] for argv, _env in calls] == ["pg_dump", "pg_restore"]
    for argv, env in calls:
        assert not any(secret in word for word in argv), argv
        assert any("tracker@127.0.0.1:1/tracker_db" in word for word in argv), argv
        assert env is not None and env["PGPASSWORD"] == secret
