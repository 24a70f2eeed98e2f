"""The escalation job: overdue tasks climb the unit hierarchy by themselves, once per level.

`escalate(now)` is set-based: per rule it runs one INSERT … SELECT of the escalations that are
due (found on the (status, due_on) index, so its cost follows the tasks due, not all tasks),
one INSERT per lower level to record what a catch-up skipped, and one INSERT … SELECT of the
notifications of the escalations this run created. The unique keys (task, due date, level) and
(user, escalation) with ON CONFLICT DO NOTHING make a second run, or a second process, notify
nobody twice; on PostgreSQL a transaction-scoped advisory lock also serialises the passes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from flask import current_app
from sqlalchemy import and_, case, exists, func, literal, or_, select, text, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from tracker.explanations.service import missed_commitments
from tracker.extensions import db
from tracker.models import Escalation, Notification, OrgUnit, OverdueExplanation, Task, User
from tracker.models.notify import ESCALATION, LEADER_GROUP, LEVELS, NONE, PENDING, RANKS
from tracker.models.notify import LEADERSHIP as LEADERSHIP_LEVEL
from tracker.models.notify import OVERDUE as OVERDUE_LEVEL
from tracker.models.notify import PARENT as PARENT_LEVEL
from tracker.notifications.notices import email_state_for
from tracker.notifications.rules import RuleGroup, rule_groups
from tracker.plans.status import OVERDUE_STATUSES
from tracker.supervision.unsigned import remind_unsigned
from tracker.timeutil import local_today

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 7_314_001  # "escalation pass" (any constant shared by all processes)
from tracker.models.notify import FIRED, SKIPPED  # noqa: E402  (re-exported)

OWNER_ROLES = ("reporter", "coordinator")


@dataclass
class EscalationReport:
    run_id: str
    today: date
    dry_run: bool = False
    fired: dict[str, int] = field(default_factory=dict)  # level -> tasks
    skipped: int = 0
    notifications: int = 0
    unsigned: int = 0  # 签收 reminders (tracker/supervision/unsigned.py)
    lines: list[str] = field(default_factory=list)  # "level ref title owner" for the CLI

    @property
    def total_fired(self) -> int:
        return sum(self.fired.values())


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model.__table__)


def _lock_pass() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def _due_tasks(group: RuleGroup, today: date, *extra):
    """Open leaf tasks that have reached `group`'s level and not yet this level or a higher one."""
    threshold = today - timedelta(days=group.offset_days)
    child = aliased(Task)
    query = select(Task.id, Task.due_on, *extra).where(
        Task.status.in_(OVERDUE_STATUSES),
        Task.due_on.is_not(None),
        Task.due_on <= threshold,
        Task.owner_unit_id.is_not(None),
        ~exists().where(child.parent_id == Task.id),
        ~exists().where(
            Escalation.task_id == Task.id,
            Escalation.due_on == Task.due_on,
            Escalation.rank >= group.rank,
        ),
    )
    if group.plan_ids is not None:
        query = query.where(Task.plan_id.in_(group.plan_ids))
    elif group.except_plan_ids:
        query = query.where(Task.plan_id.not_in(group.except_plan_ids))
    return query


def _top_fired(run_id: str):
    """This run's fired escalations, the highest per task only (a missed commitment and a rule
    may both fire for one task in one run)."""
    higher = aliased(Escalation)
    return and_(
        Escalation.run_id == run_id,
        Escalation.state == FIRED,
        ~exists().where(
            higher.task_id == Escalation.task_id,
            higher.due_on == Escalation.due_on,
            higher.run_id == run_id,
            higher.state == FIRED,
            higher.rank > Escalation.rank,
        ),
    )


def _caught_up(run_id: str):
    """True for an escalation whose lower levels this run recorded as skipped (a catch-up)."""
    skipped = aliased(Escalation)
    return exists().where(
        skipped.task_id == Escalation.task_id,
        skipped.due_on == Escalation.due_on,
        skipped.run_id == run_id,
        skipped.state == SKIPPED,
    )


def _task_audience(run_id: str):
    """(escalation, user) for everyone told of this run's escalations, one row each: at any level
    the owner unit's users and the responsible person, from "parent" on also the coordinators of
    the owner's parent unit. (Leaders get grouped notices instead, `_leader_groups`.)"""
    top = _top_fired(run_id)
    owner = aliased(OrgUnit)
    owners = (
        select(Escalation.id.label("escalation_id"), User.id.label("user_id"))
        .join(Task, Task.id == Escalation.task_id)
        .join(User, and_(User.unit_id == Task.owner_unit_id, User.role.in_(OWNER_ROLES)))
        .where(top)
    )
    responsible = (
        select(Escalation.id, User.id)
        .join(Task, Task.id == Escalation.task_id)
        .join(User, User.id == Task.responsible_user_id)
        .where(top)
    )
    parent = (
        select(Escalation.id, User.id)
        .join(Task, Task.id == Escalation.task_id)
        .join(owner, owner.id == Task.owner_unit_id)
        .join(User, and_(User.unit_id == owner.parent_id, User.role == "coordinator"))
        .where(top, Escalation.rank >= RANKS[PARENT_LEVEL])
    )
    return union(owners, responsible, parent).subquery()


def _notify_tasks(run_id: str, today: date, now: datetime, email_on: bool) -> int:
    """One notice per (task, due date, recipient): inserted, or raised in place when the task
    climbs (new level, unread again, e-mail pending again). Returns the notices written."""
    audience = _task_audience(run_id)
    chosen = (
        select(
            audience.c.user_id,
            literal(ESCALATION),
            Escalation.id,
            Escalation.task_id,
            Escalation.due_on,
            literal(today),
            Escalation.level,
            literal(1),
            _caught_up(run_id),
            literal(now, type_=Notification.created_at.type),
            email_state_for(ESCALATION, email_on),
            literal(0),
            literal(""),
        )
        .select_from(audience)
        .join(Escalation, Escalation.id == audience.c.escalation_id)
        .join(User, User.id == audience.c.user_id)
        .where(User.active.is_(True))
    )
    insert = _insert(Notification).from_select(
        [
            "user_id",
            "kind",
            "escalation_id",
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
    insert = insert.on_conflict_do_update(
        index_elements=["task_id", "due_on", "user_id", "kind"],
        set_={
            "escalation_id": new.escalation_id,
            "level": new.level,
            "day": new.day,
            "catch_up": new.catch_up,
            "created_at": new.created_at,
            "read_at": None,
            "email_state": new.email_state,
            "email_attempts": 0,
            "email_error": "",
        },
    )
    # INSERT … SELECT: psycopg keeps no row count once the cursor closes unless asked to
    return db.session.execute(insert.execution_options(preserve_rowcount=True)).rowcount or 0


def _leader_groups(run_id: str, today: date, now: datetime, email_on: bool) -> int:
    """Leaders: one notice per unit and day of the tasks that reached leadership. The unit is the
    one just below the leader's on the way to the owner (or the leader's own unit when it owns
    the task): a national leader reads "宁夏回族自治区卫生健康委：40 项", not 40 rows."""
    owner, leader_unit, group = aliased(OrgUnit), aliased(OrgUnit), aliased(OrgUnit)
    caught_up = func.max(case((_caught_up(run_id), 1), else_=0)) == 1
    chosen = (
        select(
            User.id,
            literal(LEADER_GROUP),
            group.id,
            literal(today),
            literal(LEADERSHIP_LEVEL),
            func.count(),
            caught_up,
            literal(now, type_=Notification.created_at.type),
            email_state_for(LEADER_GROUP, email_on),
            literal(0),
            literal(""),
        )
        .select_from(Escalation)
        .join(Task, Task.id == Escalation.task_id)
        .join(owner, owner.id == Task.owner_unit_id)
        .join(User, and_(User.role == "leader", User.active.is_(True)))
        .join(leader_unit, leader_unit.id == User.unit_id)
        .join(
            group,
            and_(
                owner.path.like(group.path + "%"),
                or_(group.parent_id == leader_unit.id, and_(group.id == leader_unit.id, owner.id == leader_unit.id)),
            ),
        )
        .where(_top_fired(run_id), Escalation.rank == RANKS[LEADERSHIP_LEVEL], owner.path.like(leader_unit.path + "%"))
        .group_by(User.id, User.email, group.id)
    )
    insert = _insert(Notification).from_select(
        [
            "user_id",
            "kind",
            "unit_id",
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
    insert = insert.on_conflict_do_update(
        index_elements=["user_id", "kind", "unit_id", "day"],
        set_={
            "item_count": Notification.item_count + new.item_count,
            "catch_up": or_(Notification.catch_up, new.catch_up),
            "created_at": new.created_at,
            "read_at": None,
            "email_state": new.email_state,
            "email_attempts": 0,
        },
    )
    # INSERT … SELECT: psycopg keeps no row count once the cursor closes unless asked to
    return db.session.execute(insert.execution_options(preserve_rowcount=True)).rowcount or 0


def escalate(now: Optional[datetime] = None, dry_run: bool = False) -> EscalationReport:
    """One escalation pass at `now` (aware; default: the current time), committed unless `dry_run`."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("escalate() needs an aware datetime")
    today = local_today(now)
    report = EscalationReport(run_id=uuid.uuid4().hex, today=today, dry_run=dry_run)
    config = current_app.config
    webhook_state = PENDING if config.get("WEBHOOK_URL") else NONE
    email_on = bool(config.get("SMTP_HOST"))
    run = report.run_id
    try:
        _lock_pass()
        _raise_missed_commitments(today, run, now, webhook_state)
        for group in rule_groups():
            fired = (
                _insert(Escalation)
                .from_select(
                    [
                        "task_id",
                        "due_on",
                        "rank",
                        "level",
                        "state",
                        "run_id",
                        "at",
                        "webhook_state",
                        "webhook_attempts",
                    ],
                    _due_tasks(
                        group,
                        today,
                        literal(group.rank),
                        literal(group.level),
                        literal(FIRED),
                        literal(run),
                        literal(now, type_=Escalation.at.type),
                        literal(webhook_state),
                        literal(0),
                    ),
                )
                .on_conflict_do_nothing()
            )
            db.session.execute(fired)
            for lower in LEVELS[: group.rank - 1]:
                mine = aliased(Escalation)
                skipped = (
                    _insert(Escalation)
                    .from_select(
                        [
                            "task_id",
                            "due_on",
                            "rank",
                            "level",
                            "state",
                            "run_id",
                            "at",
                            "webhook_state",
                            "webhook_attempts",
                        ],
                        select(
                            mine.task_id,
                            mine.due_on,
                            literal(RANKS[lower]),
                            literal(lower),
                            literal(SKIPPED),
                            literal(run),
                            literal(now, type_=Escalation.at.type),
                            literal(NONE),
                            literal(0),
                        ).where(mine.run_id == run, mine.rank == group.rank, mine.state == FIRED),
                    )
                    .on_conflict_do_nothing()
                )
                db.session.execute(skipped)
        report.notifications = _notify_tasks(run, today, now, email_on) + _leader_groups(run, today, now, email_on)
        report.unsigned = remind_unsigned(now, email_on).notices
        _fill_report(report)
    except Exception:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    return report


def _raise_missed_commitments(today: date, run: str, now: datetime, webhook_state: str) -> None:
    """A committed date (逾期说明) passed with the task still open: one level up at once."""
    missed = missed_commitments(today)
    if not missed:
        return
    reached = aliased(Escalation)
    next_rank = func.coalesce(func.max(reached.rank), RANKS[OVERDUE_LEVEL]) + 1
    level = case(*[(next_rank == rank, literal(key)) for key, rank in RANKS.items()], else_=literal(LEVELS[-1]))
    select_next = (
        select(
            OverdueExplanation.task_id,
            OverdueExplanation.due_on,
            next_rank,
            level,
            literal(FIRED),
            literal(run),
            literal(now, type_=Escalation.at.type),
            literal(webhook_state),
            literal(0),
        )
        .outerjoin(
            reached, and_(reached.task_id == OverdueExplanation.task_id, reached.due_on == OverdueExplanation.due_on)
        )
        .where(OverdueExplanation.id.in_(missed))
        .group_by(OverdueExplanation.task_id, OverdueExplanation.due_on)
        .having(next_rank <= len(LEVELS))
    )
    db.session.execute(
        _insert(Escalation)
        .from_select(
            ["task_id", "due_on", "rank", "level", "state", "run_id", "at", "webhook_state", "webhook_attempts"],
            select_next,
        )
        .on_conflict_do_nothing()
    )


def _fill_report(report: EscalationReport, line_limit: int = 200) -> None:
    counts = db.session.execute(
        select(Escalation.state, Escalation.level, func.count())
        .where(Escalation.run_id == report.run_id)
        .group_by(Escalation.state, Escalation.level)
    )
    for state, level, count in counts:
        if state == FIRED:
            report.fired[level] = count
        else:
            report.skipped += count
    rows = db.session.execute(
        select(Escalation.level, Task.ref, Task.title, OrgUnit.name, Task.due_on)
        .join(Task, Task.id == Escalation.task_id)
        .join(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Escalation.run_id == report.run_id, Escalation.state == FIRED)
        .order_by(Escalation.rank.desc(), Task.due_on, Task.id)
        .limit(line_limit)
    )
    report.lines = [f"{level:<10} {due} {ref} {title[:40]} — {owner}" for level, ref, title, owner, due in rows]


def run(now: Optional[str] = None) -> None:
    """The scheduler's job: one escalation pass, then deliver what is pending (mail, webhook).

    Referenced as "tracker.tasks.escalation:run"; it builds its own app so that the job store
    holds nothing but this reference. A database error ends it with one log line (tracker/tasks/jobs.py).
    """
    from tracker.tasks.jobs import scheduled

    scheduled(
        "escalation", lambda: pass_and_deliver(datetime.fromisoformat(now) if now else datetime.now(timezone.utc))
    )


def pass_and_deliver(moment: datetime):
    from tracker.notifications.delivery import deliver_pending

    report = escalate(moment)
    log.info(
        "escalation %s: fired %s, skipped %d, notifications %d, sign-for reminders %d",
        report.run_id,
        report.fired,
        report.skipped,
        report.notifications,
        report.unsigned,
    )
    delivery = deliver_pending(moment)
    log.info(
        "delivery: %d digests (%d items), %d failed; webhook %d posts (%d items), %d failed",
        delivery.mails_sent,
        delivery.mail_items,
        delivery.mail_failures,
        delivery.webhook_posts,
        delivery.webhook_items,
        delivery.webhook_failures,
    )
    return report, delivery
