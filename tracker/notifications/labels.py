"""How escalation levels are named to users."""
from flask_babel import lazy_gettext as _l

from tracker.models.notify import LEADERSHIP, OVERDUE, PARENT, REMINDER

LEVEL_LABELS = {
    REMINDER: _l("Due soon"),
    OVERDUE: _l("Overdue"),
    PARENT: _l("Escalated to the parent unit"),
    LEADERSHIP: _l("Escalated to leadership"),
}
LEVEL_BADGES = {REMINDER: "info", OVERDUE: "warning", PARENT: "danger", LEADERSHIP: "dark"}
STATE_LABELS = {"fired": _l("notified"), "skipped": _l("skipped (caught up)")}
