"""Writing notices (inbox rows): who gets e-mail for which kind, and workflow events.

A workflow event (submitted, returned, 催办, …) is one `NoticeEvent` row and one notice per
recipient, written in the transaction of the change that caused it (the caller commits); the
unique key (event, recipient) makes it once per person. E-mail is marked pending for the
recipients who have an address and have not turned e-mail off for the kind; the next delivery
run sends it in their digest. The webhook posts each event once (tracker/notifications/delivery.py, channel EVENTS).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Optional

from flask import current_app
from sqlalchemy import ColumnElement, and_, case, exists, insert, literal, or_, select, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import CompoundSelect

from tracker.extensions import db
from tracker.models import NoticeEvent, Notification, NotificationPreference, Task, User
from tracker.models.notify import NONE, PENDING
from tracker.timeutil import local_today

log = logging.getLogger(__name__)
NOTICE_COLUMNS = [
    "user_id",
    "kind",
    "event_id",
    "task_id",
    "day",
    "level",
    "created_at",
    "email_state",
    "email_attempts",
    "email_error",
    "item_count",
    "catch_up",
]


def insert_into(model):
    """INSERT … for the session's dialect (ON CONFLICT on both)."""
    module = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model.__table__)


def email_state_for(kind: str, email_on: Optional[bool] = None) -> ColumnElement:
    """SQL: 'pending' for a recipient (`User`) who gets e-mail of `kind`, else 'none'."""
    if email_on is None:
        email_on = bool(current_app.config.get("SMTP_HOST"))
    if not email_on:
        return literal(NONE)
    opted_out = exists().where(
        NotificationPreference.user_id == User.id,
        NotificationPreference.kind == kind,
        NotificationPreference.email.is_(False),
    )
    return case((and_(User.email != "", ~opted_out), literal(PENDING)), else_=literal(NONE))


def notify(
    kind: str,
    task: Optional[Task],
    actor: Optional[User],
    recipients,
    message: str = "",
    now: Optional[datetime] = None,
) -> NoticeEvent:
    """Record one event and notify `recipients` (a SELECT of user ids), never the actor himself.

    One INSERT … SELECT whatever the number of recipients; inactive users are left out.
    """
    now = now or datetime.now(timezone.utc)
    webhook = PENDING if current_app.config.get("WEBHOOK_URL") else NONE
    event = NoticeEvent(
        kind=kind,
        task_id=task.id if task is not None else None,
        actor=actor,
        message=message,
        at=now,
        webhook_state=webhook,
        webhook_attempts=0,
    )
    db.session.add(event)
    db.session.flush()
    ids = recipients.subquery()
    chosen = select(
        User.id,
        literal(kind),
        literal(event.id),
        literal(event.task_id),
        literal(local_today(now)),
        literal(kind),
        literal(now, type_=Notification.created_at.type),
        email_state_for(kind),
        literal(0),
        literal(""),
        literal(1),
        literal(False),
    ).where(User.id.in_(select(ids.c[0])), User.active.is_(True))
    if actor is not None:
        chosen = chosen.where(User.id != actor.id)
    db.session.execute(insert_into(Notification).from_select(NOTICE_COLUMNS, chosen).on_conflict_do_nothing())
    return event


def notify_each(
    kind: str,
    task_ids: list[int],
    actor: Optional[User],
    audience: str = "coordinators",
    message: str = "",
    now: Optional[datetime] = None,
) -> int:
    """One event per task, each telling its own task's audience, in two statements whatever the
    number of tasks (a cascade, an import): an INSERT of the events and one INSERT … SELECT of
    their notices. `audience` is "coordinators" (the owner unit's coordinators: a new task) or
    "owners" (`owner_unit_users` and the task's watchers). Returns the events written."""
    task_ids = sorted(set(task_ids))
    if not task_ids:
        return 0
    now = now or datetime.now(timezone.utc)
    webhook = PENDING if current_app.config.get("WEBHOOK_URL") else NONE
    actor_id = actor.id if actor is not None else None
    db.session.execute(
        insert(NoticeEvent),
        [
            {
                "kind": kind,
                "task_id": task_id,
                "actor_id": actor_id,
                "message": message,
                "at": now,
                "webhook_state": webhook,
                "webhook_attempts": 0,
            }
            for task_id in task_ids
        ],
    )
    if audience == "coordinators":
        told = and_(User.unit_id == Task.owner_unit_id, User.role == "coordinator")
    else:  # the owners, the responsible person and the task's watchers (关注)
        from tracker.models import TaskWatcher

        told = or_(
            and_(User.unit_id == Task.owner_unit_id, User.role.in_(("reporter", "coordinator"))),
            User.id == Task.responsible_user_id,
            User.id.in_(select(TaskWatcher.user_id).where(TaskWatcher.task_id == Task.id)),
        )
    same_actor = NoticeEvent.actor_id.is_(None) if actor_id is None else NoticeEvent.actor_id == actor_id
    chosen = (
        select(
            User.id,
            literal(kind),
            NoticeEvent.id,
            NoticeEvent.task_id,
            literal(local_today(now)),
            literal(kind),
            literal(now, type_=Notification.created_at.type),
            email_state_for(kind),
            literal(0),
            literal(""),
            literal(1),
            literal(False),
        )
        .select_from(NoticeEvent)
        .join(Task, Task.id == NoticeEvent.task_id)
        .join(User, told)
        .where(
            NoticeEvent.kind == kind,
            NoticeEvent.at == now,
            same_actor,
            NoticeEvent.task_id.in_(task_ids),
            User.active.is_(True),
        )
    )
    if actor_id is not None:
        chosen = chosen.where(User.id != actor_id)
    db.session.execute(insert_into(Notification).from_select(NOTICE_COLUMNS, chosen).on_conflict_do_nothing())
    return len(task_ids)


# --- who is concerned -------------------------------------------------------------------------


def owner_unit_users(task: Task):
    """The owner unit's reporters and coordinators, and the task's responsible person."""
    owners = select(User.id).where(User.unit_id == task.owner_unit_id, User.role.in_(("reporter", "coordinator")))
    if task.responsible_user_id:
        owners = owners.union(select(User.id).where(User.id == task.responsible_user_id))
    return owners


def unit_coordinators(unit_id: Optional[int]):
    return select(User.id).where(User.unit_id == unit_id, User.role == "coordinator")


def reviewers_of(task: Task):
    """Coordinators of the units strictly above the owner, who may accept or return it."""
    owner = task.owner_unit
    if owner is None:
        return select(User.id).where(literal(False))
    above = [int(part) for part in owner.path.strip("/").split("/")[:-1] if part]
    return select(User.id).where(User.unit_id.in_(above or [-1]), User.role == "coordinator")


def watchers_of(task: Task):
    from tracker.models import TaskWatcher

    return select(TaskWatcher.user_id).where(TaskWatcher.task_id == task.id)


def participants_of(task: Task):
    """Everyone who has written on the task (journal), its owners and its watchers."""
    from tracker.models import JournalEntry

    written = select(JournalEntry.user_id).where(JournalEntry.task_id == task.id, JournalEntry.user_id.is_not(None))
    return written.union(owner_unit_users(task), watchers_of(task))


def union_of(*selects):
    """One SELECT of the user ids of all `selects` (each a SELECT or itself a UNION: SQLite takes
    no parenthesised compound inside a compound, so a UNION goes in as a subquery)."""
    first, *rest = selects
    if not rest:
        return first
    flat = [select(s.subquery().c[0]) if isinstance(s, CompoundSelect) else s for s in selects]
    return union(*flat)
