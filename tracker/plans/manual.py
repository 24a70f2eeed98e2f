"""Plans and tasks made by hand (立项交办): a coordinator creates a plan for their unit, adds a
task under any node of a plan in their scope, moves a task under another node of the same plan,
deletes a task nothing was reported on yet (else it is cancelled instead), and gives ad-hoc
items (领导交办 / 会议议定事项) to units through a standing plan per unit, "交办事项".

Who may do what:
- a coordinator (or an admin) creates a plan issued by their own unit or a unit under it;
- adds a task at the top of a plan their subtree issued, or under a node their subtree owns
  (分解: a province breaks a national task down) or of a plan their subtree issued; the owner is
  their unit or one under it, never a retired one;
- moves and deletes the tasks they coordinate (owned within their subtree), within the plan.

Every change is journaled (the task journal; the plan's in the audit journal), services flush
and the route commits. A task given to another unit waits to be signed for (待签收) and its
coordinators (and the responsible person) are told.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import delete, func, literal, or_, select, update

from tracker.audit import journal as audit
from tracker.cascade.service import GROUP, CascadeError, TargetSpec, cascade_task, target_units
from tracker.duties.rules import RuleError, check_rule
from tracker.extensions import db
from tracker.lazy_text import lazy_gettext as _l
from tracker.models import (
    Cascade,
    CascadeChild,
    Evidence,
    IndicatorDefinition,
    IndicatorForm,
    JournalEntry,
    Occurrence,
    OrgUnit,
    OverdueExplanation,
    Phase,
    Plan,
    ProvincialScheme,
    ReportingPeriod,
    SchemeRequirement,
    SchemeTaskLink,
    Task,
    TaskUrge,
    User,
    instruction_tasks,
)
from tracker.models.base import utcnow
from tracker.models.notify import ASSIGNED
from tracker.notifications.notices import notify, union_of, unit_coordinators
from tracker.plans import journal, rollup
from tracker.plans.operations import ASSIGNMENT_FROZEN, NotAllowed, StaleVersion
from tracker.plans.status import CLOSED_STATUSES, NOT_STARTED
from tracker.tasks.recurrence import sync_occurrences
from tracker.timeutil import local_today

ADHOC_TITLE = "交办事项"  # the standing plan's title: a name people know, in every language
ADHOC_PREFIX = "adhoc-"
PLANNERS = ("admin", "coordinator")


class Problems(ValueError):
    """Refused values: {form field name: message}; nothing was written."""

    def __init__(self, problems: dict):
        self.problems = problems
        super().__init__("; ".join(str(m) for m in problems.values()))


class CannotDelete(ValueError):
    """The task (or one under it) has reports or records: it is cancelled, not deleted."""


def _problem(field: str, message) -> Problems:
    return Problems({field: message})


# --- who may ----------------------------------------------------------------------------------


def may_plan(user: User) -> bool:
    return user.role in PLANNERS


def _within_reach(user: User, unit: Optional[OrgUnit]) -> bool:
    return unit is not None and (user.role == "admin" or unit.is_within(user.unit))


def plan_in_scope(user: User, plan: Plan) -> bool:
    """Was the plan issued by the user's unit or one under it (an admin: any plan)?"""
    if user.role == "admin":
        return True
    return user.role == "coordinator" and _within_reach(user, plan.issuer_unit)


def may_add_under(user: User, plan: Plan, parent: Optional[Task]) -> bool:
    if not may_plan(user):
        return False
    if plan_in_scope(user, plan):
        return True
    return parent is not None and _within_reach(user, parent.owner_unit)


def may_rearrange(user: User, task: Task) -> bool:
    """Move or delete: a coordinator over the task's owner (an admin: any task). What
    `actor_for(user, task).is_coordinator` says, without its review-conflict query: the plan
    tree asks it of every row."""
    if user.role == "admin":
        return True
    return user.role == "coordinator" and task.owner_unit is not None and task.owner_unit.is_within(user.unit)


def is_standing_plan(plan: Plan) -> bool:
    return plan.key.startswith(ADHOC_PREFIX)


# --- plans --------------------------------------------------------------------------------------


@dataclass
class PhaseValues:
    name: str
    start_on: Optional[date] = None
    end_on: Optional[date] = None
    id: Optional[int] = None  # an existing phase of the plan (editing); None: a new one
    remove: bool = False  # editing: delete this phase (refused while tasks are in it)


@dataclass
class PlanValues:
    title: str
    unit: Optional[OrgUnit] = None  # the issuing unit; the user's own by default
    doc_number: str = ""
    issuer: str = ""
    issued_on: Optional[date] = None
    period_start: Optional[date] = None
    period_end: Optional[date] = None
    phases: list[PhaseValues] = field(default_factory=list)


def _new_plan_key(unit: OrgUnit) -> str:
    stem = f"{unit.code.lower()}-{local_today():%Y%m%d}"
    while True:
        key = f"{stem}-{uuid.uuid4().hex[:6]}"
        if db.session.scalar(select(Plan.id).where(Plan.key == key)) is None:
            return key


def _unit_problem(user: User, unit: Optional[OrgUnit]):
    if unit is None:
        return _l("Choose a unit.")
    if unit.is_retired:
        return _l("The unit '%(name)s' is retired.", name=unit.name)
    if not _within_reach(user, unit):
        return _l("The unit '%(name)s' is not your unit or under it.", name=unit.name)
    return None


def _plan_problems(values: PlanValues) -> dict:
    """The problems of a plan's own fields and of its phases (those kept), by form field."""
    problems = {}
    title = (values.title or "").strip()
    if not title:
        problems["title"] = _l("A title is required.")
    elif len(title) > 300:
        problems["title"] = _l("A title may have at most %(n)d characters.", n=300)
    if len(values.doc_number or "") > 100:
        problems["doc_number"] = _l("At most %(n)d characters.", n=100)
    if len(values.issuer or "") > 300:
        problems["issuer"] = _l("At most %(n)d characters.", n=300)
    if values.period_start and values.period_end and values.period_end < values.period_start:
        problems["period_end"] = _l("The end is before the start.")
    seen = set()
    for index, phase in enumerate(values.phases):
        if phase.remove:
            continue
        name = (phase.name or "").strip()
        if not name:
            problems[f"phases-{index}-name"] = _l("A phase needs a name.")
        elif len(name) > 120:
            problems[f"phases-{index}-name"] = _l("At most %(n)d characters.", n=120)
        elif name in seen:
            problems[f"phases-{index}-name"] = _l("Two phases are called '%(name)s'.", name=name)
        seen.add(name)
        if phase.start_on and phase.end_on and phase.end_on < phase.start_on:
            problems[f"phases-{index}-end_on"] = _l("The end is before the start.")
    return problems


def create_plan(user: User, values: PlanValues) -> Plan:
    """A new plan issued by the user's unit (or one under it), with its phases."""
    if not may_plan(user):
        raise NotAllowed(_l("Only coordinators create plans."))
    unit = values.unit or user.unit
    problems = _plan_problems(values)
    if (message := _unit_problem(user, unit)) is not None:
        problems["unit"] = message
    title = values.title.strip()
    if problems:
        raise Problems(problems)
    plan = Plan(
        key=_new_plan_key(unit),
        title=title,
        doc_number=(values.doc_number or "").strip(),
        issuer=(values.issuer or "").strip() or unit.name,
        issuer_unit=unit,
        issued_on=values.issued_on,
        period_start=values.period_start,
        period_end=values.period_end,
        source="",
        repairs=[],
        notes="",
    )
    for index, phase in enumerate(values.phases):
        plan.phases.append(
            Phase(
                key=f"p{index + 1}",
                name=phase.name.strip(),
                start_on=phase.start_on,
                end_on=phase.end_on,
                position=index,
            )
        )
    db.session.add(plan)
    db.session.flush()
    audit.record_plan(user, plan, "create", comment=f"{unit.code} {unit.name}")
    return plan


def standing_plan(unit: OrgUnit, user: Optional[User] = None, create: bool = True) -> Optional[Plan]:
    """The unit's standing plan of ad-hoc items ("交办事项"), made on first use."""
    key = f"{ADHOC_PREFIX}{unit.code.lower()}"[:60]
    plan = db.session.scalar(select(Plan).where(Plan.key == key))
    if plan is None and create:
        plan = Plan(
            key=key,
            title=ADHOC_TITLE,
            doc_number="",
            issuer=unit.name,
            issuer_unit=unit,
            source="",
            repairs=[],
            notes="",
        )
        db.session.add(plan)
        db.session.flush()
        audit.record_plan(user, plan, "create", comment=f"{unit.code} {unit.name}")
    return plan


def may_edit_plan(user: User, plan: Plan) -> bool:
    """Edit a plan's own fields: a coordinator of the issuing unit or a unit above it, an admin;
    never the standing plan of ad-hoc items (its name is the one people know)."""
    return plan_in_scope(user, plan) and not is_standing_plan(plan)


PLAN_FIELDS = ("title", "doc_number", "issuer", "issued_on", "period_start", "period_end")


def _phase_text(phase) -> str:
    dates = f"{phase.start_on.isoformat() if phase.start_on else ''}–{phase.end_on.isoformat() if phase.end_on else ''}"
    return f"{phase.name} {dates}" if dates != "–" else phase.name


def plan_stamp(plan: Plan) -> str:
    """A fingerprint of the plan's editable fields and phases: the edit form carries it, and a
    save with another one was made against an older state (plans have no version column)."""
    state = [[_text_value(getattr(plan, name)) for name in PLAN_FIELDS]] + [
        [p.id, p.name, _text_value(p.start_on), _text_value(p.end_on), p.position] for p in plan.phases
    ]
    return hashlib.sha256(json.dumps(state, ensure_ascii=False).encode("utf-8")).hexdigest()[:32]


def _text_value(value):
    return value.isoformat() if isinstance(value, date) else value


class StalePlan(ValueError):
    """The plan was changed by someone else since the form was opened; nothing was written."""


def phase_task_counts(plan: Plan) -> dict[int, int]:
    """phase id -> how many tasks of the plan are in it (one statement)."""
    return dict(
        db.session.execute(
            select(Task.phase_id, func.count())
            .where(Task.plan_id == plan.id, Task.phase_id.is_not(None))
            .group_by(Task.phase_id)
        ).all()
    )


def update_plan(user: User, plan: Plan, values: PlanValues, expected_stamp: Optional[str] = None) -> int:
    """Change a plan's title, 文号, issuer, dates and phases (add, rename, re-date, remove one no
    task is in); every changed field is journaled with its old and new value. Returns how many
    changes were made (0: nothing changed). The issuing unit stays (it decides who sees the plan)."""
    if not may_edit_plan(user, plan):
        raise NotAllowed(_l("You may not edit this plan."))
    if expected_stamp is not None and expected_stamp != plan_stamp(plan):
        raise StalePlan(plan.key)
    problems = _plan_problems(values)
    existing = {p.id: p for p in plan.phases}
    counts = phase_task_counts(plan) if any(p.remove for p in values.phases) else {}
    for index, phase in enumerate(values.phases):
        if phase.id is not None and phase.id not in existing:
            problems[f"phases-{index}-name"] = _l("The phase is not of this plan.")
        elif phase.remove and phase.id is not None and counts.get(phase.id):
            problems[f"phases-{index}-remove"] = _l(
                "The phase '%(name)s' has %(n)d tasks: give them another phase before deleting it.",
                name=existing[phase.id].name,
                n=counts[phase.id],
            )
    if problems:
        raise Problems(problems)
    new_values = {
        "title": values.title.strip(),
        "doc_number": (values.doc_number or "").strip(),
        "issuer": (values.issuer or "").strip() or (plan.issuer_unit.name if plan.issuer_unit else ""),
        "issued_on": values.issued_on,
        "period_start": values.period_start,
        "period_end": values.period_end,
    }
    changes = 0
    for name, new in new_values.items():
        old = getattr(plan, name)
        if old != new:
            audit.record_plan(user, plan, "edit", name, old, new)
            setattr(plan, name, new)
            changes += 1
    keys = {p.key for p in plan.phases}
    kept = []
    for phase_values in values.phases:
        phase = existing.get(phase_values.id) if phase_values.id is not None else None
        if phase_values.remove:
            if phase is not None:
                audit.record_plan(user, plan, "edit", "phases", _phase_text(phase), None)
                plan.phases.remove(phase)
                changes += 1
            continue
        name = phase_values.name.strip()
        if phase is None:
            number = 1
            while f"p{number}" in keys:
                number += 1
            keys.add(f"p{number}")
            phase = Phase(key=f"p{number}", name=name, start_on=phase_values.start_on, end_on=phase_values.end_on)
            plan.phases.append(phase)
            audit.record_plan(user, plan, "edit", "phases", None, _phase_text(phase))
            changes += 1
        elif (phase.name, phase.start_on, phase.end_on) != (name, phase_values.start_on, phase_values.end_on):
            before = _phase_text(phase)
            phase.name, phase.start_on, phase.end_on = name, phase_values.start_on, phase_values.end_on
            audit.record_plan(user, plan, "edit", "phases", before, _phase_text(phase))
            changes += 1
        kept.append(phase)
    for position, phase in enumerate(kept):
        phase.position = position
    db.session.flush()
    return changes


# --- tasks --------------------------------------------------------------------------------------


@dataclass
class TaskValues:
    title: str
    owner: Optional[OrgUnit] = None
    description: str = ""
    co_owners: list[OrgUnit] = field(default_factory=list)
    responsible: Optional[User] = None
    start_on: Optional[date] = None
    due_on: Optional[date] = None
    deliverable: str = ""
    weight: float = 1.0
    phase: Optional[Phase] = None
    notes: str = ""
    recurrence: str = ""  # an RRULE (the frequency picker writes it): a recurring duty


def check_task_values(user: User, plan: Optional[Plan], values: TaskValues) -> dict:
    """Every problem of the values, by form field (empty: all right)."""
    problems = {}
    title = (values.title or "").strip()
    if not title:
        problems["title"] = _l("A title is required.")
    elif len(title) > 500:
        problems["title"] = _l("A title may have at most %(n)d characters.", n=500)
    if len(values.description or "") > 20000:
        problems["description"] = _l("At most %(n)d characters.", n=20000)
    if len(values.deliverable or "") > 300:
        problems["deliverable"] = _l("At most %(n)d characters.", n=300)
    owner = values.owner
    if owner is None:
        problems["owner"] = _l("Choose the owner unit.")
    elif owner.is_retired:
        problems["owner"] = _l("The unit '%(name)s' is retired.", name=owner.name)
    elif not _within_reach(user, owner):
        problems["owner"] = _l("The owner must be your unit or a unit under it.")
    retired = [u.name for u in values.co_owners if u.is_retired]
    if retired:
        problems["co_owners"] = _l("Retired units: %(names)s", names="、".join(retired))
    elif owner is not None and any(u.id == owner.id for u in values.co_owners):
        problems["co_owners"] = _l("The owner unit is not also a co-owner.")
    person = values.responsible
    if person is not None and (owner is None or person.unit_id != owner.id or not person.active):
        problems["responsible"] = _l("Choose an active user of the owner unit.")
    if values.start_on and values.due_on and values.due_on < values.start_on:
        problems["due_on"] = _l("The due date is before the start.")
    if values.weight is None or not 0 < values.weight <= 1000:
        problems["weight"] = _l("The weight must be greater than 0.")
    if values.phase is not None and (plan is None or values.phase.plan_id != plan.id):
        problems["phase"] = _l("The phase is not of this plan.")
    if (values.recurrence or "").strip():
        try:
            check_rule(values.recurrence)
        except RuleError as exc:
            problems["rule"] = _l("Not a valid recurrence rule: %(reason)s", reason=str(exc))
    return problems


def _parent_problem(plan: Plan, parent: Optional[Task]):
    if parent is None:
        return None
    if parent.plan_id != plan.id:
        return _l("The node is not part of this plan.")
    if parent.owner_selector is not None:
        return _l("The tasks under a cascade template are made by its cascade.")
    if parent.status in CLOSED_STATUSES:
        return _l("Nothing is added under a closed task.")
    return None


def _free_ref(plan: Plan, parent: Optional[Task]) -> str:
    """The next number under the parent ("二.(三).4"), or at the top ("5"): one statement."""
    siblings = select(func.count()).select_from(Task).where(Task.plan_id == plan.id)
    siblings = siblings.where(Task.parent_id == parent.id) if parent else siblings.where(Task.parent_id.is_(None))
    base = f"{parent.ref}." if parent else ""
    number = (db.session.scalar(siblings) or 0) + 1
    taken = set(
        db.session.scalars(
            select(Task.ref).where(Task.plan_id == plan.id, Task.ref.startswith(base, autoescape=True))
            if base
            else select(Task.ref).where(Task.plan_id == plan.id, Task.parent_id.is_(None))
        )
    )
    while f"{base}{number}" in taken:
        number += 1
    return f"{base}{number}"[:120]


def _next_position(plan: Plan, parent: Optional[Task]) -> int:
    query = select(func.max(Task.position)).where(Task.plan_id == plan.id)
    query = query.where(Task.parent_id == parent.id) if parent else query.where(Task.parent_id.is_(None))
    last = db.session.scalar(query)
    return (last if last is not None else -1) + 1


def add_task(
    user: User,
    plan: Plan,
    parent: Optional[Task],
    values: TaskValues,
    now: Optional[datetime] = None,
    make_occurrences: bool = True,
) -> Task:
    """A new task under `parent` (None: at the top of the plan), last among its siblings.

    With a rule it is a recurring duty, as a seeded one is; its first occurrences (the current
    period's and the next) are made at once, as the rule page does (tracker/duties/service.py),
    not on the next daily run."""
    if not may_add_under(user, plan, parent):
        raise NotAllowed(_l("You may not add tasks here."))
    if (message := _parent_problem(plan, parent)) is not None:
        raise _problem("parent", message)
    problems = check_task_values(user, plan, values)
    if problems:
        raise Problems(problems)
    owner = values.owner
    task = Task(
        plan=plan,
        parent=parent,
        ref=_free_ref(plan, parent),
        title=values.title.strip(),
        description=(values.description or "").strip(),
        owner_unit=owner,
        owner_selector=None,
        co_owner_selectors=[],
        start_on=values.start_on,
        due_on=values.due_on,
        deliverable=(values.deliverable or "").strip(),
        weight=values.weight,
        phase=values.phase,
        recurrence=check_rule(values.recurrence) if (values.recurrence or "").strip() else None,
        status=NOT_STARTED,
        percent=0,
        progress=0.0,
        notes=(values.notes or "").strip(),
        responsible=values.responsible,
        origin="manual",
        position=_next_position(plan, parent),
        depth=parent.depth + 1 if parent else 0,
        path="",
        # given to another unit: 待签收 for it until one of its users signs for it
        assigned_at=utcnow() if owner.id != user.unit_id else None,
    )
    task.co_owners = list(values.co_owners)
    db.session.add(task)
    db.session.flush()
    task.path = f"{parent.path if parent else '/'}{task.id}/"
    journal.record(task, user, "create")
    rollup.refresh_task_and_ancestors(task)
    if task.assigned_at is not None:
        audience = unit_coordinators(owner.id)
        if values.responsible is not None:
            audience = union_of(audience, select(User.id).where(User.id == values.responsible.id))
        notify(ASSIGNED, task, user, audience)
    if task.recurrence and make_occurrences:
        sync_occurrences(now, user=user, under_path=task.path)
    return task


@dataclass
class EachUnit:
    """Owned by "each unit of a kind and/or level under a unit": the task made by hand is the
    template, and one child task per matching unit is made by the cascade service, with the
    same target selection as the cascade page (tracker/cascade/service.py)."""

    under: Optional[OrgUnit]
    kind: Optional[str] = None
    level: Optional[str] = None

    def spec(self) -> TargetSpec:
        return TargetSpec(mode=GROUP, kind=self.kind or None, level=self.level or None, under=self.under.code)


def each_unit_targets(user: User, each: EachUnit) -> list[OrgUnit]:
    """The units that would each get a task, all within the user's reach; else Problems by field
    (nothing is written)."""
    under = each.under
    if under is None:
        raise _problem("each_under", _l("Choose the unit the units are under."))
    if not _within_reach(user, under):
        raise _problem("each_under", _l("The unit '%(name)s' is not your unit or under it.", name=under.name))
    if not each.kind and not each.level:
        raise _problem("each_kind", _l("Choose a kind or a level of unit."))
    try:
        return target_units(each.spec(), user)
    except CascadeError as exc:
        raise _problem("each_under", str(exc)) from exc


def add_task_for_each_unit(
    user: User,
    plan: Plan,
    parent: Optional[Task],
    values: TaskValues,
    each: EachUnit,
    now: Optional[datetime] = None,
) -> tuple[Task, Cascade]:
    """A new task owned by `values.owner`, cascaded at once to each unit `each` names: the
    children, their journal ("create", and "cascade" on the template) and their notices are the
    cascade service's. Every problem is found before anything is written."""
    if not may_add_under(user, plan, parent):
        raise NotAllowed(_l("You may not add tasks here."))
    if (message := _parent_problem(plan, parent)) is not None:
        raise _problem("parent", message)
    problems = check_task_values(user, plan, values)
    try:
        each_unit_targets(user, each)
    except Problems as exc:
        problems = {**exc.problems, **problems}
    if problems:
        raise Problems(problems)
    task = add_task(user, plan, parent, values, make_occurrences=False)
    cascade = cascade_task(task, user, each.spec())
    if task.recurrence:  # each unit's task is a duty of its own (the template is none)
        sync_occurrences(now, user=user, under_path=task.path)
    return task, cascade


def create_adhoc_item(user: User, values: TaskValues) -> Task:
    """An ad-hoc item (领导交办 / 会议议定事项): a task at the top of the user's unit's standing
    plan "交办事项" (made on first use)."""
    if not may_plan(user):
        raise NotAllowed(_l("Only coordinators give ad-hoc items."))
    plan = standing_plan(user.unit, user)
    return add_task(user, plan, None, values)


def _subtree(task: Task):
    return select(Task.id).where(Task.plan_id == task.plan_id, Task.path.like(f"{task.path}%"))


FROZEN_PLACE = _l("A submitted or accepted task is not moved: its place stays as it is under review (return it first).")


def move_problem(task: Task, parent: Optional[Task]):
    if task.parent is not None and task.parent.owner_selector is not None:
        return _l("A cascade's task stays under its template.")
    if parent is None:
        return None
    if parent.id == task.id:
        return _l("A task cannot be moved under itself.")
    if parent.path.startswith(task.path):
        return _l("A task cannot be moved under a task below it.")
    return _parent_problem(task.plan, parent)


def move_task(user: User, task: Task, parent: Optional[Task], expected_version: Optional[int] = None) -> bool:
    """Put `task` (and everything under it) under `parent` of the same plan (None: at the top);
    returns whether it moved. The paths and depths under it are rewritten with one UPDATE."""
    if not may_rearrange(user, task):
        raise NotAllowed(_l("You may not move this task."))
    if expected_version is not None and expected_version != task.version:
        raise StaleVersion(task)
    if (parent.id if parent else None) == task.parent_id:
        return False
    if task.status in ASSIGNMENT_FROZEN:
        # review independence (tracker/plans/independence.py): like its owner and co-owners, the
        # parent of a task under review or accepted does not change
        raise _problem("parent", FROZEN_PLACE)
    if not may_add_under(user, task.plan, parent):
        raise NotAllowed(_l("You may not move this task there."))
    if (message := move_problem(task, parent)) is not None:
        raise _problem("parent", message)
    old_parent = task.parent
    if db.session.get_bind().dialect.name == "postgresql":
        # both chains (the old one, from the task up, and the new parent's), bottom up, before
        # any write: the recomputed parents then see every sibling (tracker/plans/rollup.py)
        rollup.lock_chains(db.session(), [t for t in (task, parent) if t is not None])
    old_path, new_path = task.path, f"{parent.path if parent else '/'}{task.id}/"
    shift = (parent.depth + 1 if parent else 0) - task.depth
    task.parent = parent
    task.position = _next_position(task.plan, parent)
    task.updated_at = utcnow()
    db.session.flush()
    db.session.execute(
        update(Task)
        .where(Task.plan_id == task.plan_id, Task.path.like(f"{old_path}%"))
        .values(path=literal(new_path) + func.substr(Task.path, len(old_path) + 1), depth=Task.depth + shift)
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Task) and obj.plan_id == task.plan_id:
            db.session.expire(obj, ["path", "depth"])
    journal.record(task, user, "move", "parent_id", _node_label(old_parent), _node_label(parent))
    rollup.refresh_task_and_ancestors(task)
    if old_parent is not None:
        rollup.refresh_task_and_ancestors(old_parent)
    db.session.flush()
    return True


def _node_label(task: Optional[Task]) -> str:
    if task is None:
        return default_text(_l("(top of the plan)"))
    return f"{task.ref} {task.title}"[:300]


def default_text(message) -> str:
    """A journal text in the default language (as stored; shown as written)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return str(message)


# Records that make a task more than an assignment: it is then cancelled, never deleted.
def _records(ids) -> list:
    """A count per kind of record of the tasks `ids` (a SELECT), evidence first."""
    columns = (
        Evidence.task_id,
        instruction_tasks.c.task_id,  # 批示
        TaskUrge.task_id,  # 催办
        OverdueExplanation.task_id,
        Cascade.template_task_id,
        CascadeChild.task_id,
        IndicatorDefinition.task_id,
        IndicatorForm.task_id,
        ReportingPeriod.task_id,
        ProvincialScheme.fulfils_task_id,
        SchemeRequirement.template_task_id,
        SchemeTaskLink.national_task_id,
        Occurrence.task_id,
        Occurrence.duty_task_id,
    )
    return [select(func.count()).select_from(c.table).where(c.in_(ids)).scalar_subquery() for c in columns]


def deletion_refusal(task: Task) -> Optional[str]:
    """Why the task cannot be deleted (and must be cancelled instead), or None: it, or a task
    under it, was reported on (a status other than not started, a percentage, evidence) or has
    records of its own (批示, 催办, an explanation, cascades, indicators, schemes, occurrences).
    One statement."""
    ids = _subtree(task)
    reported = (
        select(func.count())
        .select_from(Task)
        .where(Task.id.in_(ids), or_(Task.status != NOT_STARTED, Task.percent > 0))
        .scalar_subquery()
    )
    row = db.session.execute(select(reported, *_records(ids))).one()
    reported_count, evidence = int(row[0] or 0), int(row[1] or 0)
    others = sum(int(v or 0) for v in row[2:])
    if reported_count or evidence:
        return str(
            _l(
                "Progress was reported on it or under it (%(tasks)d tasks, %(files)d evidence items): "
                "cancel it instead of deleting it.",
                tasks=reported_count,
                files=evidence,
            )
        )
    if others:
        return str(
            _l(
                "It has records of its own (instructions, urging, explanations, cascades, indicators or "
                "schemes): cancel it instead of deleting it."
            )
        )
    return None


def delete_task(user: User, task: Task, expected_version: Optional[int] = None) -> int:
    """Delete a task and the tasks under it when nothing was reported on any of them; returns how
    many tasks went. Recorded in the plan's journal (the tasks' own journal goes with them)."""
    if not may_rearrange(user, task):
        raise NotAllowed(_l("You may not delete this task."))
    if expected_version is not None and expected_version != task.version:
        raise StaleVersion(task)
    refusal = deletion_refusal(task)
    if refusal:
        raise CannotDelete(refusal)
    plan, parent = task.plan, task.parent
    ids = list(db.session.scalars(_subtree(task)))
    audit.record_plan(
        user,
        plan,
        "edit",
        comment=default_text(
            _l(
                "Task deleted: %(ref)s %(title)s (with %(n)d tasks under it)",
                ref=task.ref,
                title=task.title,
                n=len(ids) - 1,
            )
            if len(ids) > 1
            else _l("Task deleted: %(ref)s %(title)s", ref=task.ref, title=task.title)
        ),
    )
    gone = set(ids)
    for obj in list(db.session.identity_map.values()):
        if (isinstance(obj, Task) and obj.id in gone) or (isinstance(obj, JournalEntry) and obj.task_id in gone):
            db.session.expunge(obj)
    db.session.execute(
        delete(JournalEntry).where(JournalEntry.task_id.in_(ids)).execution_options(synchronize_session=False)
    )
    # one statement: the foreign key of a task to its parent is checked at its end
    db.session.execute(delete(Task).where(Task.id.in_(ids)).execution_options(synchronize_session=False))
    if parent is not None:
        rollup.refresh_task_and_ancestors(parent)
    db.session.flush()
    return len(ids)
