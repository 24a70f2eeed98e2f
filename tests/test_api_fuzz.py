"""Schemathesis (from PyPI) over /api/v1/openapi.json against the Flask app through WSGI: every
operation, with parameters and bodies generated from the description (valid and invalid ones),
sent with a service token. No answer is a 500, and every answer matches what the description
declares for its status (body schema, content type, headers)."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tracker.api.tokens import create_service_token  # noqa: E402
from tracker.auth.service import unit_by_code  # noqa: E402
from tracker.extensions import db  # noqa: E402

EXAMPLES = 40
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def world(app, make_user, make_task):
    """A coordinator service token of a county unit, and things in (and out of) its reach: tasks
    (one overdue and escalated, so there are notifications), plans, units, an indicator form.
    Path parameters are drawn from these half of the time (random ones mostly find nothing)."""
    from tracker.indicators.service import open_period
    from tracker.models import IndicatorForm, Notification, Plan
    from tracker.tasks.escalation import escalate

    admin = make_user("admin", "NHC")
    new = create_service_token(admin, "fuzz", unit_by_code("WZ-LT"), "coordinator", 365)
    parent = make_task("WZ-LT", title="被模糊测试的", due_on=date(2024, 4, 22))
    child = make_task("WZ-LT", parent=parent, title="子任务")
    outside = make_task("P31-QC", title="够不着的")
    with time_machine.travel(date(2024, 4, 24), tick=False):
        escalate()
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(
        plan, make_user("coordinator", "WZ"), "half", 2016, 2, date(2016, 12, 12), "county", unit_by_code("WZ")
    )
    from io import BytesIO

    from tracker.plans.evidence import add_file

    evidence = add_file(child, admin, BytesIO(b"%PDF-1.4\n%%EOF\n"), "证明.pdf", "", None)
    db.session.commit()
    known = {
        "evidence_id": [evidence.id],
        "task_id": [parent.id, child.id, outside.id],
        "key": ["wuzhong-2016", "fixture-plan"],
        "code": ["WZ-LT", "WZ", "P31"],
        "form_id": list(db.session.scalars(select(IndicatorForm.id).where(IndicatorForm.period_id == period.id))),
        "notification_id": list(
            db.session.scalars(select(Notification.id).where(Notification.user_id == new.token.user_id))
        ),
    }
    assert all(known.values()), known
    limit = app.config["API_RATE_LIMIT"]
    app.config["API_RATE_LIMIT"] = 10**6  # the fuzzer sends many requests; the limit has its own test
    yield new.secret, known
    app.config["API_RATE_LIMIT"] = limit


def _fuzz(operation, mode, headers: dict, known: dict, statuses: Counter) -> None:
    """Hypothesis over one operation's cases of one mode (valid or invalid data)."""

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def fuzz(case, data):
        if case.path_parameters and data.draw(st.booleans()):
            for name in case.path_parameters:
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]))
        response = case.call(headers=headers)
        statuses[f"{operation.method.upper()} {operation.path} {mode} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

    fuzz()


def test_no_500_and_every_answer_matches_the_description(api_schema, world):
    """Each operation in turn, valid and invalid cases; every operation's first failure reported."""
    secret, known = world
    headers = {"Authorization": f"Bearer {secret}"}
    failures, seen, statuses = [], 0, Counter()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in GenerationMode:
            seen += 1
            try:
                _fuzz(operation, mode, headers, known, statuses)
            except BaseException as exc:  # a FailureGroup is a BaseExceptionGroup
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                failures.append(f"{operation.method.upper()} {operation.path} ({mode} cases): {exc}")
    print("\n".join(f"{n:4d} {k}" for k, n in sorted(statuses.items())))
    assert seen >= 2 * 18, "every operation of the description is fuzzed"
    assert any(k.endswith((" 200", " 201")) for k in statuses if "/{task_id}" in k), "cases reach real tasks"
    assert not failures, "\n\n".join(failures)
