"""The audit log's export (.xlsx): its columns, its cells, and its filters as plain data for a
background job (tracker/exports/jobs.py). The same columns and cells whether the file streams
from the request (a small result) or is written by the scheduler process (a large one); every
text cell stays text (tracker/progress/export.py writes them through tracker/export_escaping.py).

The viewer's scope is never stored with a job: the job's owner's scope is taken afresh when
it runs (an owner who may no longer read the log gets no file)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Iterator, Optional

from flask import current_app
from flask_babel import gettext as _

from tracker.auth.scope import journal_scope
from tracker.extensions import db
from tracker.models import OrgUnit, User
from tracker.progress.export import ExportColumn
from tracker.timeutil import local_today, local_zone
from tracker.audit.view import AuditFilters, AuditRow, audit_count, audit_row_batches

# who reads the audit log: admins and leaders all of it, coordinators their subtree's
READERS = ("admin", "leader", "coordinator")


def may_read_audit_log(user: User) -> bool:
    return user.role in READERS and user.active


def export_cap() -> int:
    """The most rows an export of the log holds (newest first)."""
    return int(current_app.config.get("AUDIT_EXPORT_MAX_ROWS", 20_000))


def background_threshold() -> int:
    """An export of more rows than this is written in the background (tracker/exports/jobs.py)."""
    return int(current_app.config.get("AUDIT_EXPORT_BACKGROUND_ROWS", 5_000))


def audit_columns() -> list[ExportColumn]:
    return [
        ExportColumn(_("Time"), 18),
        ExportColumn(_("Changed by"), 16),
        ExportColumn(_("Object"), 10),
        ExportColumn(_("What"), 36),
        ExportColumn(_("Unit"), 24),
        ExportColumn(_("Action"), 16),
        ExportColumn(_("Field"), 14),
        ExportColumn(_("Old value"), 24),
        ExportColumn(_("New value"), 24),
        ExportColumn(_("Reason or note"), 30),
    ]


def _local_time(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M:%S")


def audit_cells(row: AuditRow) -> list:
    return [
        _local_time(row.at),
        row.actor.display_name if row.actor else _("System"),
        row.subject_kind,
        row.subject_label,
        row.unit.name if row.unit else "",
        row.action_label,
        row.field_label,
        row.old_text,
        row.new_text,
        row.comment_text,
    ]


def audit_title() -> str:
    return _("Audit log")


def audit_preamble(cap: Optional[int] = None) -> list[str]:
    cap = export_cap() if cap is None else cap
    return [
        _("Audit log as of %(day)s", day=local_today().isoformat()),
        _("At most %(n)d rows, newest first: narrow the filters for older ones.", n=cap),
    ]


def audit_cell_batches(filters: AuditFilters, cap: int, size: int = 1000) -> Iterator[list[list]]:
    """The export's rows as cells, newest first, in keyset batches (each batch its own two
    statements, so a job may commit between them)."""
    for batch in audit_row_batches(filters, cap, size):
        yield [audit_cells(row) for row in batch]


def audit_cells_of(filters: AuditFilters, cap: int) -> Iterator[list]:
    for batch in audit_cell_batches(filters, cap):
        yield from batch


# -- the filters as plain data (a job's args) ------------------------------------------------------


def filters_to_args(filters: AuditFilters) -> dict:
    return {
        "user_ids": filters.user_ids,
        "unit_id": filters.unit.id if filters.unit is not None else None,
        "day_from": filters.day_from.isoformat() if filters.day_from else None,
        "day_to": filters.day_to.isoformat() if filters.day_to else None,
        "action": filters.action,
        "kind": filters.kind,
    }


def filters_for(user: User, args: dict) -> AuditFilters:
    """A job's filters, in its owner's scope as it is now. PermissionError: the owner may no
    longer read the log."""
    if not may_read_audit_log(user):
        raise PermissionError(f"user {user.id} may not read the audit log")
    unit_id = args.get("unit_id")
    return AuditFilters(
        user_ids=args.get("user_ids"),
        unit=db.session.get(OrgUnit, unit_id) if unit_id is not None else None,
        day_from=date.fromisoformat(args["day_from"]) if args.get("day_from") else None,
        day_to=date.fromisoformat(args["day_to"]) if args.get("day_to") else None,
        action=args.get("action") or "",
        kind=args.get("kind") or "",
        scope=journal_scope(user),
    )


def job_count(user: User, args: dict) -> int:
    return audit_count(filters_for(user, args), export_cap())


def job_batches(user: User, args: dict, size: int) -> Iterator[list[list]]:
    return audit_cell_batches(filters_for(user, args), export_cap(), min(size, 1000))
