"""Sign-in by LDAP bind (ldap3): the sign-in form's password is checked by binding to the directory
as that person; the entry then maps to an existing active user as an OIDC identity does
(tracker/auth/sso.py `user_for_identity`: by user name or e-mail, never creating anyone).

Off while LDAP_URL is empty. The person's entry is found either by a DN template
(LDAP_USER_DN_TEMPLATE, "uid={username},ou=people,dc=example,dc=org") or by a search
(LDAP_SEARCH_BASE + LDAP_SEARCH_FILTER "(uid={username})", as LDAP_BIND_DN or anonymously). The
typed name is escaped for where it goes (ldap3's escape_rdn in a DN, escape_filter_chars in a
filter), so "*", ")(", "," or "=" in it match nothing but themselves. An empty password is refused
before any bind (an LDAP simple bind without a password is an anonymous bind that "succeeds").

TLS: `ldaps://` in LDAP_URL, or StartTLS on `ldap://` (LDAP_START_TLS=1). The directory's
certificate is always verified (the chain against LDAP_CA_FILE, or the system's trust store when
it is empty, and the host name of LDAP_URL against the certificate), unless LDAP_TLS_VERIFY=0
says otherwise, which every TLS connection then logs as a warning: never silently off (ldap3's
own default, CERT_NONE, is never used). A certificate the tracker does not trust is a refused
sign-in with a log line saying so (tracker.auth.ldap) and the sign-in form's error, not a 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flask import current_app

from tracker.auth.sso import Identity, SignInRefused, log_refusal, user_for_identity
from tracker.lazy_text import lazy_gettext as _l
from tracker.models import User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LdapSettings:
    url: str
    dn_template: str
    search_base: str
    search_filter: str
    bind_dn: str
    bind_password: str
    match_by: str
    username_attribute: str
    email_attribute: str
    start_tls: bool
    timeout: float
    ca_file: str = ""  # PEM file of the CA(s) the directory's certificate chains to; "": the system's
    tls_verify: bool = True

    @property
    def uses_tls(self) -> bool:
        return self.url.lower().startswith("ldaps://") or self.start_tls

    @property
    def uses_start_tls(self) -> bool:
        """StartTLS on ldap:// (on ldaps:// the connection is TLS from the start)."""
        return self.start_tls and not self.url.lower().startswith("ldaps://")


def ldap_settings(config=None) -> Optional[LdapSettings]:
    config = config if config is not None else current_app.config
    url = (config.get("LDAP_URL") or "").strip()
    if not url:
        return None
    return LdapSettings(
        url=url,
        dn_template=(config.get("LDAP_USER_DN_TEMPLATE") or "").strip(),
        search_base=(config.get("LDAP_SEARCH_BASE") or "").strip(),
        search_filter=(config.get("LDAP_SEARCH_FILTER") or "(uid={username})").strip(),
        bind_dn=config.get("LDAP_BIND_DN") or "",
        bind_password=config.get("LDAP_BIND_PASSWORD") or "",
        match_by=(config.get("LDAP_MATCH_BY") or "username").strip().lower(),
        username_attribute=config.get("LDAP_USERNAME_ATTRIBUTE") or "uid",
        email_attribute=config.get("LDAP_EMAIL_ATTRIBUTE") or "mail",
        start_tls=bool(config.get("LDAP_START_TLS")),
        timeout=float(config.get("LDAP_TIMEOUT") or 5),
        ca_file=(config.get("LDAP_CA_FILE") or "").strip(),
        tls_verify=bool(config.get("LDAP_TLS_VERIFY", True)),
    )


def ldap_enabled() -> bool:
    return ldap_settings() is not None


def user_dn(settings: LdapSettings, username: str) -> str:
    """The DN of the template with the name escaped as an RDN value (RFC 4514)."""
    from ldap3.utils.dn import escape_rdn

    return settings.dn_template.format(username=escape_rdn(username))


def user_filter(settings: LdapSettings, username: str) -> str:
    """The search filter with the name escaped as a filter value (RFC 4515)."""
    from ldap3.utils.conv import escape_filter_chars

    return settings.search_filter.format(username=escape_filter_chars(username))


class TlsRefused(Exception):
    """The TLS set-up is wrong before any connection (a CA file that is not there)."""


def tls_settings(settings: LdapSettings):
    """ldap3's Tls for ldaps:// and StartTLS: the certificate required and checked against
    LDAP_CA_FILE (else the system's trust store), the host name checked by ldap3 after the
    handshake; CERT_NONE only when LDAP_TLS_VERIFY=0 says so, logged every time."""
    import ssl

    from ldap3 import Tls

    if not settings.tls_verify:
        log.warning(
            "LDAP over TLS to %s WITHOUT verifying the directory's certificate (LDAP_TLS_VERIFY=0): "
            "anyone in between can read the passwords",
            settings.url,
        )
        return Tls(validate=ssl.CERT_NONE)
    if settings.ca_file and not Path(settings.ca_file).is_file():
        raise TlsRefused(f"LDAP_CA_FILE {settings.ca_file} is not a readable file")
    return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file or None)


def _connection(settings: LdapSettings, user: Optional[str], password: Optional[str]):
    from ldap3 import NONE, Connection, Server

    seconds = max(1, int(settings.timeout))  # ldap3 packs them as whole seconds
    tls = tls_settings(settings) if settings.uses_tls else None
    server = Server(settings.url, get_info=NONE, connect_timeout=seconds, tls=tls)
    return Connection(
        server,
        user=user,
        password=password,
        read_only=True,
        receive_timeout=seconds,
        raise_exceptions=False,
    )


class StartTlsRefused(RuntimeError):
    """The directory answered StartTLS with a refusal."""


def _bind(connection, start_tls: bool) -> bool:
    connection.open()
    if start_tls and not connection.start_tls():
        raise StartTlsRefused("the directory did not start TLS")
    return bool(connection.bind())


def _is_tls_failure(error: BaseException) -> bool:
    """A certificate not trusted, a host name not in it, a handshake or StartTLS that failed."""
    import ssl

    from ldap3.core.exceptions import LDAPCertificateError, LDAPSSLConfigurationError, LDAPStartTLSError

    if isinstance(
        error, (ssl.SSLError, LDAPCertificateError, LDAPSSLConfigurationError, LDAPStartTLSError, StartTlsRefused)
    ):
        return True
    # ldap3 wraps a failed handshake as LDAPSocketOpenError("socket ssl wrapping error: [SSL: …]")
    text = str(error).lower()
    return any(words in text for words in ("certificate", "ssl wrapping", "[ssl"))


def _first(entry_attributes: dict, name: str) -> str:
    value = entry_attributes.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return str(value or "")


def directory_identity(username: str, password: str, settings: Optional[LdapSettings] = None) -> Optional[Identity]:
    """The directory's entry of this person when the password binds as them, else None (unknown
    name, wrong password). SignInRefused when the directory cannot be reached or is misconfigured."""
    from ldap3 import BASE, SUBTREE
    from ldap3.core.exceptions import LDAPException

    settings = settings or ldap_settings()
    username = (username or "").strip()
    if not username or not password:
        return None
    unreachable = _l("The directory service cannot be reached now: try again later.")
    attributes = [settings.username_attribute, settings.email_attribute]
    try:
        if settings.dn_template:
            dn = user_dn(settings, username)
            connection = _connection(settings, dn, password)
            if not _bind(connection, settings.uses_start_tls):
                return None
            connection.search(dn, "(objectClass=*)", search_scope=BASE, attributes=attributes)
            found = connection.response[0].get("attributes", {}) if connection.response else {}
            connection.unbind()
        elif settings.search_base:
            finder = _connection(settings, settings.bind_dn or None, settings.bind_password or None)
            if not _bind(finder, settings.uses_start_tls):
                raise SignInRefused(unreachable, "ldap_service_bind", str(finder.result))
            finder.search(
                settings.search_base,
                user_filter(settings, username),
                search_scope=SUBTREE,
                attributes=attributes,
                size_limit=2,
            )
            entries = [item for item in (finder.response or []) if item.get("type") == "searchResEntry"]
            finder.unbind()
            if len(entries) != 1:
                return None  # nobody, or a filter that does not single out one person
            dn = entries[0]["dn"]
            found = entries[0].get("attributes", {})
            connection = _connection(settings, dn, password)
            if not _bind(connection, settings.uses_start_tls):
                return None
            connection.unbind()
        else:
            raise SignInRefused(
                _l("Single sign-on is not set up right: ask an administrator."),
                "config",
                "LDAP_USER_DN_TEMPLATE or LDAP_SEARCH_BASE is needed",
            )
    except (LDAPException, OSError, RuntimeError, TlsRefused) as error:
        if settings.uses_tls and (isinstance(error, TlsRefused) or _is_tls_failure(error)):
            log.error(
                "LDAP over TLS to %s refused (%s: %s): the directory's certificate is not trusted with "
                "LDAP_CA_FILE=%s, or its name is not the host of LDAP_URL; verification stays on",
                settings.url,
                type(error).__name__,
                error,
                settings.ca_file or "(the system's trust store)",
            )
            raise SignInRefused(
                _l("The directory service's certificate could not be verified: ask an administrator."),
                "ldap_tls",
                f"{type(error).__name__}: {error}",
            ) from None
        raise SignInRefused(unreachable, "ldap_unreachable", f"{type(error).__name__}: {error}") from None
    return Identity(
        method="ldap",
        subject=dn,
        username=_first(found, settings.username_attribute) or username,
        email=_first(found, settings.email_attribute),
        email_verified=True,  # the directory is the organisation's own record
    )


def authenticate_ldap(username: str, password: str, address: str = "") -> Optional[User]:
    """The existing active user the directory signs in with this name and password; None for a
    wrong name or password; SignInRefused (logged) when the directory confirms the person but no
    user of the tracker may sign in as them, or cannot be reached. Journals a sign-in (flushes)."""
    from tracker.audit import journal

    settings = ldap_settings()
    identity = None
    try:
        identity = directory_identity(username, password, settings)
        if identity is None:
            return None
        user = user_for_identity(identity, settings.match_by, require_verified_email=False)
    except SignInRefused as refusal:
        log_refusal(identity, refusal, address)
        raise
    journal.record_user(user, user, "sign_in", comment=f"LDAP · {identity.subject}"[:300])
    return user
