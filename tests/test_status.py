"""The status state machine: every allowed and every refused transition."""

import itertools

import pytest
from flask_babel import force_locale

from tracker.plans.status import (
    STATUSES,
    TRANSITIONS,
    Actor,
    TransitionError,
    allowed_targets,
    check_transition,
)

# The specification, written out independently of the implementation:
# (from, to): (who may, reason required)
EXPECTED = {
    ("not_started", "in_progress"): ("owner", False),
    ("in_progress", "submitted"): ("owner", False),
    ("submitted", "accepted"): ("reviewer", False),
    ("submitted", "returned"): ("reviewer", True),
    ("accepted", "returned"): ("reviewer", True),  # 重新打开: a reviewer above reopens, with a reason
    # 撤销通过: the reviewer who accepted, within the undo window, takes it back (no reason needed)
    ("accepted", "submitted"): ("acceptor", False),
    ("returned", "in_progress"): ("owner", False),
    ("blocked", "in_progress"): ("coordinator", False),
    ("not_started", "blocked"): ("coordinator", True),
    ("in_progress", "blocked"): ("coordinator", True),
    ("submitted", "blocked"): ("coordinator", True),
    ("returned", "blocked"): ("coordinator", True),
    ("not_started", "cancelled"): ("coordinator", True),
    ("in_progress", "cancelled"): ("coordinator", True),
    ("submitted", "cancelled"): ("coordinator", True),
    ("returned", "cancelled"): ("coordinator", True),
    ("blocked", "cancelled"): ("coordinator", True),
}

ACTORS = {
    "owner": Actor(is_owner=True),
    "reviewer": Actor(is_reviewer=True),
    "coordinator": Actor(is_coordinator=True),
    "acceptor": Actor(is_acceptor=True),
    "nobody": Actor(),
}
EVERYONE = Actor(is_owner=True, is_reviewer=True, is_coordinator=True)


@pytest.fixture(autouse=True)
def request_context(app):
    """Messages are translated lazily; English here so the assertions read plainly."""
    with app.test_request_context(), force_locale("en"):
        yield


def test_the_table_is_the_specification():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("source", "target"), sorted(EXPECTED))
@pytest.mark.parametrize("actor_name", sorted(ACTORS))
def test_allowed_transition_only_for_the_right_actor(source, target, actor_name):
    relation, needs_reason = EXPECTED[(source, target)]
    actor = ACTORS[actor_name]
    if actor_name == relation:
        check_transition(source, target, actor, reason="原因")
        if needs_reason:
            with pytest.raises(TransitionError, match="reason"):
                check_transition(source, target, actor, reason="  ")
    else:
        with pytest.raises(TransitionError, match="not allowed"):
            check_transition(source, target, actor, reason="原因")


REFUSED = [pair for pair in itertools.product(STATUSES, STATUSES) if pair not in EXPECTED]


@pytest.mark.parametrize(("source", "target"), REFUSED)
def test_refused_transition_even_for_an_admin(source, target):
    with pytest.raises(TransitionError, match="cannot go from"):
        check_transition(source, target, EVERYONE, reason="原因")


def test_cancelled_is_final_and_accepted_only_reopens_to_returned_by_a_reviewer():
    assert allowed_targets("cancelled", EVERYONE) == []
    assert allowed_targets("accepted", EVERYONE) == ["returned"]
    assert allowed_targets("accepted", Actor(is_owner=True, is_coordinator=True)) == []


def test_only_the_acceptor_within_the_window_undoes_an_acceptance():
    """The acceptor relation is computed (tracker/plans/undo_window.py): the reviewer who made the
    current acceptance, while the window lasts. Everyone else only reopens, with a reason."""
    acceptor = Actor(is_reviewer=True, is_coordinator=True, is_acceptor=True)
    assert allowed_targets("accepted", acceptor) == ["returned", "submitted"]
    check_transition("accepted", "submitted", acceptor)  # no reason needed
    for other in (EVERYONE, ACTORS["reviewer"], ACTORS["owner"]):
        with pytest.raises(TransitionError, match="not allowed"):
            check_transition("accepted", "submitted", other, reason="原因")
    # being the acceptor opens no other door
    assert allowed_targets("submitted", ACTORS["acceptor"]) == []
    assert allowed_targets("cancelled", acceptor) == []


def test_unknown_status_is_refused():
    with pytest.raises(TransitionError, match="Unknown"):
        check_transition("done", "accepted", EVERYONE)


def test_allowed_targets_depend_on_the_actor():
    assert allowed_targets("submitted", ACTORS["owner"]) == []
    assert set(allowed_targets("submitted", ACTORS["reviewer"])) == {"accepted", "returned"}
    assert set(allowed_targets("submitted", ACTORS["coordinator"])) == {"blocked", "cancelled"}
