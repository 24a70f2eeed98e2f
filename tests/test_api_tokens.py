"""API tokens: made on a page and shown once, stored as a hash, named, expiring, revocable; a
token acts exactly as its user; no cookie ever authenticates the API; CSRF does not apply."""

# ruff: noqa: F811  (the api_as fixture is imported from tests/api_support.py)
from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from tests.api_support import ApiClient, api_as, bearer, token_for  # noqa: F401
from tracker.api.tokens import create_service_token, token_for as lookup
from tracker.auth.service import unit_by_code
from tracker.extensions import db
from tracker.models import ApiToken, JournalEntry


def _secret_in(html: str) -> str:
    found = re.search(r'id="new-token-value" value="(apt_[A-Za-z0-9_-]{43})"', html)
    assert found, "the new token is shown"
    return found.group(1)


def test_a_user_makes_a_token_on_the_page_sees_it_once_and_it_is_stored_as_a_hash(client, auth, make_user):
    user = auth.login(make_user("reporter", "P11-QC"))
    response = client.post("/account/tokens", data={"name": "省平台对接", "days": "30"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = _secret_in(response.get_data(as_text=True))
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert token.name == "省平台对接" and token.kind == "personal"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str([getattr(token, c.name) for c in ApiToken.__table__.columns])
    assert timedelta(days=29) < token.expires_at - datetime.now(timezone.utc) <= timedelta(days=30)
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "省平台对接" in page and secret not in page and token.prefix in page
    assert client.get("/api/v1/tasks", headers=bearer(secret)).status_code == 200


def test_the_page_refuses_a_nameless_token_and_an_odd_expiry(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    assert client.post("/account/tokens", data={"name": "", "days": "30"}).status_code == 422
    assert client.post("/account/tokens", data={"name": "x", "days": "3650"}).status_code == 422
    assert db.session.scalar(select(ApiToken.id)) is None


def test_a_revoked_token_fails_at_once(client, auth, make_user):
    user = auth.login(make_user("reporter", "P11-QC"))
    secret = token_for(user)
    assert client.get("/api/v1/plans", headers=bearer(secret)).status_code == 200
    token = lookup(secret)
    assert client.post(f"/account/tokens/{token.id}/revoke").status_code == 303
    response = client.get("/api/v1/plans", headers=bearer(secret))
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_nobody_revokes_another_users_token(client, auth, make_user):
    secret = token_for(make_user("reporter", "P11-QC"))
    auth.login(make_user("coordinator", "P11-QC"))
    assert client.post(f"/account/tokens/{lookup(secret).id}/revoke").status_code == 404
    assert client.get("/api/v1/plans", headers=bearer(secret)).status_code == 200


def test_an_expired_token_fails_at_once(client, make_user):
    secret = token_for(make_user("reporter", "P11-QC"))
    token = lookup(secret)
    token.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/plans", headers=bearer(secret)).status_code == 401


def test_a_deactivated_users_token_fails(client, make_user):
    user = make_user("reporter", "P11-QC")
    secret = token_for(user)
    user.active = False
    db.session.commit()
    assert client.get("/api/v1/plans", headers=bearer(secret)).status_code == 401


def test_without_a_valid_token_the_answer_is_401_in_json(client):
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic YWRtaW46eA=="},
        {"Authorization": "Bearer apt_" + "A" * 43},
    ):
        response = client.get("/api/v1/tasks", headers=headers)
        assert response.status_code == 401, headers
        assert response.mimetype == "application/json"
        assert response.json["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_signed_in_browser_session_never_authenticates_the_api(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    assert client.get("/tasks").status_code == 200  # the pages know the session
    response = client.get("/api/v1/tasks")
    assert response.status_code == 401
    assert "Set-Cookie" not in response.headers


def test_api_answers_never_set_a_cookie(client, make_user):
    response = client.get("/api/v1/plans", headers=bearer(token_for(make_user("reporter", "P11-QC"))))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_csrf_does_not_apply_to_token_requests(app, client, make_user, make_task):
    task = make_task("P11-QC")
    secret = token_for(make_user("reporter", "P11-QC"))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post(f"/api/v1/tasks/{task.id}/comments", json={"text": "经接口"}, headers=bearer(secret))
        page = client.post("/account/tokens", data={"name": "x", "days": "30"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 201
    assert page.status_code in (302, 400)  # the page itself still wants its CSRF token (or a sign-in)


def test_a_change_through_the_api_is_journaled_with_the_token(client, make_user, make_task):
    task = make_task("P11-QC")
    user = make_user("reporter", "P11-QC")
    secret = token_for(user)
    response = client.post(
        f"/api/v1/tasks/{task.id}/status",
        json={"target": "in_progress", "version": task.version},
        headers=bearer(secret),
    )
    assert response.status_code == 200, response.json
    entry = db.session.scalar(
        select(JournalEntry).where(JournalEntry.task_id == task.id, JournalEntry.action == "status")
    )
    assert entry.user_id == user.id and entry.api_token_id == lookup(secret).id
    detail = client.get(f"/api/v1/tasks/{task.id}", headers=bearer(secret)).json
    assert detail["journal"][0]["api_token"] == lookup(secret).id


def test_a_change_on_the_pages_is_not_marked_as_api(client, auth, make_user, make_task):
    task = make_task("P11-QC")
    auth.login(make_user("reporter", "P11-QC"))
    client.post(f"/tasks/{task.id}/status", data={"target": "in_progress", "version": task.version})
    entry = db.session.scalar(
        select(JournalEntry).where(JournalEntry.task_id == task.id, JournalEntry.action == "status")
    )
    assert entry is not None and entry.api_token_id is None


def test_an_admin_makes_a_service_token_bound_to_a_unit_and_a_role(client, auth, make_user, make_task):
    auth.login(make_user("admin", "NHC"))
    response = client.post(
        "/admin/api-tokens", data={"name": "北京市平台", "unit": "P11", "role": "coordinator", "days": "365"}
    )
    assert response.status_code == 200
    secret = _secret_in(response.get_data(as_text=True))
    token = lookup(secret)
    assert token.kind == "service" and token.user.unit.code == "P11" and token.user.role == "coordinator"
    inside, outside = make_task("P11-QC", title="北京的"), make_task("P31-QC", title="上海的")
    api = ApiClient(client, secret)
    assert api.get(f"/api/v1/tasks/{inside.id}").status_code == 200
    assert api.get(f"/api/v1/tasks/{outside.id}").status_code == 404
    # the service account cannot sign in to the pages with any password it could be given
    assert token.user.username.startswith("svc-")
    assert "北京市平台" in client.get("/admin/api-tokens").get_data(as_text=True)
    assert client.post(f"/admin/api-tokens/{token.id}/revoke").status_code == 303
    assert api.get(f"/api/v1/tasks/{inside.id}").status_code == 401


def test_only_admins_make_service_tokens(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    assert client.get("/admin/api-tokens").status_code == 403
    assert (
        client.post(
            "/admin/api-tokens", data={"name": "x", "unit": "P11", "role": "reporter", "days": "30"}
        ).status_code
        == 403
    )


def test_a_service_token_may_not_be_an_admin(make_user):
    import pytest

    from tracker.api.tokens import TokenError

    admin = make_user("admin", "NHC")
    with pytest.raises(TokenError):
        create_service_token(admin, "x", unit_by_code("P11"), "admin", 30)
