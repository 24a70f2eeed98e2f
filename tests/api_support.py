"""Helpers of the API tests: a token for a user, and a client that sends it."""

from __future__ import annotations

import pytest

from tracker.api.tokens import create_personal_token
from tracker.extensions import db


def token_for(user, days: int = 90) -> str:
    new = create_personal_token(user, f"test token {user.username}", days)
    db.session.commit()
    return new.secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


class ApiClient:
    """The test client with a user's token on every request (no cookie involved)."""

    def __init__(self, client, secret: str):
        self.client, self.secret = client, secret

    def get(self, url, **kw):
        return self.client.get(url, headers=bearer(self.secret), **kw)

    def post(self, url, json=None, **kw):
        return self.client.post(url, headers=bearer(self.secret), json=json, **kw)


@pytest.fixture
def api_as(app):
    """`api_as(user)`: a client acting through a fresh personal token of `user`."""

    def make(user):
        return ApiClient(app.test_client(), token_for(user))

    return make
