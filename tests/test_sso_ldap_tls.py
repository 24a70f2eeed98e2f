"""LDAP over TLS against the real slapd (Debian's, GnuTLS), started by the test on two loopback
ports, ldap:// (for StartTLS) and ldaps://, with a throwaway CA and a server certificate made here
with the `cryptography` package. The directory's certificate is verified: the CA of LDAP_CA_FILE
signs in, another CA or a name the certificate does not hold is refused (the sign-in form's
error, a log line, no 500), and verification is off only when LDAP_TLS_VERIFY=0 says so, logged.
Skipped like tests/test_sso_ldap.py when slapd is not installed (CI=1: fails)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import subprocess
from pathlib import Path

import pytest

from tests.test_sso_ldap import (
    ROOT_DN,
    ROOT_PW,
    SLAPD,
    SUFFIX,
    _free_port,
    _wait_and_fill,
    english,
    sessions_of,
    signed_in,
)

ANNA = ("ldap_anna", "anna-dir-pass-1")


def _name(common: str):
    from cryptography.x509.oid import NameOID
    from cryptography import x509

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool, addresses=()):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]), critical=False
        ).add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, thing) -> Path:
    from cryptography.hazmat.primitives import serialization

    if hasattr(thing, "public_bytes") and hasattr(thing, "subject"):
        data = thing.public_bytes(serialization.Encoding.PEM)
    else:
        data = thing.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, the directory's certificate (for 127.0.0.1 only) signed by it, and another CA."""
    pytest.importorskip("cryptography")
    folder = tmp_path_factory.mktemp("ldap-pki")
    ca_key, other_key, server_key = _key(), _key(), _key()
    ca = _certificate("Tracker test CA", ca_key, "Tracker test CA", ca_key, ca=True)
    other = _certificate("Some other CA", other_key, "Some other CA", other_key, ca=True)
    server = _certificate("127.0.0.1", server_key, "Tracker test CA", ca_key, ca=False, addresses=["127.0.0.1"])
    return {
        "ca": _pem(folder / "ca.pem", ca),
        "other_ca": _pem(folder / "other-ca.pem", other),
        "cert": _pem(folder / "server.pem", server),
        "key": _pem(folder / "server-key.pem", server_key),
    }


@pytest.fixture(scope="module")
def slapd_tls(tmp_path_factory, pki):
    if SLAPD is None:
        if os.environ.get("CI") == "1":
            pytest.fail("slapd is not installed (.ci/run installs it with apt-get)")
        pytest.skip("slapd is not installed (apt-get install slapd)")
    folder = tmp_path_factory.mktemp("slapd-tls")
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
                f"TLSCACertificateFile {pki['ca']}",
                f"TLSCertificateFile {pki['cert']}",
                f"TLSCertificateKeyFile {pki['key']}",
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
    plain, secure = _free_port(), _free_port()
    urls = {"ldap": f"ldap://127.0.0.1:{plain}", "ldaps": f"ldaps://127.0.0.1:{secure}"}
    log = open(folder / "slapd.log", "w")
    process = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-h", f"{urls['ldap']}/ {urls['ldaps']}/", "-d", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_and_fill(urls["ldap"], process, folder)
        yield urls
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def directory(app, slapd_tls, pki, monkeypatch):
    """Set the directory up: directory(url kind, start_tls, ca file); by DN template, local passwords on."""

    def configure(kind: str = "ldaps", start_tls: bool = False, ca: str | None = "ca", verify: bool = True):
        monkeypatch.setitem(app.config, "LDAP_URL", slapd_tls[kind])
        monkeypatch.setitem(app.config, "LDAP_START_TLS", start_tls)
        monkeypatch.setitem(app.config, "LDAP_CA_FILE", str(pki[ca]) if ca in pki else (ca or ""))
        monkeypatch.setitem(app.config, "LDAP_TLS_VERIFY", verify)
        monkeypatch.setitem(app.config, "LDAP_USER_DN_TEMPLATE", f"uid={{username}},ou=people,{SUFFIX}")
        monkeypatch.setitem(app.config, "LDAP_SEARCH_BASE", "")
        monkeypatch.setitem(app.config, "LDAP_MATCH_BY", "username")
        monkeypatch.setitem(app.config, "LDAP_TIMEOUT", 3)
        monkeypatch.setitem(app.config, "LOCAL_LOGIN", True)
        monkeypatch.setitem(app.config, "OIDC_ISSUER", "")

    return configure


def _sign_in(client, who=ANNA):
    return client.post("/login", data={"username": who[0], "password": who[1]})


@pytest.mark.parametrize("kind, start_tls", [("ldaps", False), ("ldap", True)], ids=["ldaps", "starttls"])
def test_the_directory_over_tls_with_our_ca_signs_in(kind, start_tls, directory, client, make_user):
    directory(kind, start_tls)
    user = make_user("reporter", "P11-QC", username="ldap_anna")
    answer = _sign_in(client)
    assert answer.status_code == 303 and signed_in(client)
    assert sessions_of(user) == 1


def test_starttls_really_encrypts_what_it_sends(directory, app):
    """The bind after StartTLS goes over TLS (ldap3 says so), and the search by the service
    account works over it too."""
    from tracker.auth.ldap import _connection, ldap_settings

    directory("ldap", True)
    with app.test_request_context():
        settings = ldap_settings()
        connection = _connection(settings, ROOT_DN, ROOT_PW)
        connection.open()
        assert connection.start_tls() and connection.tls_started
        assert connection.bind()
        assert connection.socket.version().startswith("TLS")
        connection.unbind()


@pytest.mark.parametrize("kind, start_tls", [("ldaps", False), ("ldap", True)], ids=["ldaps", "starttls"])
def test_another_ca_is_refused_with_a_clear_log_line_and_the_forms_error(
    kind, start_tls, directory, client, make_user, caplog
):
    directory(kind, start_tls, ca="other_ca")
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    with caplog.at_level(logging.WARNING):
        answer = _sign_in(client)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400 and not signed_in(client)
    assert "The directory service&#39;s certificate could not be verified" in body or (
        "The directory service's certificate could not be verified" in body
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "tracker.auth.ldap"]
    assert any("LDAP over TLS to" in line and "not trusted" in line and "other-ca.pem" in line for line in lines)
    assert any("single sign-on refused: ldap_tls" in r.getMessage() for r in caplog.records)


def test_the_systems_trust_store_does_not_know_our_ca(directory, client, make_user, caplog):
    directory("ldaps", ca=None)  # no LDAP_CA_FILE: verified all the same, against the system's CAs
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    with caplog.at_level(logging.ERROR, logger="tracker.auth.ldap"):
        answer = _sign_in(client)
    assert answer.status_code == 400 and "certificate could not be verified" in answer.get_data(as_text=True)
    assert any("the system's trust store" in r.getMessage() for r in caplog.records)


def test_a_host_name_the_certificate_does_not_hold_is_refused(directory, app, client, make_user, monkeypatch, caplog):
    """The certificate is for 127.0.0.1; the same server by the name localhost is not it."""
    directory("ldaps")
    monkeypatch.setitem(app.config, "LDAP_URL", app.config["LDAP_URL"].replace("127.0.0.1", "localhost"))
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    with caplog.at_level(logging.ERROR, logger="tracker.auth.ldap"):
        answer = _sign_in(client)
    assert answer.status_code == 400 and "certificate could not be verified" in answer.get_data(as_text=True)
    assert any("doesn't match" in r.getMessage() and "localhost" in r.getMessage() for r in caplog.records)


def test_a_ca_file_that_is_not_there_is_said_so(directory, client, make_user, caplog):
    directory("ldaps", ca="/nonexistent/ca.pem")
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    with caplog.at_level(logging.ERROR, logger="tracker.auth.ldap"):
        answer = _sign_in(client)
    assert answer.status_code == 400 and "certificate could not be verified" in answer.get_data(as_text=True)
    assert any("/nonexistent/ca.pem" in r.getMessage() for r in caplog.records)


def test_verification_is_off_only_when_said_and_then_logged(directory, client, make_user, caplog):
    directory("ldaps", ca="other_ca", verify=False)
    make_user("reporter", "P11-QC", username="ldap_anna")
    with caplog.at_level(logging.WARNING, logger="tracker.auth.ldap"):
        answer = _sign_in(client)
    assert answer.status_code == 303
    assert any("WITHOUT verifying" in r.getMessage() for r in caplog.records)


def test_verification_is_on_unless_the_environment_says_otherwise(monkeypatch):
    from tracker.auth.ldap import ldap_settings
    from tracker.config import _bool

    monkeypatch.delenv("LDAP_TLS_VERIFY", raising=False)
    assert _bool("LDAP_TLS_VERIFY", True) is True
    settings = ldap_settings({"LDAP_URL": "ldaps://directory.example.org"})
    assert settings.tls_verify is True and settings.uses_tls and not settings.uses_start_tls
    assert ldap_settings({"LDAP_URL": "ldap://x", "LDAP_START_TLS": True}).uses_start_tls
    # ldaps:// with LDAP_START_TLS: TLS from the start, no second StartTLS
    assert not ldap_settings({"LDAP_URL": "LDAPS://x", "LDAP_START_TLS": True}).uses_start_tls


def test_a_wrong_password_over_tls_is_still_a_wrong_password(directory, client, make_user):
    directory("ldaps")
    make_user("reporter", "P11-QC", username="ldap_anna")
    english(client)
    answer = _sign_in(client, ("ldap_anna", "not-her-pass-9"))
    assert answer.status_code == 400 and "Wrong user name or password." in answer.get_data(as_text=True)


def test_an_unreachable_directory_over_tls_is_unreachable_not_a_certificate(directory, app, client, monkeypatch):
    directory("ldaps")
    monkeypatch.setitem(app.config, "LDAP_URL", f"ldaps://127.0.0.1:{_free_port()}")
    english(client)
    answer = _sign_in(client)
    assert answer.status_code == 400
    assert "The directory service cannot be reached now" in answer.get_data(as_text=True)
