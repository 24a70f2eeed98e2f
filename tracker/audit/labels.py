"""Display words for the actions and fields of the users, units and plans journal."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l

ACTION_LABELS = {
    "create": _l("created"),
    "edit": _l("edited"),
    "disable": _l("disabled"),
    "enable": _l("enabled again"),
    "reset_password": _l("password reset"),
    "change_password": _l("password changed"),
    "account": _l("own account changed"),
    "notification_preference": _l("notification settings changed"),
    "move": _l("moved"),
    "retire": _l("retired"),
    "restore": _l("restored"),
    "sign_in": _l("signed in"),
    "sign_out_everywhere": _l("signed out everywhere"),
    "sign_out_others": _l("other sessions signed out"),
}
FIELD_LABELS = {
    "display_name": _l("Display name"),
    "unit_id": _l("Unit"),
    "role": _l("Role"),
    "email": _l("E-mail"),
    "phone": _l("Telephone"),
    "active": _l("State"),
    "password": _l("Password"),
    "language": _l("Language"),
    "notifications": _l("Notification settings"),
    "sessions": _l("Signed-in sessions"),
    "name": _l("Name"),
    "code": _l("Code"),
    "kind": _l("Kind"),
    "level": _l("Level"),
    "parent_id": _l("Parent unit"),
    "title": _l("Title"),
    "doc_number": _l("Document number"),
    "issuer": _l("Issuer"),
    "period_start": _l("Period start"),
    "period_end": _l("Period end"),
    "phases": _l("Phases"),
}
