"""Display words for the actions and fields of the journals: the users, units and plans journal
(audit_entries) and the task journal (journal_entries), which the audit view shows together."""

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
    "retired_at": _l("Retired"),
    "title": _l("Title"),
    "doc_number": _l("Document number"),
    "issuer": _l("Issuer"),
    "period_start": _l("Period start"),
    "period_end": _l("Period end"),
    "phases": _l("Phases"),
}

# -- the task journal (journal_entries), for the audit view -------------------------------------

SUBJECT_LABELS = {
    "task": _l("Task"),
    "user": _l("Account"),
    "unit": _l("Unit"),
    "plan": _l("Plan"),
}
TASK_ACTION_LABELS = {
    "create": _l("task created"),
    "edit": _l("task edited"),
    "update": _l("updated from the plan file"),
    "status": _l("status changed"),
    "recall": _l("submission withdrawn"),
    "undo_accept": _l("acceptance undone"),
    "percent": _l("percent done changed"),
    "evidence": _l("evidence added"),
    "comment": _l("commented"),
    "cascade": _l("cascaded to units"),
    "withdraw": _l("cascade withdrawn"),
    "sync": _l("kept in step with its template"),
    "move": _l("moved in the plan"),
    "urge": _l("urged (催办)"),
    "instruct": _l("instruction given (批示)"),
    "sign": _l("signed for (签收)"),
    "explanation": _l("overdue explained"),
    "indicator_value": _l("indicator value entered"),
}
TASK_FIELD_LABELS = {
    "title": _l("Title"),
    "description": _l("Description"),
    "owner_unit_id": _l("Owner unit"),
    "owner_selector": _l("Owner group"),
    "co_owners": _l("Co-owners"),
    "co_owner_selectors": _l("Co-owner groups"),
    "start_on": _l("Start date"),
    "due_on": _l("Due date"),
    "deliverable": _l("Deliverable"),
    "phase_id": _l("Phase"),
    "weight": _l("Weight"),
    "recurrence": _l("Recurrence"),
    "notes": _l("Notes"),
    "status": _l("Status"),
    "percent": _l("Percent done"),
    "evidence": _l("Evidence"),
    "cascade": _l("Cascade"),
    "urge": _l("Urged"),
    "instruction": _l("Instruction"),
    "signed_at": _l("Signed for"),
    "responsible_user_id": _l("Responsible person"),
    "contact_name": _l("Contact"),
    "contact_phone": _l("Contact telephone"),
    "implements": _l("National task implemented"),
    "committed_on": _l("Committed date"),
    "parent_id": _l("Parent task"),
}
