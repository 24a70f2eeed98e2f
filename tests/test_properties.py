"""Property-based tests (hypothesis): the status state machine and the plan loader."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.importer.schema import SeedError, parse_plan_file
from tracker.plans.status import (
    ACCEPTED,
    CANCELLED,
    RETURNED,
    STATUSES,
    SUBMITTED,
    TRANSITIONS,
    Actor,
    TransitionError,
    allowed_targets,
    check_transition,
)

actors = st.builds(Actor, st.booleans(), st.booleans(), st.booleans(), is_acceptor=st.booleans())
statuses = st.sampled_from(STATUSES)


@given(current=statuses, target=statuses, actor=actors, reason=st.text(max_size=20))
def test_a_transition_is_allowed_exactly_when_the_table_says_so(current, target, actor, reason):
    rule = TRANSITIONS.get((current, target))
    expected = rule is not None and actor.has(rule[0]) and (not rule[1] or reason.strip() != "")
    try:
        check_transition(current, target, actor, reason)
        allowed = True
    except TransitionError:
        allowed = False
    assert allowed == expected
    assert (target in allowed_targets(current, actor)) == (rule is not None and actor.has(rule[0]))


@given(path=st.lists(st.tuples(statuses, actors), max_size=12))
def test_cancelled_is_final_and_accepted_work_only_reopens_by_a_reviewer_with_a_reason(path):
    status = "not_started"
    for target, actor in path:
        try:
            check_transition(status, target, actor, "理由")
        except TransitionError:
            continue
        assert status != CANCELLED  # nothing leaves a cancelled task
        if status == ACCEPTED and target == SUBMITTED:  # 撤销通过: only the acceptor, in the window
            assert actor.is_acceptor
            check_transition(status, target, actor, " ")  # no reason needed
        elif status == ACCEPTED:  # reopened (重新打开): returned to the owner, by a reviewer above it
            assert target == RETURNED and actor.is_reviewer
            with pytest.raises(TransitionError):
                check_transition(status, target, actor, " ")  # never without a reason
        status = target


@given(actor=actors)
def test_accepted_work_goes_back_to_review_only_by_its_acceptor(actor):
    allowed = SUBMITTED in allowed_targets(ACCEPTED, actor)
    assert allowed == actor.is_acceptor


UNITS = {"NHC", "P11", "P11-QC"}
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.dates().map(str),
    st.just("2024-02-30"),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=12,
)
task_fields = st.fixed_dictionaries(
    {},
    optional={
        "ref": values,
        "title": values,
        "owner": st.one_of(values, st.sampled_from(["P11", "NOPE", {"each": {"kind": "qc_center"}}])),
        "due": values,
        "start": values,
        "weight": values,
        "recurrence": st.one_of(values, st.just("FREQ=MONTHLY;BYMONTHDAY=-1")),
        "children": values,
        "phase": values,
        "deliverable": values,
        "co_owners": values,
    },
)
plans = st.fixed_dictionaries(
    {"key": st.one_of(st.just("fuzz-plan"), values), "title": st.one_of(st.just("计划"), values)},
    optional={
        "tasks": st.lists(task_fields, max_size=5),
        "phases": values,
        "indicators": values,
        "issued": values,
        "extra": values,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=plans)
def test_the_plan_loader_refuses_any_malformed_file_with_a_message_and_never_crashes(document):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        try:
            spec = parse_plan_file(path, UNITS)
        except SeedError as exc:
            assert exc.problems and all(p.startswith("fuzz.yaml: ") for p in exc.problems)
        else:
            assert spec.key == document["key"] and spec.title


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(max_size=200))
def test_bytes_that_are_not_yaml_are_refused_with_a_message(raw):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "junk.yaml"
        path.write_bytes(raw)
        try:
            parse_plan_file(path, UNITS)
        except SeedError as exc:
            assert exc.problems
