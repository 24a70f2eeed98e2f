"""Sign-in by LDAP bind against a real OpenLDAP server (Debian's slapd), started on a loopback port
by the test with a temporary slapd.conf (no system service). Skipped when slapd is not installed,
except in CI (`.ci/run` installs it and sets CI=1: a missing slapd fails)."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import AuditEntry, UserSession

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "slapd-root-secret"
SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)
PEOPLE = [
    # uid, password, mail
    ("ldap_anna", "anna-dir-pass-1", "Anna.Li@example.org"),
    ("ldap_ben", "ben-dir-pass-2", "ben@example.org"),
    ("ldap_off", "off-dir-pass-3", "off@example.org"),
    ("weird,name=x", "weird-dir-pass-4", "weird@example.org"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def slapd(tmp_path_factory):
    if SLAPD is None:
        if os.environ.get("CI") == "1":
            pytest.fail("slapd is not installed (.ci/run installs it with apt-get)")
        pytest.skip("slapd is not installed (apt-get install slapd)")
    folder = tmp_path_factory.mktemp("slapd")
    (folder / "db").mkdir()
    conf = folder / "slapd.conf"
    conf.write_text(
        "\n".join(
            [
                "include /etc/ldap/schema/core.schema",
                "include /etc/ldap/schema/cosine.schema",
                "include /etc/ldap/schema/nis.schema",
                "include /etc/ldap/schema/inetorgperson.schema",
                f"pidfile {folder / 'slapd.pid'}",
                "modulepath /usr/lib/ldap",
                "moduleload back_mdb",
                "database mdb",
                "maxsize 10485760",
                f'suffix "{SUFFIX}"',
                f'rootdn "{ROOT_DN}"',
                f"rootpw {ROOT_PW}",
                f"directory {folder / 'db'}",
                "access to attrs=userPassword by self write by anonymous auth by * none",
                "access to * by * read",
                "",
            ]
        )
    )
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    log = open(folder / "slapd.log", "w")
    # -d 0: stay in the foreground (this process is the server; the test ends it)
    process = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-h", url + "/", "-d", "0"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_and_fill(url, process, folder)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_and_fill(url: str, process, folder: Path) -> None:
    from ldap3 import Connection, Server

    deadline = time.monotonic() + 20
    while True:
        if process.poll() is not None:
            raise RuntimeError("slapd did not start: " + (folder / "slapd.log").read_text())
        try:
            admin = Connection(Server(url, connect_timeout=1), ROOT_DN, ROOT_PW, auto_bind=True)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    admin.add(SUFFIX, ["dcObject", "organization"], {"dc": "example", "o": "Example"})
    admin.add(f"ou=people,{SUFFIX}", ["organizationalUnit"], {"ou": "people"})
    from ldap3.utils.dn import escape_rdn

    for uid, password, mail in PEOPLE:
        assert admin.add(
            f"uid={escape_rdn(uid)},ou=people,{SUFFIX}",
            ["inetOrgPerson"],
            {"uid": uid, "cn": uid, "sn": uid, "mail": mail, "userPassword": password},
        ), admin.result
    admin.unbind()


@pytest.fixture
def ldap_by_template(app, slapd, monkeypatch):
    monkeypatch.setitem(app.config, "LDAP_URL", slapd)
    monkeypatch.setitem(app.config, "LDAP_USER_DN_TEMPLATE", f"uid={{username}},ou=people,{SUFFIX}")
    monkeypatch.setitem(app.config, "LDAP_SEARCH_BASE", "")
    monkeypatch.setitem(app.config, "LDAP_MATCH_BY", "username")
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", True)
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "")
    return slapd


@pytest.fixture
def ldap_by_search(app, slapd, monkeypatch):
    monkeypatch.setitem(app.config, "LDAP_URL", slapd)
    monkeypatch.setitem(app.config, "LDAP_USER_DN_TEMPLATE", "")
    monkeypatch.setitem(app.config, "LDAP_SEARCH_BASE", f"ou=people,{SUFFIX}")
    monkeypatch.setitem(app.config, "LDAP_SEARCH_FILTER", "(&(objectClass=inetOrgPerson)(uid={username}))")
    monkeypatch.setitem(app.config, "LDAP_BIND_DN", ROOT_DN)
    monkeypatch.setitem(app.config, "LDAP_BIND_PASSWORD", ROOT_PW)
    monkeypatch.setitem(app.config, "LDAP_MATCH_BY", "username")
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", True)
    monkeypatch.setitem(app.config, "OIDC_ISSUER", "")
    return slapd


def english(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "en"


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def sessions_of(user) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


@pytest.mark.parametrize("mode", ["ldap_by_template", "ldap_by_search"])
def test_the_directory_password_signs_in_the_user_of_the_same_name(mode, request, client, make_user):
    request.getfixturevalue(mode)
    user = make_user("reporter", "P11-QC", username="ldap_anna")
    answer = client.post("/login", data={"username": "ldap_anna", "password": "anna-dir-pass-1"})
    assert answer.status_code == 303 and signed_in(client)
    assert sessions_of(user) == 1
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.subject_id == user.id, AuditEntry.action == "sign_in")
    )
    assert entry is not None and entry.comment.startswith("LDAP · uid=ldap_anna,ou=people")


@pytest.mark.parametrize("mode", ["ldap_by_template", "ldap_by_search"])
def test_a_wrong_directory_password_is_a_failed_sign_in(mode, request, client, make_user):
    request.getfixturevalue(mode)
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    answer = client.post("/login", data={"username": "ldap_anna", "password": "not-her-pass-9"})
    assert answer.status_code == 400 and "Wrong user name or password." in answer.get_data(as_text=True)
    assert not signed_in(client)
    from tracker.models.security import LoginFailure

    assert db.session.scalar(select(func.count()).select_from(LoginFailure).where(LoginFailure.username == "ldap_anna"))


def test_local_passwords_still_work_next_to_ldap(ldap_by_template, client, make_user):
    make_user("reporter", "P11-QC", username="local_only_1")
    assert client.post("/login", data={"username": "local_only_1", "password": PASSWORD}).status_code == 303
    assert signed_in(client)


def test_local_login_off_leaves_only_the_directory(ldap_by_template, app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOCAL_LOGIN", False)
    make_user("reporter", "P11-QC", username="ldap_ben")
    page = client.get("/login").get_data(as_text=True)
    assert 'id="login-form"' in page  # the form now asks for the directory's password
    assert client.post("/login", data={"username": "ldap_ben", "password": PASSWORD}).status_code == 400
    assert client.post("/login", data={"username": "ldap_ben", "password": "ben-dir-pass-2"}).status_code == 303


def test_mapping_by_email(ldap_by_template, app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LDAP_MATCH_BY", "email")
    user = make_user("coordinator", "P11", username="anna_in_tracker")
    user.email = "anna.li@EXAMPLE.org"
    db.session.commit()
    assert client.post("/login", data={"username": "ldap_anna", "password": "anna-dir-pass-1"}).status_code == 303
    assert sessions_of(user) == 1


@pytest.mark.parametrize("case", ["no_user", "disabled"])
def test_a_directory_person_without_an_active_user_is_refused(case, ldap_by_template, client, make_user, caplog):
    expected = "No account of this tracker belongs to ldap_off"
    if case == "disabled":
        user = make_user("reporter", "P11-QC", username="ldap_off")
        user.active = False
        db.session.commit()
        expected = "This account is disabled"
    english(client)
    with caplog.at_level(logging.WARNING, logger="tracker.auth.sso"):
        answer = client.post("/login", data={"username": "ldap_off", "password": "off-dir-pass-3"})
    assert answer.status_code == 400 and expected in answer.get_data(as_text=True)
    assert not signed_in(client)
    assert any("single sign-on refused" in r.getMessage() and "method=ldap" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["ldap_by_template", "ldap_by_search"])
@pytest.mark.parametrize(
    "typed", ["*", "ldap_*", "ldap_an*", "ldap_anna)(uid=*", "ldap_anna,ou=people", "weird,name=x"]
)
def test_special_characters_in_the_name_match_only_themselves(mode, typed, request, client, make_user):
    """The typed name is escaped for the DN (escape_rdn) and the filter (escape_filter_chars)."""
    request.getfixturevalue(mode)
    make_user("reporter", "P11-QC", username="ldap_anna")
    make_user("reporter", "P11-QC", username="weird,name=x")
    for password in ("anna-dir-pass-1", "weird-dir-pass-4"):
        answer = client.post("/login", data={"username": typed, "password": password})
        ok = typed == "weird,name=x" and password == "weird-dir-pass-4"
        assert (answer.status_code == 303) is ok, (typed, password)
        if ok:
            client.post("/logout")


def test_an_empty_password_never_reaches_the_directory(ldap_by_template, app):
    from tracker.auth.ldap import directory_identity, ldap_settings

    with app.test_request_context():
        assert directory_identity("ldap_anna", "", ldap_settings()) is None  # an anonymous bind would "succeed"


def test_an_unreachable_directory_is_said_so(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "LDAP_URL", f"ldap://127.0.0.1:{_free_port()}")
    monkeypatch.setitem(app.config, "LDAP_USER_DN_TEMPLATE", f"uid={{username}},ou=people,{SUFFIX}")
    monkeypatch.setitem(app.config, "LDAP_TIMEOUT", 2)
    english(client)
    answer = client.post("/login", data={"username": "ldap_anna", "password": "anna-dir-pass-1"})
    assert answer.status_code == 400
    assert "The directory service cannot be reached now" in answer.get_data(as_text=True)
