"""Single sign-on by OpenID Connect, end to end against a real provider on loopback
(tests/oidc_provider.py: Authlib's server components, an RS256-signed id_token, JWKS, discovery).

The tracker's test client follows the flow as a browser would: /login/oidc redirects to the
provider, whose authorization endpoint (a real HTTP server) answers with a redirect back to the
callback; the app then calls the provider's token endpoint and JWKS over HTTP itself."""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tests.oidc_provider import KEY_ID, LoopbackProvider, Person
from tracker.extensions import db
from tracker.models import AuditEntry, UserSession


@pytest.fixture(scope="module")
def provider():
    provider = LoopbackProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc(app, provider, monkeypatch):
    """The tracker configured for the loopback provider (by username, local passwords on)."""
    for key, value in provider.environment().items():
        monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "OIDC_MATCH_BY", "username")
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", True)
    provider.auto_approve = True
    provider.signing_key = provider.key
    provider.end_session = True
    app.extensions.pop("tracker.oidc_client", None)  # the provider's metadata read afresh
    yield provider
    app.extensions.pop("tracker.oidc_client", None)


def at_provider(url: str) -> str:
    """The provider's answer to the browser's visit of `url`: where it sends the browser back."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_through_provider(client, person: Person, provider, start: str = "/login/oidc"):
    """The whole round trip; the tracker's answer to the callback."""
    provider.person = person
    to_provider = client.get(start)
    assert to_provider.status_code == 302
    assert to_provider.headers["Location"].startswith(provider.issuer + "/authorize?")
    back = at_provider(to_provider.headers["Location"])
    assert urlsplit(back).path == "/login/oidc/callback"
    return client.get(local_path(back))


def signed_in_as(client):
    page = client.get("/", follow_redirects=False)
    return page.status_code == 200


def sessions_of(user) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


def test_the_sign_in_page_offers_the_provider_only_when_configured(client, oidc, app, monkeypatch):
    page = client.get("/login").get_data(as_text=True)
    assert 'id="oidc-sign-in"' in page and "Loopback ID" in page
    assert 'id="login-form"' in page  # local passwords stay on by default
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "")
    page = client.get("/login").get_data(as_text=True)
    assert 'id="oidc-sign-in"' not in page
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/callback?code=x&state=y").status_code == 404


def test_a_person_signs_in_through_the_provider_as_the_user_of_the_same_name(client, oidc, make_user):
    user = make_user("reporter", "P11-QC", username="sso_alice")
    answer = sign_in_through_provider(client, Person(sub="alice-1", preferred_username="sso_alice"), oidc)
    assert answer.status_code == 303
    assert urlsplit(answer.headers["Location"]).path == "/"
    assert signed_in_as(client)
    # the same session record as a password sign-in, and the sign-in journaled
    assert sessions_of(user) == 1
    assert user.last_login_at is not None
    entry = db.session.scalar(
        select(AuditEntry)
        .where(AuditEntry.subject == "user", AuditEntry.subject_id == user.id)
        .order_by(AuditEntry.id.desc())
    )
    assert entry.action == "sign_in" and "OpenID Connect" in entry.comment and "alice-1" in entry.comment


def test_the_page_asked_for_before_signing_in_comes_after(client, oidc, make_user):
    make_user("reporter", "P11-QC", username="sso_next")
    answer = sign_in_through_provider(
        client, Person(sub="n-1", preferred_username="sso_next"), oidc, "/login/oidc?next=/notifications"
    )
    assert answer.headers["Location"].endswith("/notifications")
    # a foreign address is never a destination
    client.post("/logout")
    answer = sign_in_through_provider(
        client, Person(sub="n-1", preferred_username="sso_next"), oidc, "/login/oidc?next=https://evil.example/"
    )
    assert "evil" not in answer.headers["Location"]


def test_an_sso_session_is_ended_like_any_other(client, oidc, make_user):
    from tracker.auth.service import end_sessions

    user = make_user("coordinator", "P11", username="sso_bob")
    sign_in_through_provider(client, Person(sub="bob", preferred_username="sso_bob"), oidc)
    assert signed_in_as(client)
    end_sessions(user)  # disabling, a reset, "sign out everywhere"
    db.session.commit()
    assert not signed_in_as(client)
    sign_in_through_provider(client, Person(sub="bob", preferred_username="sso_bob"), oidc)
    assert signed_in_as(client)
    client.post("/logout")
    assert sessions_of(user) == 0 and not signed_in_as(client)


def test_mapping_by_email_ignores_case_and_needs_a_verified_address(client, oidc, app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "OIDC_MATCH_BY", "email")
    user = make_user("reporter", "P11-QC", username="local_name_1")
    user.email = "Carol.Wang@Example.org"
    db.session.commit()
    person = Person(sub="c-9", preferred_username="someone-else", email="carol.wang@example.ORG")
    answer = sign_in_through_provider(client, person, oidc)
    assert answer.status_code == 303 and urlsplit(answer.headers["Location"]).path == "/"
    assert sessions_of(user) == 1
    client.post("/logout")
    person.email_verified = False
    english(client)
    answer = sign_in_through_provider(client, person, oidc)
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert not signed_in_as(client)
    assert "has not confirmed your e-mail address" in refusal_shown(client)


def english(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"


def refusal_shown(client) -> str:
    """The sign-in page the refused person lands on (in English when english(client) came first)."""
    return client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize(
    "case",
    ["no_user", "disabled", "two_users_one_email", "no_username_claim"],
)
def test_an_identity_that_matches_no_active_user_is_refused_with_a_clear_message(
    case, client, oidc, app, make_user, monkeypatch, caplog
):
    person = Person(sub="x-1", preferred_username="sso_nobody_here", email="dup@example.org")
    expected = "No account of this tracker belongs to sso_nobody_here"
    if case == "disabled":
        user = make_user("reporter", "P11-QC", username="sso_nobody_here")
        user.active = False
        db.session.commit()
        expected = "This account is disabled"
    elif case == "two_users_one_email":
        monkeypatch.setitem(app.config, "OIDC_MATCH_BY", "email")
        for name in ("dup_one", "dup_two"):
            make_user("reporter", "P11-QC", username=name).email = "dup@example.org"
        db.session.commit()
        expected = "Several accounts have the e-mail address dup@example.org"
    elif case == "no_username_claim":
        person.preferred_username = ""
        expected = "The sign-in service gave no user name"
    english(client)
    with caplog.at_level(logging.WARNING, logger="tracker.auth.sso"):
        answer = sign_in_through_provider(client, person, oidc)
    assert answer.status_code == 303 and urlsplit(answer.headers["Location"]).path == "/login"
    assert expected in refusal_shown(client)
    assert not signed_in_as(client)
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert any("single sign-on refused" in r.getMessage() and "x-1" in r.getMessage() for r in caplog.records)


def test_a_callback_whose_state_is_not_the_one_sent_is_refused(client, oidc, make_user):
    make_user("reporter", "P11-QC", username="sso_state")
    english(client)
    oidc.person = Person(sub="s-1", preferred_username="sso_state")
    to_provider = client.get("/login/oidc")
    back = at_provider(to_provider.headers["Location"])
    query = parse_qs(urlsplit(back).query)
    forged = urlencode({"code": query["code"][0], "state": "not-the-state-we-sent"})
    answer = client.get(f"/login/oidc/callback?{forged}")
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert "did not succeed" in refusal_shown(client)
    assert not signed_in_as(client)
    # a callback in another browser (no state in its session at all) is refused too
    other = client.application.test_client()
    answer = other.get(local_path(back))
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert not signed_in_as(other)


def test_an_id_token_not_signed_by_the_providers_key_is_refused(client, oidc, make_user):
    make_user("reporter", "P11-QC", username="sso_forged")
    oidc.signing_key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID})  # same kid, another key
    answer = sign_in_through_provider(client, Person(sub="f-1", preferred_username="sso_forged"), oidc)
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert not signed_in_as(client)


def test_the_provider_saying_no_is_refused(client, oidc):
    client.get("/login/oidc")
    with client.session_transaction() as session:
        state = next(key for key in session if key.startswith("_state_oidc_"))[len("_state_oidc_") :]
    answer = client.get(f"/login/oidc/callback?error=access_denied&state={state}")
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert not signed_in_as(client)


def test_a_locked_address_cannot_sign_in_by_sso_either(client, oidc, app, make_user):
    from tracker.security import record_failure

    make_user("reporter", "P11-QC", username="sso_locked")
    for n in range(app.config["LOGIN_ADDRESS_MAX_FAILURES"]):
        record_failure(f"guess{n}", "127.0.0.1")
    db.session.commit()
    english(client)
    answer = sign_in_through_provider(client, Person(sub="l-1", preferred_username="sso_locked"), oidc)
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert "Too many failed sign-ins" in refusal_shown(client)
    assert not signed_in_as(client)


def test_local_login_off_hides_the_form_and_refuses_passwords_but_sso_works(client, oidc, app, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", False)
    user = make_user("reporter", "P11-QC", username="sso_dave")
    page = client.get("/login").get_data(as_text=True)
    assert 'id="login-form"' not in page and 'id="oidc-sign-in"' in page
    english(client)
    refused = client.post("/login", data={"username": "sso_dave", "password": PASSWORD})
    assert refused.status_code == 403
    assert "Signing in with a password is switched off here." in refused.get_data(as_text=True)
    assert not signed_in_as(client) and sessions_of(user) == 0
    answer = sign_in_through_provider(client, Person(sub="d-1", preferred_username="sso_dave"), oidc)
    assert urlsplit(answer.headers["Location"]).path == "/"
    assert signed_in_as(client)


def test_local_login_off_without_any_sso_says_so(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", False)
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "")
    monkeypatch.setitem(app.config, "LDAP_URL", "")
    english(client)
    page = client.get("/login").get_data(as_text=True)
    assert 'id="login-form"' not in page and "no single sign-on is set up" in page


def test_local_passwords_still_work_next_to_sso(client, oidc, make_user):
    make_user("reporter", "P11-QC", username="sso_erin")
    answer = client.post("/login", data={"username": "sso_erin", "password": PASSWORD})
    assert answer.status_code == 303 and signed_in_as(client)


def test_the_settings_read_from_the_environment():
    from tracker.auth.sso import oidc_settings

    assert oidc_settings({"OIDC_CLIENT_ID": "x"}) is None
    assert oidc_settings({"OIDC_ISSUER": "https://id.example/"}) is None
    settings = oidc_settings({"OIDC_ISSUER": "https://id.example/realm/", "OIDC_CLIENT_ID": "x"})
    assert settings.metadata_url == "https://id.example/realm/.well-known/openid-configuration"
    settings = oidc_settings({"OIDC_METADATA_URL": "https://id.example/meta", "OIDC_CLIENT_ID": "x"})
    assert settings.metadata_url == "https://id.example/meta"


# -- single logout (RP-Initiated Logout): the provider's session ends with the tracker's ----------


def test_logging_out_after_an_oidc_sign_in_ends_the_providers_session_too(client, oidc, make_user):
    user = make_user("reporter", "P11-QC", username="sso_slo")
    sign_in_through_provider(client, Person(sub="slo-1", preferred_username="sso_slo"), oidc)
    issued = oidc.tokens[-1]["id_token"]
    with client.session_transaction() as cookie:
        assert cookie["oidc_id_token"] == issued
    ended_before = len(oidc.ended)

    answer = client.post("/logout")
    # a page that goes on to the provider (meta refresh and a link: the CSP's form-action 'self'
    # would stop a redirect of the form's POST to another site)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    body = answer.get_data(as_text=True)
    location = html.unescape(body.split('id="end-session-link" class="btn btn-primary" href="')[1].split('"')[0])
    assert f'<meta http-equiv="refresh" content="0; url={html.escape(location)}">' in body
    assert "Loopback ID" in body
    assert location.startswith(oidc.issuer + "/end-session?")
    query = parse_qs(urlsplit(location).query)
    assert query["id_token_hint"] == [issued]
    assert query["post_logout_redirect_uri"] == ["http://localhost/login"]
    assert query["client_id"] == ["tracker-test"]
    # the local session ended first: its record is gone, the cookie signs nobody in, the id_token left it
    assert sessions_of(user) == 0 and not signed_in_as(client)
    with client.session_transaction() as cookie:
        assert "oidc_id_token" not in cookie

    # the browser at the provider: it checks the hint, ends its session and sends it back
    back = at_provider(location)
    assert back == "http://localhost/login"
    assert len(oidc.ended) == ended_before + 1 and oidc.ended[-1]["sub"] == "slo-1"
    page = client.get(local_path(back))
    assert page.status_code == 200 and "您已退出登录。" in page.get_data(as_text=True)


def test_the_provider_refuses_a_hint_it_did_not_sign(oidc):
    forged = RSAKey.generate_key(2048, parameters={"kid": KEY_ID})
    from joserfc import jwt

    hint = jwt.encode({"alg": "RS256", "kid": KEY_ID}, {"iss": oidc.issuer, "aud": "tracker-test", "sub": "x"}, forged)
    query = urlencode({"id_token_hint": hint, "post_logout_redirect_uri": "http://localhost/login"})
    answer = requests.get(f"{oidc.issuer}/end-session?{query}", allow_redirects=False, timeout=10)
    assert answer.status_code == 400


def test_without_an_end_session_endpoint_logout_is_local_only(client, oidc, make_user):
    oidc.end_session = False
    user = make_user("reporter", "P11-QC", username="sso_local_out")
    sign_in_through_provider(client, Person(sub="lo-1", preferred_username="sso_local_out"), oidc)
    ended_before = len(oidc.ended)
    answer = client.post("/logout")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert sessions_of(user) == 0 and not signed_in_as(client) and len(oidc.ended) == ended_before


def test_a_password_sign_in_logs_out_locally_even_with_oidc_on(client, oidc, make_user):
    make_user("reporter", "P11-QC", username="pw_out")
    client.post("/login", data={"username": "pw_out", "password": PASSWORD})
    assert signed_in_as(client)
    answer = client.post("/logout")
    assert answer.headers["Location"] == "/login" and not signed_in_as(client)


def test_a_provider_out_of_reach_at_logout_still_logs_out_locally(client, oidc, app, make_user, monkeypatch, caplog):
    user = make_user("reporter", "P11-QC", username="sso_unreachable")
    sign_in_through_provider(client, Person(sub="un-1", preferred_username="sso_unreachable"), oidc)
    # the discovery document no longer answers (another address: the metadata is read again)
    monkeypatch.setitem(app.config, "OIDC_METADATA_URL", oidc.issuer + "/no-such-document")
    with caplog.at_level(logging.WARNING, logger="tracker.auth.sso"):
        answer = client.post("/logout")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert sessions_of(user) == 0 and not signed_in_as(client)
    assert any("single logout" in r.getMessage() and "local logout only" in r.getMessage() for r in caplog.records)
