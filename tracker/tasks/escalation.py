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
from sqlalchemy import and_, case, exists, func, literal, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from tracker.explanations.service import missed_commitments
from tracker.extensions import db
from tracker.models import Escalation, Notification, OrgUnit, OverdueExplanation, Task, User
from tracker.models.notify import AUDIENCES, LEVELS, NONE, PENDING, RANKS
from tracker.models.notify import OVERDUE as OVERDUE_LEVEL
from tracker.notifications.rules import RuleGroup, rule_groups
from tracker.plans.status import OVERDUE_STATUSES
from tracker.timeutil import local_today

log = logging.getLogger(__name__)

ADVISORY_LOCK_KEY = 7_314_001  # "escalation pass" (any constant shared by all processes)
FIRED, SKIPPED = "fired", "skipped"
OWNER_ROLES = ("reporter", "coordinator")


@dataclass
class EscalationReport:
    run_id: str
    today: date
    dry_run: bool = False
    fired: dict[str, int] = field(default_factory=dict)  # level -> tasks
    skipped: int = 0
    notifications: int = 0
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
    query = (
        select(Task.id, Task.due_on, *extra)
        .where(
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
    )
    if group.plan_ids is not None:
        query = query.where(Task.plan_id.in_(group.plan_ids))
    elif group.except_plan_ids:
        query = query.where(Task.plan_id.not_in(group.except_plan_ids))
    return query


def _recipients(level: str, run_id: str, now: datetime, email_on: bool):
    """SELECT (user, escalation, task, level, …) for this run's fired escalations of `level`."""
    audience = AUDIENCES[level]
    owner = aliased(OrgUnit)
    email_state = literal(NONE)
    if email_on:
        email_state = case((User.email != "", literal(PENDING)), else_=literal(NONE))
    query = (
        select(
            User.id, Escalation.id, Escalation.task_id, literal(level), literal(now, type_=Notification.created_at.type),
            email_state, literal(0), literal(""),
        )
        .select_from(Escalation)
        .join(Task, Task.id == Escalation.task_id)
        .join(owner, owner.id == Task.owner_unit_id)
        .where(Escalation.run_id == run_id, Escalation.rank == RANKS[level], Escalation.state == FIRED, User.active.is_(True))
    )
    if audience == "owner":
        query = query.join(User, and_(User.unit_id == owner.id, User.role.in_(OWNER_ROLES)))
    elif audience == "parent_coordinators":
        query = query.join(User, and_(User.unit_id == owner.parent_id, User.role == "coordinator"))
    else:  # leaders of the owner unit and of every unit above it
        leader_unit = aliased(OrgUnit)
        query = query.join(User, User.role == "leader").join(leader_unit, leader_unit.id == User.unit_id).where(
            owner.path.like(leader_unit.path + "%")
        )
    return query


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
            fired = _insert(Escalation).from_select(
                ["task_id", "due_on", "rank", "level", "state", "run_id", "at", "webhook_state", "webhook_attempts"],
                _due_tasks(group, today, literal(group.rank), literal(group.level), literal(FIRED), literal(run),
                           literal(now, type_=Escalation.at.type), literal(webhook_state), literal(0)),
            ).on_conflict_do_nothing()
            db.session.execute(fired)
            for lower in LEVELS[: group.rank - 1]:
                mine = aliased(Escalation)
                skipped = _insert(Escalation).from_select(
                    ["task_id", "due_on", "rank", "level", "state", "run_id", "at", "webhook_state", "webhook_attempts"],
                    select(mine.task_id, mine.due_on, literal(RANKS[lower]), literal(lower), literal(SKIPPED), literal(run),
                           literal(now, type_=Escalation.at.type), literal(NONE), literal(0))
                    .where(mine.run_id == run, mine.rank == group.rank, mine.state == FIRED),
                ).on_conflict_do_nothing()
                db.session.execute(skipped)
        for level in LEVELS:
            db.session.execute(
                _insert(Notification).from_select(
                    ["user_id", "escalation_id", "task_id", "level", "created_at", "email_state", "email_attempts", "email_error"],
                    _recipients(level, run, now, email_on),
                ).on_conflict_do_nothing()
            )
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
        select(OverdueExplanation.task_id, OverdueExplanation.due_on, next_rank, level, literal(FIRED), literal(run),
               literal(now, type_=Escalation.at.type), literal(webhook_state), literal(0))
        .outerjoin(reached, and_(reached.task_id == OverdueExplanation.task_id, reached.due_on == OverdueExplanation.due_on))
        .where(OverdueExplanation.id.in_(missed))
        .group_by(OverdueExplanation.task_id, OverdueExplanation.due_on)
        .having(next_rank <= len(LEVELS))
    )
    db.session.execute(_insert(Escalation).from_select(
        ["task_id", "due_on", "rank", "level", "state", "run_id", "at", "webhook_state", "webhook_attempts"], select_next,
    ).on_conflict_do_nothing())


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
    report.notifications = db.session.scalar(
        select(func.count()).select_from(Notification).join(Escalation, Escalation.id == Notification.escalation_id)
        .where(Escalation.run_id == report.run_id)
    ) or 0
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
    holds nothing but this reference.
    """
    from tracker import create_app
    from tracker.notifications.delivery import deliver_pending

    app = create_app()
    with app.app_context():
        moment = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
        report = escalate(moment)
        log.info("escalation %s: fired %s, skipped %d, notifications %d",
                 report.run_id, report.fired, report.skipped, report.notifications)
        deliver_pending(moment)
