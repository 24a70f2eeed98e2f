"""How escalation levels and kinds of notice are named to users."""

from tracker.lazy_text import lazy_gettext as _l

from tracker.models.notify import (
    ACCEPTED,
    ASSIGNED,
    CHANGED,
    COMMENTED,
    ESCALATION,
    EXPORT_READY,
    INSTRUCTED,
    LEADER_GROUP,
    LEADERSHIP,
    OVERDUE,
    PARENT,
    REMINDER,
    RETURNED,
    SUBMITTED,
    UNSIGNED,
    URGED,
)

LEVEL_LABELS = {
    REMINDER: _l("Due soon"),
    OVERDUE: _l("Overdue"),
    PARENT: _l("Escalated to the parent unit"),
    LEADERSHIP: _l("Escalated to leadership"),
}
LEVEL_BADGES = {REMINDER: "info", OVERDUE: "warning", PARENT: "danger", LEADERSHIP: "dark"}
STATE_LABELS = {"fired": _l("notified"), "skipped": _l("skipped (caught up)")}

# The kinds of notice, as the inbox, the digest, the webhook and the preferences name them.
KIND_LABELS = {
    ESCALATION: _l("Overdue and escalation"),
    LEADER_GROUP: _l("Overdue by unit"),
    UNSIGNED: _l("Not signed for"),
    SUBMITTED: _l("Submitted for review"),
    RETURNED: _l("Returned"),
    ACCEPTED: _l("Accepted"),
    ASSIGNED: _l("New task"),
    COMMENTED: _l("Comment"),
    CHANGED: _l("Due date or deliverable changed"),
    URGED: _l("Urged (催办)"),
    INSTRUCTED: _l("Leader's instruction (批示)"),
    EXPORT_READY: _l("Export"),
}
KIND_BADGES = {
    SUBMITTED: "primary",
    RETURNED: "danger",
    ACCEPTED: "success",
    ASSIGNED: "info",
    COMMENTED: "secondary",
    CHANGED: "warning",
    URGED: "danger",
    INSTRUCTED: "dark",
    LEADER_GROUP: "dark",
    UNSIGNED: "warning",
    EXPORT_READY: "success",
}
