"""Writing the journal of users, units and plans: one row per changed field, in the same
transaction as the change (the caller commits)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from tracker.extensions import db
from tracker.models import AuditEntry, OrgUnit, Plan, User


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def record(
    actor: Optional[User],
    action: str,
    subject: str,
    subject_id: int,
    label: str,
    unit_id: Optional[int],
    field: Optional[str] = None,
    old: Any = None,
    new: Any = None,
    comment: str = "",
) -> AuditEntry:
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        subject=subject,
        subject_id=subject_id,
        subject_label=(label or "")[:300],
        unit_id=unit_id,
        field=field,
        old_value=_text(old),
        new_value=_text(new),
        comment=comment or "",
    )
    db.session.add(entry)
    return entry


def record_user(
    actor: Optional[User],
    user: User,
    action: str,
    field: Optional[str] = None,
    old: Any = None,
    new: Any = None,
    comment: str = "",
) -> AuditEntry:
    return record(
        actor, action, "user", user.id, f"{user.username} ({user.display_name})", user.unit_id, field, old, new, comment
    )


def record_unit(
    actor: Optional[User],
    unit: OrgUnit,
    action: str,
    field: Optional[str] = None,
    old: Any = None,
    new: Any = None,
    comment: str = "",
) -> AuditEntry:
    return record(actor, action, "unit", unit.id, f"{unit.code} {unit.name}", unit.id, field, old, new, comment)


def record_plan(
    actor: Optional[User],
    plan: Plan,
    action: str,
    field: Optional[str] = None,
    old: Any = None,
    new: Any = None,
    comment: str = "",
) -> AuditEntry:
    return record(
        actor, action, "plan", plan.id, f"{plan.key} {plan.title}", plan.issuer_unit_id, field, old, new, comment
    )
