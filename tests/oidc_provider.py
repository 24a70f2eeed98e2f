"""A small, real OpenID Connect provider for the tests, built with Authlib's server components and
run on a loopback port by werkzeug's make_server in a thread (tests/test_sso.py, and the browser
test tests/e2e/test_sso_browser.py).

It serves the discovery document, the authorization endpoint (the authorization-code flow with
PKCE; it signs in the test person set on `provider.person`: straight away when `auto_approve`, or
after a click on its own page), the token endpoint (client_secret_basic / _post) issuing an
id_token signed with an RSA key made at start, and the JWKS with that key's public half, and
(while `end_session` is on) RP-Initiated Logout: the discovery document's end_session_endpoint,
which checks the id_token_hint (its signature, issuer and audience) and the
post_logout_redirect_uri, records the logout in `ended` and sends the browser back.
Everything is in memory; nothing of the tracker is imported.
"""

from __future__ import annotations

import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "tracker-test"
CLIENT_SECRET = "tracker-test-secret"
KEY_ID = "loopback-test-key"


@dataclass
class Person:
    """Who signs in at the provider: the claims of their id_token."""

    sub: str
    preferred_username: str = ""
    email: str = ""
    email_verified: bool = True
    name: str = ""

    def claims(self, scope: str) -> dict:
        claims = {"sub": self.sub}
        scopes = scope.split()
        if "profile" in scopes:
            claims["preferred_username"] = self.preferred_username
            claims["name"] = self.name or self.preferred_username
        if "email" in scopes:
            claims["email"] = self.email
            claims["email_verified"] = self.email_verified
        return claims


class Client(ClientMixin):
    def __init__(self, redirect_uris: list[str]):
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.redirect_uris = redirect_uris

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in ("openid", "profile", "email"))

    def check_redirect_uri(self, redirect_uri):
        # any loopback callback of the tracker under test (its port is chosen at random)
        parts = urlsplit(redirect_uri or "")
        return redirect_uri in self.redirect_uris or (
            parts.scheme == "http"
            and parts.hostname in ("127.0.0.1", "localhost")
            and parts.path == "/login/oidc/callback"
        )

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret or "", self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint != "token" or method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


class LoopbackProvider:
    """The provider; `start()` serves it on a free loopback port, `issuer` is its address."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
        self.signing_key = self.key  # a test swaps in another key to forge a signature
        self.person = Person(sub="u-1001", preferred_username="nobody", email="nobody@example.org")
        self.auto_approve = True
        self.end_session = True  # advertise and serve the end_session_endpoint
        self.ended: list[dict] = []  # the logouts it was asked for: sub, post_logout_redirect_uri, ...
        self.codes: dict[str, Code] = {}
        self.tokens: list[dict] = []
        self.issuer = ""
        self.client = Client([])
        self.app = self._make_app()
        self._server = None
        self._thread = None

    # -- the Authlib pieces ---------------------------------------------------------------------
    def _make_app(self) -> Flask:
        provider = self
        app = Flask("loopback_oidc_provider")
        app.config["SECRET_KEY"] = secrets.token_hex(16)

        class CodeGrant(AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code, request):
                provider.codes[code] = Code(
                    code=code,
                    client_id=request.client.get_client_id(),
                    redirect_uri=request.payload.redirect_uri,
                    scope=request.scope,
                    person=request.user,
                    nonce=request.payload.data.get("nonce"),
                    code_challenge=request.payload.data.get("code_challenge"),
                    code_challenge_method=request.payload.data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found is not None and found.client_id == client.get_client_id() else None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.person

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, request):
                return any(code.nonce == nonce for code in provider.codes.values())

            def resolve_client_private_key(self, client):
                return provider.signing_key

            def get_client_algorithm(self, client):
                return "RS256"

            def get_client_claims(self, client):
                return {"iss": provider.issuer, "aud": [client.get_client_id()]}

            def get_encode_header(self, client):
                return {"alg": "RS256", "kid": KEY_ID}

            def generate_user_info(self, user, scope):
                return UserInfo(user.claims(scope))

        server = AuthorizationServer(
            app,
            query_client=lambda client_id: self.client if client_id == CLIENT_ID else None,
            save_token=lambda token, request: self.tokens.append(token),
        )
        server.register_grant(CodeGrant, [IdToken(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery():
            extra = {"end_session_endpoint": provider.issuer + "/end-session"} if provider.end_session else {}
            return jsonify(
                **extra,
                issuer=provider.issuer,
                authorization_endpoint=provider.issuer + "/authorize",
                token_endpoint=provider.issuer + "/token",
                jwks_uri=provider.issuer + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                scopes_supported=["openid", "profile", "email"],
                token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
                code_challenge_methods_supported=["S256"],
                claims_supported=["sub", "preferred_username", "name", "email", "email_verified"],
            )

        @app.get("/favicon.ico")
        def favicon():
            return "", 204  # the browser asks for it; a 404 would be a console error

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[provider.key.as_dict(private=False)])

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            grant = server.get_consent_grant(end_user=provider.person)  # checks client, redirect, PKCE, nonce
            if request.method == "GET" and not provider.auto_approve:
                # the provider's own sign-in page: one button, for the test person
                return (
                    "<!doctype html><html lang=en><head><meta charset=utf-8>"
                    '<meta name="viewport" content="width=device-width, initial-scale=1">'
                    "<title>Loopback identity service</title></head>"
                    '<body style="font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem">'
                    "<h1>Loopback identity service</h1>"
                    f"<p>{html.escape(grant.client.get_client_id())} asks who you are.</p>"
                    f'<form method="post" action="/authorize?{html.escape(urlencode(request.args))}">'
                    f'<button id="approve" type="submit" style="font-size:1.1rem;padding:.6rem 1rem">'
                    f"Continue as {html.escape(provider.person.preferred_username or provider.person.email)}"
                    "</button></form></body></html>"
                )
            return server.create_authorization_response(grant_user=provider.person, grant=grant)

        @app.post("/token")
        def token():
            return server.create_token_response()

        @app.route("/end-session", methods=["GET", "POST"])
        def end_session():
            """RP-Initiated Logout 1.0: a valid id_token_hint of ours and a registered
            post_logout_redirect_uri, else 400 (the tests look at `ended`)."""
            if not provider.end_session:
                return "no end_session_endpoint here", 404
            values = request.values
            try:
                hint = jwt.decode(values.get("id_token_hint", ""), provider.key, algorithms=["RS256"])
            except (JoseError, ValueError) as error:
                return f"bad id_token_hint: {error}", 400
            claims = hint.claims
            audience = claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            if claims.get("iss") != provider.issuer or CLIENT_ID not in audiences:
                return "id_token_hint of another issuer or client", 400
            if values.get("client_id") and values.get("client_id") != CLIENT_ID:
                return "client_id does not match the hint", 400
            back = values.get("post_logout_redirect_uri", "")
            parts = urlsplit(back)
            if back and not (
                parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.path == "/login"
            ):
                return "post_logout_redirect_uri not registered", 400
            provider.ended.append(
                {"sub": claims.get("sub"), "post_logout_redirect_uri": back, "client_id": values.get("client_id")}
            )
            if not back:
                return "<!doctype html><title>Signed out</title><p>You are signed out.</p>"
            state = values.get("state")
            return redirect(back + (("&" if parts.query else "?") + urlencode({"state": state}) if state else ""))

        return app

    # -- serving ---------------------------------------------------------------------------------
    def start(self) -> "LoopbackProvider":
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)

    def environment(self, **extra) -> dict:
        """The tracker's OIDC_* settings for this provider."""
        return {
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_PROVIDER_NAME": "Loopback ID",
            **extra,
        }
