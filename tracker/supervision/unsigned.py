"""签收 reminders: a task given to a unit and not signed for within N days (the rule "unsigned",
default 3) reminds the owner unit's users and the responsible person; after 2N days it climbs to
the coordinators of the owner's parent unit as well.

Set-based like the escalation pass (one INSERT … SELECT per stage, whatever the number of tasks),
found on the partial index of unsigned tasks. The notice's key is (task, day assigned, recipient,
kind): nobody is reminded twice about one assignment, whatever runs, and a new assignment (a
changed owner, a new cascade) starts again. Signing for the task ends it: the next pass finds
nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Date, and_, cast, func, literal, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import Notification, OrgUnit, Task, User
from tracker.models.notify import OVERDUE, PARENT, UNSIGNED
from tracker.notifications.notices import email_state_for
from tracker.notifications.rules import unsigned_rule
from tracker.plans.status import CLOSED_STATUSES
from tracker.timeutil import local_zone

OWNER_ROLES = ("reporter", "coordinator")
STAGES = ((OVERDUE, 1), (PARENT, 2))  # (level, multiple of N days)


@dataclass
class UnsignedReport:
    days: int
    notices: int = 0


def _local_day(column):
    """The local calendar day of a stored UTC timestamp, in SQL."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(local_zone().key, column), Date)
    offset = datetime.now(timezone.utc).astimezone(local_zone()).utcoffset() or timedelta()
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _insert():
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(Notification.__table__)


def _audience(since: datetime, climbed: bool):
    """(task, user) of the unsigned tasks given before `since`: the owner unit's users and the
    responsible person; with `climbed` also the coordinators of the owner's parent unit."""
    unsigned = and_(
        Task.assigned_at.is_not(None),
        Task.signed_at.is_(None),
        Task.assigned_at <= since,
        Task.status.not_in(CLOSED_STATUSES),
    )
    owners = (
        select(Task.id.label("task_id"), User.id.label("user_id"))
        .join(User, and_(User.unit_id == Task.owner_unit_id, User.role.in_(OWNER_ROLES)))
        .where(unsigned)
    )
    responsible = select(Task.id, User.id).join(User, User.id == Task.responsible_user_id).where(unsigned)
    selects = [owners, responsible]
    if climbed:
        owner = aliased(OrgUnit)
        selects.append(
            select(Task.id, User.id)
            .join(owner, owner.id == Task.owner_unit_id)
            .join(User, and_(User.unit_id == owner.parent_id, User.role == "coordinator"))
            .where(unsigned)
        )
    return union(*selects).subquery()


def remind_unsigned(now: datetime, email_on: bool) -> UnsignedReport:
    """One pass at `now`, in the caller's transaction. Returns the notices written."""
    days, active = unsigned_rule()
    report = UnsignedReport(days=days)
    if not active:
        return report
    today = now.astimezone(local_zone()).date()
    # the higher stage first: a task found at 2N days on its first pass is told at that level once
    for level, multiple in reversed(STAGES):
        audience = _audience(now - timedelta(days=days * multiple), climbed=level == PARENT)
        chosen = (
            select(
                audience.c.user_id,
                literal(UNSIGNED),
                Task.id,
                _local_day(Task.assigned_at),
                literal(today),
                literal(level),
                literal(1),
                literal(False),
                literal(now, type_=Notification.created_at.type),
                email_state_for(UNSIGNED, email_on),
                literal(0),
                literal(""),
            )
            .select_from(audience)
            .join(Task, Task.id == audience.c.task_id)
            .join(User, User.id == audience.c.user_id)
            .where(User.active.is_(True))
        )
        insert = _insert().from_select(
            [
                "user_id",
                "kind",
                "task_id",
                "due_on",
                "day",
                "level",
                "item_count",
                "catch_up",
                "created_at",
                "email_state",
                "email_attempts",
                "email_error",
            ],
            chosen,
        )
        new = insert.excluded
        # a reminder already sent climbs in place (unread again) when the task reaches 2N days;
        # the same level again, or a lower one, changes nothing
        insert = insert.on_conflict_do_update(
            index_elements=["task_id", "due_on", "user_id", "kind"],
            set_={
                "level": new.level,
                "day": new.day,
                "created_at": new.created_at,
                "read_at": None,
                "email_state": new.email_state,
                "email_attempts": 0,
                "email_error": "",
            },
            where=and_(Notification.level == OVERDUE, new.level == PARENT),
        )
        result = db.session.execute(insert.execution_options(preserve_rowcount=True))
        report.notices += result.rowcount or 0
    return report
