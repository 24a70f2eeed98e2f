"""The recurrence job: recurring duties produce their dated occurrences ahead of time.

A duty is a task with an RRULE (`recurrence`) and one owner unit: a cascade child such as
"北京市人民医院: monthly quality committee meeting", or a task owned directly. Each run makes,
for every duty, the occurrences from the day after its last past one (from today the first
time: nothing is back-filled before the first run) up to the LOOKAHEAD-th date on or after
today, within the duty's start and end (its own dates, else its phase's, else its plan's).
Each occurrence is a child task of the duty, owned by the duty's unit and due on its date, so
it is tracked, reviewed and escalated like any task; one missed stays overdue.

The unique key (duty, due date) keeps a second run, or a second process, from duplicating an
occurrence. When a rule changes, only future occurrences change: those due today or later
that nobody has started and that the new rule no longer gives are cancelled (marked
superseded, journaled), and the new dates are made. Past occurrences are never touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import and_, exists, func, insert, or_, select, text
from sqlalchemy.orm import joinedload

from tracker.duties.rules import RuleError, build_rule, dates_between, nth_on_or_after, previous_date
from tracker.cascade.service import insert_tasks, refresh_progress, set_statuses, stored_text
from tracker.extensions import db
from tracker.models import Task
from tracker.models.cascade import ACTIVE, Cascade, Occurrence
from tracker.plans import journal
from tracker.plans.status import CANCELLED, CLOSED_STATUSES, NOT_STARTED
from tracker.timeutil import local_today

log = logging.getLogger(__name__)

LOOKAHEAD = 2  # occurrences made ahead: the current period's and the next one's
ADVISORY_LOCK_KEY = 7_314_002  # "recurrence pass": two processes never generate at once
SUPERSEDED = _l("The recurrence rule changed; this date is no longer due.")
REOPENED = _l("The recurrence rule gives this date again.")


@dataclass
class RecurrenceReport:
    today: date
    duties: int = 0
    created: int = 0
    superseded: int = 0
    reopened: int = 0
    errors: list[str] = field(default_factory=list)


def duty_clause():
    """Tasks that generate occurrences: a rule, one owner unit, open, not a cascade template."""
    template = exists().where(Cascade.template_task_id == Task.id, Cascade.state == ACTIVE)
    return and_(
        Task.recurrence.is_not(None),
        Task.recurrence != "",
        Task.owner_unit_id.is_not(None),
        Task.owner_selector.is_(None),
        Task.status.not_in(CLOSED_STATUSES),
        ~template,
    )


def duty_bounds(duty: Task) -> tuple[Optional[date], Optional[date]]:
    """The first and last day a duty's occurrences may fall on."""
    phase = duty.phase
    begin = duty.start_on or (phase.start_on if phase else None) or duty.plan.period_start
    end = duty.due_on or (phase.end_on if phase else None) or duty.plan.period_end
    return begin, end


def sync_occurrences(
    now: Optional[datetime] = None,
    duty_ids: Optional[Iterable[int]] = None,
    user=None,
    under_path: Optional[str] = None,
) -> RecurrenceReport:
    """Bring every duty's occurrences up to date at `now` (aware). Flushes; the caller commits.

    Five statements to read whatever the number of duties (duties; last past occurrence per
    duty; future and superseded occurrences; then inserts, and one progress UPDATE per depth).
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("sync_occurrences() needs an aware datetime")
    today = local_today(now)
    report = RecurrenceReport(today=today)
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    is_duty = duty_clause()
    pending = select(Occurrence.duty_task_id).where(Occurrence.due_on >= today, Occurrence.superseded.is_(False))
    query = (
        select(Task, is_duty.label("active"))
        .where(or_(is_duty, Task.id.in_(pending)))
        .options(joinedload(Task.plan), joinedload(Task.phase))
    )
    if duty_ids is not None:
        query = query.where(Task.id.in_(list(duty_ids)))
    if under_path is not None:  # a duty and everything under it (a template and its children)
        query = query.where(Task.path.startswith(under_path, autoescape=True))
    duties = db.session.execute(query.order_by(Task.id)).all()
    if not duties:
        return report
    report.duties = len(duties)
    ids_query = query.with_only_columns(Task.id).order_by(None).subquery()
    last_past = dict(
        db.session.execute(
            select(Occurrence.duty_task_id, func.max(Occurrence.due_on))
            .where(Occurrence.duty_task_id.in_(select(ids_query.c.id)), Occurrence.due_on < today)
            .group_by(Occurrence.duty_task_id)
        ).all()
    )
    known: dict[int, dict[date, tuple[Occurrence, Task]]] = {}
    for occurrence, task in db.session.execute(
        select(Occurrence, Task)
        .join(Task, Task.id == Occurrence.task_id)
        .where(
            Occurrence.duty_task_id.in_(select(ids_query.c.id)),
            or_(Occurrence.due_on >= today, Occurrence.superseded.is_(True)),
        )
    ).all():
        known.setdefault(occurrence.duty_task_id, {})[occurrence.due_on] = (occurrence, task)

    new_rows: dict[int, list[tuple[Task, date, dict]]] = {}  # plan id -> (duty, due, task values)
    superseded: list[tuple[int, str]] = []
    touched: list[Task] = []
    for duty, active in duties:
        existing = known.get(duty.id, {})
        wanted: set[date] = set()
        rule_text = duty.recurrence or ""
        rule = None
        in_rule: set[date] = set()
        if active:
            begin, end = duty_bounds(duty)
            try:
                rule = build_rule(rule_text, begin)
            except RuleError as exc:
                report.errors.append(f"{duty.ref}: {exc}")
                continue
            horizon = nth_on_or_after(rule, max(today, begin) if begin else today, LOOKAHEAD)
            last_known = max(existing) if existing else None
            upto = max(d for d in (horizon, last_known, today) if d is not None)
            if end:
                upto = min(upto, end)
            start = last_past[duty.id] + timedelta(days=1) if duty.id in last_past else today
            if begin:
                start = max(start, begin)
            in_rule = set(dates_between(rule, min(start, today), upto))
            wanted = {d for d in in_rule if d >= start and (horizon is None or d <= horizon)}
        changed = False
        for due, (occurrence, task) in existing.items():
            if due < today:
                continue  # the past stays as it was
            if occurrence.superseded:
                if due in wanted and task.status == CANCELLED:
                    journal.record(task, user, "status", "status", task.status, NOT_STARTED, stored_text(REOPENED))
                    task.status, occurrence.superseded, occurrence.rule = NOT_STARTED, False, rule_text
                    report.reopened += 1
                    changed = True
                continue
            if due not in in_rule and task.status == NOT_STARTED and not task.percent:
                superseded.append((task.id, task.status))
                occurrence.superseded = True
                changed = True
        for due in sorted(wanted - set(existing)):
            new_rows.setdefault(duty.plan_id, []).append((duty, due, _occurrence_values(duty, due, rule)))
        if changed or any(d not in existing for d in wanted):
            touched.append(duty)
    set_statuses(superseded, CANCELLED, user, stored_text(SUPERSEDED) if superseded else "")
    report.superseded = len(superseded)
    for plan_id, rows in new_rows.items():
        ids = insert_tasks(plan_id, [values for _duty, _due, values in rows], user)
        db.session.execute(
            insert(Occurrence),
            [
                {
                    "duty_task_id": duty.id,
                    "task_id": ids[values["ref"]],
                    "due_on": due,
                    "rule": duty.recurrence or "",
                    "superseded": False,
                    "created_at": now,
                }
                for duty, due, values in rows
            ],
        )
        report.created += len(rows)
    db.session.flush()
    refresh_progress(touched)
    return report


def _occurrence_values(duty: Task, due: date, rule) -> dict:
    before = previous_date(rule, due) if rule is not None else None
    return {
        "parent_id": duty.id,
        "phase_id": duty.phase_id,
        "ref": f"{duty.ref}#{due.isoformat()}",
        "title": duty.title,
        "owner_unit_id": duty.owner_unit_id,
        "start_on": (before + timedelta(days=1)) if before else duty.start_on,
        "due_on": due,
        "deliverable": duty.deliverable,
        "origin": "recurrence",
        "position": int(due.strftime("%Y%m%d")),
    }


def run(now: Optional[str] = None) -> None:
    """The scheduler's job ("tracker.tasks.recurrence:run"): one pass, committed.

    It builds its own app so that the job store holds nothing but this reference; a database
    error ends it with one log line (tracker/tasks/jobs.py).
    """
    from tracker.tasks.jobs import scheduled

    def one_pass() -> None:
        moment = datetime.fromisoformat(now) if now else datetime.now(timezone.utc)
        report = sync_occurrences(moment)
        db.session.commit()
        log.info(
            "recurrence %s: %d duties, %d created, %d superseded, %d reopened",
            report.today,
            report.duties,
            report.created,
            report.superseded,
            report.reopened,
        )
        for error in report.errors:
            log.warning("recurrence: %s", error)

    scheduled("recurrence", one_pass)
