"""Single sign-on: OpenID Connect through Authlib's Flask client, and the identity mapping that
OIDC and LDAP (tracker/auth/ldap.py) share.

An identity confirmed by the provider maps to an EXISTING active user of the tracker, by user name
or by e-mail (OIDC_MATCH_BY / LDAP_MATCH_BY); single sign-on never creates an account and never
takes a role from the provider: the tracker's own user row decides what the person may do. The
sign-in itself then goes through the same code as a password sign-in (tracker/auth/routes.py
`start_signed_in_session`), so the session record, its revocation, the idle timeout and the sign-in
throttle apply unchanged.

Single logout (OpenID Connect RP-Initiated Logout 1.0): the id_token of an OIDC sign-in is kept
in the (signed) session cookie; at logout, when the provider's discovery document advertises an
`end_session_endpoint`, the browser goes there with `id_token_hint` and
`post_logout_redirect_uri` (the sign-in page) after the local session has ended, so the
provider's own session ends too. Without that endpoint (or when the provider cannot be reached)
the logout is local only.

OIDC is off while OIDC_ISSUER (or OIDC_METADATA_URL) or OIDC_CLIENT_ID is empty. Authlib keeps the
state, the nonce and the PKCE verifier in the signed session cookie and checks them on the way
back: a callback whose state is not the one it sent is refused, an id_token whose signature
(the provider's JWKS), issuer, audience, expiry or nonce is wrong is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.lazy_text import lazy_gettext as _l
from tracker.models import User

log = logging.getLogger(__name__)

MATCH_BY = ("username", "email")
_CLIENT_KEY = "tracker.oidc_client"
# the session key of an OIDC sign-in's id_token (the id_token_hint of the single logout)
ID_TOKEN_KEY = "oidc_id_token"


class SignInRefused(Exception):
    """A confirmed identity that does not sign anyone in; `message` is for the person signing in,
    `reason` (a short word) and `detail` for the log."""

    def __init__(self, message, reason: str, detail: str = ""):
        super().__init__(str(message))
        self.message = message
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in: the method ("oidc", "ldap"), the provider's subject (sub
    or DN), the user name and e-mail it gave, and whether it vouches for the e-mail."""

    method: str
    subject: str
    username: str = ""
    email: str = ""
    email_verified: bool = False
    id_token: str = field(default="", repr=False)  # OIDC: the raw id_token (for the single logout)


def user_for_identity(identity: Identity, match_by: str, require_verified_email: bool = True) -> User:
    """The existing active user this identity signs in as; else SignInRefused.

    By "username": the user whose user name equals the identity's (as stored, spaces trimmed).
    By "email": the one user whose e-mail equals the identity's, ignoring case; two users with
    that address are refused (nobody can tell which one is meant), and so is an address the
    provider did not verify unless `require_verified_email` is off."""
    if match_by not in MATCH_BY:
        raise SignInRefused(_l("Single sign-on is not set up right: ask an administrator."), "config", match_by)
    if match_by == "username":
        name = (identity.username or "").strip()
        if not name:
            raise SignInRefused(_l("The sign-in service gave no user name."), "no_claim", "username")
        users = list(db.session.scalars(select(User).where(User.username == name).limit(2)))
        wanted = name
    else:
        address = (identity.email or "").strip().lower()
        if not address or "@" not in address:
            raise SignInRefused(_l("The sign-in service gave no e-mail address."), "no_claim", "email")
        if require_verified_email and not identity.email_verified:
            raise SignInRefused(
                _l("The sign-in service has not confirmed your e-mail address."), "unverified_email", address
            )
        users = list(db.session.scalars(select(User).where(func.lower(User.email) == address).limit(2)))
        wanted = address
    if not users:
        raise SignInRefused(
            _l("No account of this tracker belongs to %(who)s: ask an administrator to create one.", who=wanted),
            "no_match",
            wanted,
        )
    if len(users) > 1:
        raise SignInRefused(
            _l("Several accounts have the e-mail address %(who)s: ask an administrator.", who=wanted),
            "ambiguous",
            wanted,
        )
    user = users[0]
    if not user.active:
        raise SignInRefused(_l("This account is disabled: ask an administrator."), "disabled", user.username)
    return user


def log_refusal(identity: Optional[Identity], refusal: SignInRefused, address: str) -> None:
    log.warning(
        "single sign-on refused: %s (%s) method=%s subject=%r username=%r email=%r address=%s",
        refusal.reason,
        refusal.detail,
        identity.method if identity else "-",
        identity.subject if identity else "",
        identity.username if identity else "",
        identity.email if identity else "",
        address,
    )


# -- OpenID Connect -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcSettings:
    metadata_url: str
    client_id: str
    client_secret: str
    scopes: str
    match_by: str
    username_claim: str
    email_claim: str
    require_verified_email: bool
    provider_name: str
    timeout: float


def oidc_settings(config=None) -> Optional[OidcSettings]:
    """The OIDC settings from the app's configuration, or None when OIDC is off."""
    config = config if config is not None else current_app.config
    issuer = (config.get("OIDC_ISSUER") or "").strip().rstrip("/")
    metadata_url = (config.get("OIDC_METADATA_URL") or "").strip()
    client_id = (config.get("OIDC_CLIENT_ID") or "").strip()
    if not client_id or not (issuer or metadata_url):
        return None
    return OidcSettings(
        metadata_url=metadata_url or f"{issuer}/.well-known/openid-configuration",
        client_id=client_id,
        client_secret=config.get("OIDC_CLIENT_SECRET") or "",
        scopes=config.get("OIDC_SCOPES") or "openid profile email",
        match_by=(config.get("OIDC_MATCH_BY") or "username").strip().lower(),
        username_claim=config.get("OIDC_USERNAME_CLAIM") or "preferred_username",
        email_claim=config.get("OIDC_EMAIL_CLAIM") or "email",
        require_verified_email=bool(config.get("OIDC_REQUIRE_VERIFIED_EMAIL", True)),
        provider_name=(config.get("OIDC_PROVIDER_NAME") or "").strip(),
        timeout=float(config.get("OIDC_TIMEOUT") or 10),
    )


def oidc_enabled() -> bool:
    return oidc_settings() is not None


def provider_label():
    settings = oidc_settings()
    if settings is None:
        return ""
    return settings.provider_name or _l("single sign-on")


def oidc_client():
    """Authlib's Flask client for the configured provider, made on first use and kept per app
    (made afresh when the settings change: tests switch them). The provider's metadata and keys
    are fetched when first needed, not at start-up."""
    from authlib.integrations.flask_client import OAuth

    settings = oidc_settings()
    if settings is None:
        return None
    cached = current_app.extensions.get(_CLIENT_KEY)
    if cached is not None and cached[0] == settings:
        return cached[1]
    oauth = OAuth()
    oauth.init_app(current_app)
    client = oauth.register(
        name="oidc",
        client_id=settings.client_id,
        client_secret=settings.client_secret or None,
        server_metadata_url=settings.metadata_url,
        client_kwargs={
            "scope": settings.scopes,
            "code_challenge_method": "S256",  # PKCE on top of the client secret
            "timeout": settings.timeout,
        },
    )
    current_app.extensions[_CLIENT_KEY] = (settings, client)
    return client


def begin_oidc_sign_in(redirect_uri: str):
    """The redirect to the provider's authorization page (state, nonce and PKCE verifier kept in
    the session by Authlib)."""
    return oidc_client().authorize_redirect(redirect_uri)


def finish_oidc_sign_in() -> Identity:
    """At the callback: exchange the code, check the id_token (Authlib: signature by the JWKS,
    issuer, audience, expiry, nonce; state against the session) and return the identity in it.
    Raises SignInRefused for a provider's error, a state mismatch or a missing id_token."""
    from authlib.integrations.base_client.errors import OAuthError

    settings = oidc_settings()
    failed = _l("Signing in through %(provider)s did not succeed: try again.", provider=provider_label())
    try:
        token = oidc_client().authorize_access_token()
    except OAuthError as error:
        raise SignInRefused(failed, "oauth_error", f"{error.error}: {error.description}") from None
    except Exception as error:  # noqa: BLE001  (bad signature, wrong nonce/issuer, provider unreachable)
        raise SignInRefused(failed, "id_token", f"{type(error).__name__}: {error}") from None
    claims = token.get("userinfo")
    if not claims:
        raise SignInRefused(failed, "no_id_token", "the token response carried no verified id_token")
    verified = claims.get("email_verified")
    return Identity(
        method="oidc",
        subject=str(claims.get("sub") or ""),
        username=str(claims.get(settings.username_claim) or ""),
        email=str(claims.get(settings.email_claim) or ""),
        email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
        id_token=str(token.get("id_token") or ""),
    )


def end_session_url(id_token: str, post_logout_redirect_uri: str) -> Optional[str]:
    """Where the browser goes to end its session at the provider too: the provider's
    end_session_endpoint with id_token_hint, post_logout_redirect_uri and client_id; None (a
    local logout only) when OIDC is off, there is no id_token, the provider advertises no such
    endpoint or its discovery document cannot be read (logged)."""
    from authlib.common.urls import add_params_to_uri

    settings = oidc_settings()
    if settings is None or not id_token:
        return None
    try:
        metadata = oidc_client().load_server_metadata()
    except Exception as error:  # noqa: BLE001  (unreachable, not JSON, an HTTP error)
        log.warning("single logout: the provider's metadata could not be read, local logout only: %s", error)
        return None
    endpoint = str(metadata.get("end_session_endpoint") or "")
    if not endpoint:
        return None
    if urlsplit(endpoint).scheme not in ("https", "http"):
        log.warning("single logout: end_session_endpoint %r is not a web address, local logout only", endpoint)
        return None
    return add_params_to_uri(
        endpoint,
        [
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", post_logout_redirect_uri),
            ("client_id", settings.client_id),
        ],
    )
