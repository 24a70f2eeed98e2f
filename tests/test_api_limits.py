"""The API's limits: a token over its rate gets 429 with Retry-After (another token is not
affected, the next window lets it in again); a body over the size limit gets 413 in JSON, with
or without a declared length; every list is bounded (a `limit` above its maximum is 422, and the
description declares the bound of every list it answers)."""

# ruff: noqa: F811  (the api_as fixture is imported from tests/api_support.py)
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from tests.api_support import api_as, bearer, token_for  # noqa: F401
from tracker.api.openapi import description


@pytest.fixture
def rate(app):
    saved = app.config["API_RATE_LIMIT"], app.config["API_RATE_WINDOW"]
    app.config["API_RATE_LIMIT"], app.config["API_RATE_WINDOW"] = 3, 60
    yield
    app.config["API_RATE_LIMIT"], app.config["API_RATE_WINDOW"] = saved


def test_a_token_over_its_limit_gets_429_with_retry_after_and_another_token_does_not(client, make_user, rate):
    one, other = token_for(make_user("reporter", "P11-QC")), token_for(make_user("reporter", "P11-QC"))
    start = datetime.now(timezone.utc).replace(second=10, microsecond=0) + timedelta(minutes=1)
    with time_machine.travel(start, tick=False):
        assert [client.get("/api/v1/plans", headers=bearer(one)).status_code for _ in range(3)] == [200] * 3
        refused = client.get("/api/v1/plans", headers=bearer(one))
        assert refused.status_code == 429
        assert refused.mimetype == "application/json" and refused.json["error"] == "rate_limited"
        assert refused.headers["Retry-After"] == "50"  # seconds to the next window (10 s into this one)
        assert client.get("/api/v1/tasks", headers=bearer(one)).status_code == 429  # every operation counts
        assert client.get("/api/v1/plans", headers=bearer(other)).status_code == 200
    with time_machine.travel(start + timedelta(seconds=50), tick=False):
        assert client.get("/api/v1/plans", headers=bearer(one)).status_code == 200


def test_the_rate_limit_is_declared_on_every_operation_but_the_description():
    spec = description()
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if op["security"]:
                assert "Retry-After" in op["responses"]["429"]["headers"], (method, path)


def _comment(client, secret, task_id, data: bytes, **environ):
    return client.post(
        f"/api/v1/tasks/{task_id}/comments",
        data=data,
        content_type="application/json",
        headers=bearer(secret),
        environ_overrides=environ,
    )


def test_a_body_over_the_size_limit_gets_413_in_json(app, client, make_user, make_task):
    task = make_task("P11-QC")
    secret = token_for(make_user("reporter", "P11-QC"))
    limit = app.config["API_MAX_BODY_KB"] * 1024
    text = "a" * (limit - 20)
    fits = _comment(client, secret, task.id, f'{{"text":"{text[:1000]}"}}'.encode())
    assert fits.status_code in (201, 422)  # under the limit: looked at (a comment this long may be refused)
    big = _comment(client, secret, task.id, f'{{"text":"{text}{"b" * 100}"}}'.encode())
    assert big.status_code == 413 and big.mimetype == "application/json" and big.json["error"] == "too_large"
    # a body sent without a length (chunked) is cut at the limit all the same
    chunked = _comment(
        client,
        secret,
        task.id,
        f'{{"text":"{text}{"b" * 100}"}}'.encode(),
        CONTENT_LENGTH="",
        **{"wsgi.input_terminated": True},
    )
    assert chunked.status_code == 413 and chunked.json["error"] == "too_large"


def _lists(spec):
    """(method, path, operation, the maximum of its `limit` or None) of every operation answering a list."""
    schemas = spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            json_answer = op["responses"].get("200", {}).get("content", {}).get("application/json")
            if json_answer is None:
                continue  # no answer, or a file's bytes (an evidence download): not a list
            ref = json_answer["schema"]["$ref"]
            model = schemas[ref.rsplit("/", 1)[1]]
            if "items" in model["properties"]:
                limit = next((p for p in op.get("parameters", []) if p["name"] == "limit"), None)
                yield method, path, model, limit


def test_every_list_is_bounded_and_the_description_says_by_what():
    spec = description()
    found = list(_lists(spec))
    assert len(found) >= 5
    for method, path, model, limit in found:
        if limit is None:
            assert "maxItems" in model["properties"]["items"], (method, path)
        else:
            assert limit["schema"]["maximum"] <= 500 and limit["schema"]["default"] <= limit["schema"]["maximum"]
    for name, model in spec["components"]["schemas"].items():
        for field, prop in model.get("properties", {}).items():
            if field in ("children", "evidence", "journal"):
                assert "maxItems" in prop, (name, field)


def test_a_limit_above_its_maximum_is_refused_and_the_maximum_is_kept(api_as, make_user):
    api = api_as(make_user("admin", "NHC"))
    spec = description()
    checked = 0
    for _method, path, _model, limit in _lists(spec):
        if limit is None or "{" in path:
            continue
        top = limit["schema"]["maximum"]
        refused = api.get(f"{path}?limit={top + 1}")
        assert refused.status_code == 422, path
        assert [e["field"] for e in refused.json["errors"]] == ["query.limit"]
        kept = api.get(f"{path}?limit={top}")
        assert kept.status_code == 200 and len(kept.json["items"]) <= top, path
        checked += 1
    assert checked >= 4
