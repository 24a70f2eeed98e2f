"""The task status state machine: the one place that says which change is allowed to whom.

    not_started → in_progress → submitted → accepted
    submitted → returned → in_progress
    any open state → blocked / cancelled (coordinator); blocked → in_progress (coordinator)
    submitted → in_progress by 撤回 (withdrawal): only the submitter's unit, before any review
    (`tracker.plans.handling.withdraw`, journaled as "recall"; not a transition offered here)
    accepted → submitted by 撤销通过 (undoing an acceptance): only the reviewer who accepted, for
    ACCEPT_UNDO_MINUTES after it (`tracker.plans.operations.undo_acceptance`, journaled as
    "undo_accept"); after that a reviewer above reopens it (accepted → returned)

Who may make a change is expressed as the actor's relation to the task:
- ``owner``: a reporter or coordinator of the owner unit (or a unit above it);
- ``reviewer``: a coordinator of a unit strictly above the owner unit (or an admin);
- ``coordinator``: a coordinator of the owner unit or above (or an admin);
- ``acceptor``: the reviewer who made the task's current acceptance, while the time to undo it
  lasts (`tracker.plans.undo_window.acceptance_undo_until`), still a reviewer of the task.

Review independence (acceptance only; computed from the task's journal by
`tracker.plans.independence.review_conflict` and carried here as ``Actor.review_conflict``): a
reviewer accepts a submission only when, over the current review cycle (since the last return,
or since the task was created), their unit is strictly above every unit that owned the task and
above the unit of whoever submitted it, and they did not themselves change its owner, co-owners
or parent. The owner, co-owners and parent of a submitted task do not change at all (return it
first). So re-owning a task to a unit below and accepting it, whatever the order of the edits,
never lets a unit accept its own work.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.lazy_text import lazy_gettext as _l

NOT_STARTED = "not_started"
IN_PROGRESS = "in_progress"
SUBMITTED = "submitted"
ACCEPTED = "accepted"
RETURNED = "returned"
BLOCKED = "blocked"
CANCELLED = "cancelled"

STATUSES = (NOT_STARTED, IN_PROGRESS, SUBMITTED, RETURNED, ACCEPTED, BLOCKED, CANCELLED)
OPEN_STATUSES = (NOT_STARTED, IN_PROGRESS, SUBMITTED, RETURNED)
CLOSED_STATUSES = (ACCEPTED, CANCELLED)
# Past its due date in one of these, a task is overdue (a submission awaiting review is not).
OVERDUE_STATUSES = (NOT_STARTED, IN_PROGRESS, RETURNED, BLOCKED)

LABELS = {
    NOT_STARTED: _l("Not started"),
    IN_PROGRESS: _l("In progress"),
    SUBMITTED: _l("Submitted"),
    RETURNED: _l("Returned"),
    ACCEPTED: _l("Accepted"),
    BLOCKED: _l("Blocked"),
    CANCELLED: _l("Cancelled"),
}

# What the button that makes the change says.
ACTION_LABELS = {
    IN_PROGRESS: _l("Start / resume"),
    SUBMITTED: _l("Submit for review"),
    ACCEPTED: _l("Accept"),
    RETURNED: _l("Return"),
    BLOCKED: _l("Mark blocked"),
    CANCELLED: _l("Cancel task"),
}

# What the 撤销通过 button says (the transition accepted → submitted; ACTION_LABELS name the
# others by their target, and "submitted" there is the owner's submission).
UNDO_ACCEPT_LABEL = _l("Undo acceptance")

OWNER = "owner"
REVIEWER = "reviewer"
COORDINATOR = "coordinator"
ACCEPTOR = "acceptor"

# (from, to) -> the relation the actor needs, and whether a reason is required.
TRANSITIONS: dict[tuple[str, str], tuple[str, bool]] = {
    (NOT_STARTED, IN_PROGRESS): (OWNER, False),
    (IN_PROGRESS, SUBMITTED): (OWNER, False),
    (SUBMITTED, ACCEPTED): (REVIEWER, False),
    (SUBMITTED, RETURNED): (REVIEWER, True),
    # 重新打开: a reviewer above the owner reopens accepted work, with the reason (the owner is
    # told, as of a return); cancelled stays final
    (ACCEPTED, RETURNED): (REVIEWER, True),
    # 撤销通过: the reviewer who accepted takes it back within the undo window (no reason needed:
    # their acceptance comment stays in the journal, marked undone); back to awaiting review
    (ACCEPTED, SUBMITTED): (ACCEPTOR, False),
    (RETURNED, IN_PROGRESS): (OWNER, False),
    (BLOCKED, IN_PROGRESS): (COORDINATOR, False),
    **{(s, BLOCKED): (COORDINATOR, True) for s in OPEN_STATUSES},
    **{(s, CANCELLED): (COORDINATOR, True) for s in OPEN_STATUSES + (BLOCKED,)},
}


class TransitionError(Exception):
    """A status change that the state machine refuses; the message is for the user."""


@dataclass(frozen=True)
class Actor:
    """What the acting user is to the task (computed by the scoping rules)."""

    is_owner: bool = False
    is_reviewer: bool = False
    is_coordinator: bool = False
    # Why this reviewer may not accept the current submission (None when independent).
    review_conflict: object = None
    # The reviewer who made the current acceptance, within the time to undo it.
    is_acceptor: bool = False

    def has(self, relation: str) -> bool:
        return {
            OWNER: self.is_owner,
            REVIEWER: self.is_reviewer,
            COORDINATOR: self.is_coordinator,
            ACCEPTOR: self.is_acceptor,
        }[relation]


def check_transition(current: str, target: str, actor: Actor, reason: str = "") -> None:
    """Raise TransitionError unless `actor` may move a task from `current` to `target`."""
    if current not in STATUSES or target not in STATUSES:
        raise TransitionError(_l("Unknown status."))
    rule = TRANSITIONS.get((current, target))
    if rule is None:
        raise TransitionError(_l("A task cannot go from %(old)s to %(new)s.", old=LABELS[current], new=LABELS[target]))
    relation, needs_reason = rule
    if not actor.has(relation):
        raise TransitionError(_l("You are not allowed to make this change."))
    if target == ACCEPTED and actor.review_conflict is not None:
        raise TransitionError(actor.review_conflict)
    if needs_reason and not reason.strip():
        raise TransitionError(_l("A reason is required."))


def allowed_targets(current: str, actor: Actor) -> list[str]:
    """The statuses this actor may move the task to now, in display order."""
    return [
        target
        for (source, target), (relation, _) in TRANSITIONS.items()
        if source == current and actor.has(relation) and not (target == ACCEPTED and actor.review_conflict is not None)
    ]
