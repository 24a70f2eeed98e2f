"""Cascade (分解下达): a template task expanded into one child task per target unit.

`preview_cascade` and `cascade_task` take the target units as a `TargetSpec` (all provincial
commissions; every unit of a kind and/or level under a unit; a hand-picked list of codes).
Each child copies the template's title, description, deliverable, due date (or a per-unit
override), phase, start, weight and recurrence. Later changes to the template's due date,
deliverable or rule flow to the children that have not overridden them (`sync_from_templates`,
run at flush time so that every path that edits a template, the task page or the seed loader,
keeps the children in step). `withdraw_cascade` cancels the children, journaled.

Services flush; the route, job or CLI commits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Optional

from flask import current_app
from flask_babel import force_locale
from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import String, case, cast, event, exists, func, insert, inspect, select, update
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from tracker.auth.scope import actor_for, can_view_task, visible_tasks_clause
from tracker.auth.service import unit_by_code
from tracker.plans.operations import SYNCED_KEY, NotAllowed
from tracker.extensions import db
from tracker.models import JournalEntry, OrgUnit, Task, User, task_co_owners
from tracker.models.cascade import ACTIVE, MANUAL, SEED, SYNCED_FIELDS, WITHDRAWN, Cascade, CascadeChild
from tracker.models.base import utcnow
from tracker.models.notify import ASSIGNED
from tracker.pagination import Page, paginate
from tracker.notifications.notices import notify_each
from tracker.plans import journal
from tracker.plans.rollup import _children_mean
from tracker.plans.queries import overdue_clause, task_order
from tracker.timeutil import local_today
from tracker.plans.status import BLOCKED, CANCELLED, CLOSED_STATUSES, OPEN_STATUSES

MAX_UNITS = 5000
PROVINCES, GROUP, LIST = "provinces", "group", "list"
MODES = (PROVINCES, GROUP, LIST)


class CascadeError(ValueError):
    """A refused cascade request; the message is for the user."""


def is_template_clause():
    """Tasks owned by "each unit of a kind" (the loader's templates)."""
    return Task.owner_selector.is_not(None)


# --- targets ---------------------------------------------------------------------------------


@dataclass
class TargetSpec:
    mode: str = PROVINCES
    kind: Optional[str] = None
    level: Optional[str] = None
    under: Optional[str] = None  # a unit code; the user's own unit when empty
    codes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        if self.mode == PROVINCES:
            return {"mode": PROVINCES}
        if self.mode == GROUP:
            return {
                k: v
                for k, v in (("mode", GROUP), ("kind", self.kind), ("level", self.level), ("under", self.under))
                if v
            }
        return {"mode": LIST, "units": list(self.codes)}


def split_codes(text: str) -> list[str]:
    """Unit codes from free text: commas (also Chinese ones), spaces or new lines between them."""
    seen: list[str] = []
    for code in re.split(r"[\s,，、;；]+", text or ""):
        code = code.strip().upper()
        if code and code not in seen:
            seen.append(code)
    return seen


def target_units(spec: TargetSpec, user: User) -> list[OrgUnit]:
    """The units the spec names, in tree order, all within the user's reach; else CascadeError."""
    if spec.mode not in MODES:
        raise CascadeError(_l("Choose how to pick the units."))
    query = select(OrgUnit)
    if spec.mode == PROVINCES:
        query = query.where(OrgUnit.kind == "commission", OrgUnit.level == "provincial")
    elif spec.mode == GROUP:
        if not spec.kind and not spec.level:
            raise CascadeError(_l("Choose a kind or a level of unit."))
        under = unit_by_code(spec.under) if spec.under else user.unit
        if under is None:
            raise CascadeError(_l("Unknown unit code: %(code)s", code=spec.under))
        query = query.where(OrgUnit.path.like(f"{under.path}%"), OrgUnit.id != under.id)
        if spec.kind:
            query = query.where(OrgUnit.kind == spec.kind)
        if spec.level:
            query = query.where(OrgUnit.level == spec.level)
    else:
        if not spec.codes:
            raise CascadeError(_l("Give at least one unit code."))
        if len(spec.codes) > MAX_UNITS:
            raise CascadeError(_l("At most %(n)d units at a time.", n=MAX_UNITS))
        query = query.where(OrgUnit.code.in_(spec.codes))
    units = list(db.session.scalars(query.order_by(OrgUnit.path).limit(MAX_UNITS + 1)))
    if spec.mode == LIST:
        unknown = sorted(set(spec.codes) - {u.code for u in units})
        if unknown:
            raise CascadeError(_l("Unknown unit codes: %(codes)s", codes=", ".join(unknown)))
        retired = [u.code for u in units if u.is_retired]
        if retired:
            raise CascadeError(_l("Retired units take no new tasks: %(codes)s", codes=", ".join(retired)))
    else:  # a retired unit keeps its history but takes no new cascades (tracker/units/)
        units = [u for u in units if not u.is_retired]
    if len(units) > MAX_UNITS:
        raise CascadeError(_l("At most %(n)d units at a time.", n=MAX_UNITS))
    if not units:
        raise CascadeError(_l("No unit matches."))
    if not user.sees_everything:
        outside = [u.code for u in units if not u.is_within(user.unit)]
        if outside:
            raise CascadeError(_l("These units are not under your unit: %(codes)s", codes=", ".join(outside[:20])))
    return units


# --- preview and create ------------------------------------------------------------------------


@dataclass
class PreviewRow:
    unit: OrgUnit
    due_on: Optional[date]
    overridden: bool
    existing: Optional[Task] = None  # the unit's child from an earlier, still active cascade


@dataclass
class CascadePreview:
    template: Task
    rows: list[PreviewRow]

    @property
    def new_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.existing is None]

    @property
    def existing_rows(self) -> list[PreviewRow]:
        return [r for r in self.rows if r.existing is not None]


def require_coordinator(user: User, task: Task) -> None:
    if not can_view_task(user, task) or not actor_for(user, task).is_coordinator:
        raise NotAllowed(_l("You may not cascade this task."))


def can_cascade(user: User, task: Task) -> bool:
    return task.status not in CLOSED_STATUSES and can_view_task(user, task) and actor_for(user, task).is_coordinator


def active_children_by_unit(template: Task) -> dict[int, Task]:
    """unit id -> the child task of an active cascade of `template` (one statement)."""
    rows = db.session.execute(
        select(CascadeChild.unit_id, Task)
        .join(Cascade, Cascade.id == CascadeChild.cascade_id)
        .join(Task, Task.id == CascadeChild.task_id)
        .where(Cascade.template_task_id == template.id, Cascade.state == ACTIVE, Task.status != CANCELLED)
    ).all()
    return {unit_id: task for unit_id, task in rows}


def preview_cascade(
    template: Task, user: User, spec: TargetSpec, due_overrides: Optional[dict[str, date]] = None
) -> CascadePreview:
    require_coordinator(user, template)
    if template.status in CLOSED_STATUSES:
        raise CascadeError(_l("A closed task cannot be cascaded."))
    units = target_units(spec, user)
    existing = active_children_by_unit(template)
    overrides = due_overrides or {}
    rows = []
    for unit in units:
        due = overrides.get(unit.code, template.due_on)
        rows.append(PreviewRow(unit, due, unit.code in overrides and due != template.due_on, existing.get(unit.id)))
    return CascadePreview(template, rows)


def _free_refs(template: Task, units: list[OrgUnit], cascade_key: str) -> dict[int, str]:
    """`template-ref@UNITCODE` for each unit, or with `#n` when that ref is taken (a withdrawn cascade)."""
    taken = set(
        db.session.scalars(
            select(Task.ref).where(
                Task.plan_id == template.plan_id, Task.ref.startswith(f"{template.ref}@", autoescape=True)
            )
        )
    )
    refs = {}
    for unit in units:
        ref = f"{template.ref}@{unit.code}"
        if ref in taken:
            ref = f"{ref}#{cascade_key}"
        refs[unit.id] = ref
    return refs


def _child_values(template: Task, unit: OrgUnit, due_on: Optional[date]) -> dict[str, Any]:
    return {
        "plan_id": template.plan_id,
        "parent_id": template.id,
        "phase_id": template.phase_id,
        "title": template.title,
        "description": template.description,
        "owner_unit_id": unit.id,
        "owner_selector": None,
        "co_owner_selectors": list(template.co_owner_selectors or []),
        "start_on": template.start_on,
        "due_on": due_on,
        "deliverable": template.deliverable,
        "weight": template.weight,
        "recurrence": template.recurrence,
        "origin": "cascade",
    }


TASK_DEFAULTS = {
    "description": "",
    "owner_selector": None,
    "co_owner_selectors": [],
    "deliverable": "",
    "weight": 1.0,
    "status": "not_started",
    "percent": 0,
    "progress": 0.0,
    "recurrence": None,
    "notes": "",
    "position": 0,
    "path": "",
    "version": 1,
    "start_on": None,
    "phase_id": None,
}


def insert_tasks(plan_id: int, rows: list[dict[str, Any]], user: Optional[User]) -> dict[str, int]:
    """Insert many new tasks of one plan under existing parents, with their paths, depths and
    "create" journal entries, in a fixed number of statements; return ref -> id."""
    if not rows:
        return {}
    now = utcnow()
    values = [{**TASK_DEFAULTS, "created_at": now, "updated_at": now, "plan_id": plan_id, **row} for row in rows]
    db.session.flush()
    db.session.execute(insert(Task), values)
    refs = [row["ref"] for row in values]
    ids = dict(db.session.execute(select(Task.ref, Task.id).where(Task.plan_id == plan_id, Task.ref.in_(refs))).all())
    parent = aliased(Task)
    db.session.execute(
        update(Task)
        .where(Task.id.in_(list(ids.values())))
        .values(
            path=select(parent.path).where(parent.id == Task.parent_id).scalar_subquery() + cast(Task.id, String) + "/",
            depth=select(parent.depth + 1).where(parent.id == Task.parent_id).scalar_subquery(),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(JournalEntry),
        [
            {"task_id": task_id, "user_id": user.id if user else None, "action": "create", "at": now, "comment": ""}
            for task_id in ids.values()
        ],
    )
    return ids


def cascade_task(
    template: Task, user: User, spec: TargetSpec, due_overrides: Optional[dict[str, date]] = None
) -> Cascade:
    """Create one child task per target unit that has none yet; journal it; return the cascade.

    A fixed number of statements whatever the number of units."""
    preview = preview_cascade(template, user, spec, due_overrides)
    rows = preview.new_rows
    if not rows:
        raise CascadeError(_l("Every selected unit already has this task."))
    cascade = Cascade(template=template, origin=MANUAL, target=spec.as_dict(), state=ACTIVE, created_by=user)
    db.session.add(cascade)
    db.session.flush()
    refs = _free_refs(template, [r.unit for r in rows], str(cascade.id))
    offset = db.session.scalar(select(func.max(Task.position)).where(Task.parent_id == template.id)) or 0
    assigned_at = utcnow()
    ids = insert_tasks(
        template.plan_id,
        [
            {
                "ref": refs[row.unit.id],
                "position": offset + index,
                "assigned_at": assigned_at,  # 待签收 for the receiving unit
                **_child_values(template, row.unit, row.due_on),
            }
            for index, row in enumerate(rows, start=1)
        ],
        user,
    )
    co_owner_ids = [u.id for u in template.co_owners]
    if co_owner_ids:
        db.session.execute(
            insert(task_co_owners),
            [{"task_id": ids[refs[row.unit.id]], "unit_id": unit_id} for row in rows for unit_id in co_owner_ids],
        )
    db.session.execute(
        insert(CascadeChild),
        [
            {
                "cascade_id": cascade.id,
                "task_id": ids[refs[row.unit.id]],
                "unit_id": row.unit.id,
                "due_overridden": row.overridden,
                "deliverable_overridden": False,
                "recurrence_overridden": False,
            }
            for row in rows
        ],
    )
    journal.record(template, user, "cascade", "cascade", None, len(rows))
    db.session.flush()
    # each receiving unit's coordinators hear of their new task (two statements in all)
    notify_each(ASSIGNED, list(ids.values()), user)
    db.session.expire(cascade, ["children"])
    refresh_progress([template])
    return cascade


# --- withdrawal --------------------------------------------------------------------------------


def withdraw_cascade(cascade: Cascade, user: User, reason: str) -> int:
    """Cancel every open child of the cascade (and what grew under them); return how many."""
    template = cascade.template
    require_coordinator(user, template)
    if cascade.state != ACTIVE:
        raise CascadeError(_l("This cascade has already been withdrawn."))
    reason = (reason or "").strip()
    if not reason:
        raise CascadeError(_l("A reason is required."))
    child_ids = set(db.session.scalars(select(CascadeChild.task_id).where(CascadeChild.cascade_id == cascade.id)))
    candidates = db.session.execute(
        select(Task.id, Task.path, Task.status).where(
            Task.path.startswith(template.path, autoescape=True),
            Task.id != template.id,
            Task.status.in_(OPEN_STATUSES + (BLOCKED,)),
        )
    ).all()
    doomed = [
        (task_id, status)
        for task_id, path, status in candidates
        if child_ids.intersection(int(p) for p in path.strip("/").split("/") if p)
    ]
    set_statuses(doomed, CANCELLED, user, reason)
    cascade.state = WITHDRAWN
    cascade.withdrawn_by = user
    cascade.withdrawn_at = utcnow()
    cascade.withdraw_reason = reason
    journal.record(template, user, "withdraw", "cascade", len(child_ids), len(doomed), reason)
    db.session.flush()
    refresh_progress([template] + list(db.session.scalars(select(Task).where(Task.id.in_(child_ids)))))
    return len(doomed)


def set_statuses(tasks: list[tuple[int, str]], target: str, user: Optional[User], comment: str) -> None:
    """Move many tasks ((id, current status) pairs) to `target` by the system's authority (a
    withdrawal, a changed rule), journaling each: three statements whatever their number."""
    if not tasks:
        return
    db.session.flush()
    now = utcnow()
    ids = [task_id for task_id, _status in tasks]
    db.session.execute(
        update(Task)
        .where(Task.id.in_(ids))
        .values(status=target, version=Task.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(JournalEntry),
        [
            {
                "task_id": task_id,
                "user_id": user.id if user else None,
                "action": "status",
                "field": "status",
                "old_value": status,
                "new_value": target,
                "comment": comment,
                "at": now,
            }
            for task_id, status in tasks
        ],
    )
    for obj in loaded_tasks(set(ids)):
        db.session.expire(obj)


def stored_text(message) -> str:
    """A message as stored in the journal: in the default language, whoever's request this is."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return str(message)


# --- queries for pages -----------------------------------------------------------------------


@dataclass
class ChildInfo:
    link: CascadeChild
    cascade: Cascade
    template: Task


def child_info(task: Task) -> Optional[ChildInfo]:
    row = db.session.execute(
        select(CascadeChild, Cascade, Task)
        .join(Cascade, Cascade.id == CascadeChild.cascade_id)
        .join(Task, Task.id == Cascade.template_task_id)
        .where(CascadeChild.task_id == task.id)
    ).first()
    return ChildInfo(*row) if row else None


@dataclass
class CascadeSummary:
    cascade: Cascade
    children: int
    open: int


def cascades_of(template: Task) -> list[CascadeSummary]:
    """The cascades of a template with their child counts (one statement)."""
    rows = db.session.execute(
        select(
            Cascade,
            func.count(CascadeChild.id),
            func.sum(case((Task.status.in_(OPEN_STATUSES + (BLOCKED,)), 1), else_=0)),
        )
        .outerjoin(CascadeChild, CascadeChild.cascade_id == Cascade.id)
        .outerjoin(Task, Task.id == CascadeChild.task_id)
        .where(Cascade.template_task_id == template.id)
        .group_by(Cascade.id)
        .order_by(Cascade.id)
    ).all()
    return [CascadeSummary(c, n or 0, int(o or 0)) for c, n, o in rows]


@dataclass
class ChildFilters:
    """What a cascade's children list shows: one status, only the overdue, the children of one
    unit's subtree (the unit picker), one responsible person (责任人); in `sort` order."""

    status: str = ""
    overdue: bool = False
    unit: Optional[OrgUnit] = None
    responsible_id: Optional[int] = None
    sort: str = ""  # "" the template's order (the units' order); else one of CHILD_SORTS

    @property
    def active(self) -> bool:
        return bool(self.status or self.overdue or self.unit is not None or self.responsible_id)


# the children list's columns that order it, and "-" before one for the reverse
CHILD_SORT_KEYS = ("unit", "due", "status", "updated")
CHILD_SORTS = CHILD_SORT_KEYS + tuple(f"-{key}" for key in CHILD_SORT_KEYS)


def _child_order(sort: str, unit: Any) -> tuple:
    if sort not in CHILD_SORTS:
        return (Task.position, Task.id)
    key = sort.lstrip("-")
    if key == "unit":
        return (unit.name.desc(), Task.id.desc()) if sort.startswith("-") else (unit.name.asc(), Task.id.asc())
    return task_order(sort)


def cascade_children(
    cascade: Cascade,
    page: int = 1,
    per_page: int = 50,
    user: Optional[User] = None,
    filters: Optional[ChildFilters] = None,
    today: Optional[date] = None,
) -> Page:
    """One page of a cascade's children that `user` sees, (link, task) rows with their units
    and responsible people, matching `filters`, in the template's order (or the chosen column's),
    and their bounded count (two statements: tracker/pagination.py)."""
    filters = filters or ChildFilters()
    unit = aliased(OrgUnit)
    query = (
        select(CascadeChild, Task)
        .join(Task, Task.id == CascadeChild.task_id)
        .join(unit, unit.id == CascadeChild.unit_id)
        .where(CascadeChild.cascade_id == cascade.id)
        .options(contains_eager(CascadeChild.unit.of_type(unit)), joinedload(Task.responsible))
    )
    if user is not None:
        query = query.where(visible_tasks_clause(user))
    if filters.status:
        query = query.where(Task.status == filters.status)
    if filters.overdue:
        query = query.where(overdue_clause(today or local_today()))
    if filters.unit is not None:
        query = query.where(unit.path.like(f"{filters.unit.path}%"))
    if filters.responsible_id:
        query = query.where(Task.responsible_user_id == filters.responsible_id)
    return paginate(query, page, per_page, *_child_order(filters.sort, unit), scalars=False)


def cascade_responsibles(cascade: Cascade, user: User) -> list[User]:
    """The responsible people (责任人) named on the cascade's children `user` sees, by name, for
    the list's filter (one statement)."""
    named = (
        select(Task.responsible_user_id)
        .join(CascadeChild, CascadeChild.task_id == Task.id)
        .where(CascadeChild.cascade_id == cascade.id, Task.responsible_user_id.is_not(None), visible_tasks_clause(user))
    )
    return list(db.session.scalars(select(User).where(User.id.in_(named)).order_by(User.display_name, User.id)))


def recent_cascades(user: User, page: int = 1, per_page: int = 50) -> Page:
    """Cascades of templates the user sees, newest first, and their bounded count (two statements)."""
    query = (
        select(Cascade)
        .join(Task, Task.id == Cascade.template_task_id)
        .where(visible_tasks_clause(user))
        .options(joinedload(Cascade.template).joinedload(Task.plan), joinedload(Cascade.created_by))
    )
    return paginate(query, page, per_page, Cascade.created_at.desc(), Cascade.id.desc())


# --- progress --------------------------------------------------------------------------------


def refresh_progress(tasks: Iterable[Task]) -> None:
    """Recompute the progress of these tasks (when they have children) and of every ancestor,
    deepest first: one UPDATE per depth, whatever the number of tasks."""
    by_depth: dict[int, set[int]] = defaultdict(set)
    for task in tasks:
        for depth, task_id in enumerate(int(p) for p in task.path.strip("/").split("/") if p):
            by_depth[depth].add(task_id)
    if not by_depth:
        return
    db.session.flush()
    child = aliased(Task)
    has_children = select(child.id).where(child.parent_id == Task.id).exists()
    for depth in sorted(by_depth, reverse=True):
        db.session.execute(
            update(Task)
            .where(Task.id.in_(sorted(by_depth[depth])), has_children)
            .values(progress=_children_mean(Task.id))
            .execution_options(synchronize_session=False)
        )
    for obj in loaded_tasks(set().union(*by_depth.values())):
        db.session.expire(obj, ["progress"])


def loaded_tasks(ids: set[int]) -> list[Task]:
    """The tasks with these ids that the session holds (found by identity key: no loading)."""
    return [obj for key, obj in list(db.session.identity_map.items()) if issubclass(key[0], Task) and key[1][0] in ids]


# --- keeping children in step with their template ----------------------------------------------


def _changed_fields(task: Task) -> dict[str, tuple[Any, Any]]:
    state = inspect(task)
    changes = {}
    for name in SYNCED_FIELDS:
        history = state.attrs[name].history
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = getattr(task, name)
            if old != new:
                changes[name] = (old, new)
    return changes


def _acting_user(session: Session, task: Task) -> Optional[User]:
    """The user whose journal entry for `task` is pending in this flush (who made the change)."""
    for obj in session.new:
        if isinstance(obj, JournalEntry) and obj.task is task and obj.user is not None:
            return obj.user
    return None


def sync_from_templates(session: Session, changed: dict[Task, dict[str, tuple[Any, Any]]]) -> None:
    """Apply template changes to the children that follow them; mark a child's own change as an
    override (or clear the mark when the child is set back to the template's value)."""
    ids = [t.id for t in changed]
    # 1. children edited by hand: overridden when they now differ from their template
    as_child = session.execute(
        select(CascadeChild, Task)
        .join(Cascade, Cascade.id == CascadeChild.cascade_id)
        .join(Task, Task.id == Cascade.template_task_id)
        .where(CascadeChild.task_id.in_(ids))
    ).all()
    by_id = {t.id: t for t in changed}
    for link, template in as_child:
        child = by_id[link.task_id]
        for name in changed[child]:
            link.set_overridden(name, getattr(child, name) != getattr(template, name))
    # 2. templates: their followers take the new values, down the cascades
    queue = dict(changed)
    seen: set[int] = set()
    while queue:
        templates = {t.id: (t, fields) for t, fields in queue.items() if t.id not in seen}
        seen.update(templates)
        queue = {}
        if not templates:
            break
        rows = session.execute(
            select(CascadeChild, Cascade.template_task_id, Task)
            .join(Cascade, Cascade.id == CascadeChild.cascade_id)
            .join(Task, Task.id == CascadeChild.task_id)
            .where(
                Cascade.template_task_id.in_(list(templates)),
                Cascade.state == ACTIVE,
                Task.status.not_in(CLOSED_STATUSES),
            )
        ).all()
        users = {tid: _acting_user(session, template) for tid, (template, _f) in templates.items()}
        for link, template_id, child in rows:
            template, fields = templates[template_id]
            child_changes = {}
            for name, (_old, new) in fields.items():
                if link.overridden(name) or getattr(child, name) == new:
                    continue
                journal.record(child, users[template_id], "sync", name, getattr(child, name), new)
                child_changes[name] = (getattr(child, name), new)
                setattr(child, name, new)
            if child_changes:
                queue[child] = child_changes
                # what the change of a template did to its followers: the edit tells their owners
                session.info.setdefault(SYNCED_KEY, {}).setdefault(child.id, set()).update(child_changes)


def _before_flush(session: Session, _context, _instances) -> None:
    changed = {}
    for obj in session.dirty:
        if isinstance(obj, Task) and obj.id is not None:
            fields = _changed_fields(obj)
            if fields:
                changed[obj] = fields
    if changed:
        with session.no_autoflush:
            sync_from_templates(session, changed)


def install_sync() -> None:
    """Keep cascade children in step at every flush (idempotent; called by create_app)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


# --- the seed loader's cascades ------------------------------------------------------------------


def seed_overrides(plan_id: int) -> dict[int, set[str]]:
    """task id -> the template fields a cascade child of this plan has overridden (one statement)."""
    rows = db.session.execute(
        select(CascadeChild)
        .join(Task, Task.id == CascadeChild.task_id)
        .where(
            Task.plan_id == plan_id,
            (CascadeChild.due_overridden | CascadeChild.deliverable_overridden | CascadeChild.recurrence_overridden),
        )
    ).scalars()
    return {link.task_id: {name for name in SYNCED_FIELDS if link.overridden(name)} for link in rows}


def link_seed_cascades(plan_id: int) -> int:
    """Record the loader's "each unit" expansions as seed cascades: one per template, one link per
    child not yet linked. Idempotent; returns the number of links made."""
    templates = list(db.session.scalars(select(Task).where(Task.plan_id == plan_id, is_template_clause())))
    if not templates:
        return 0
    template_ids = [t.id for t in templates]
    cascades = {
        c.template_task_id: c
        for c in db.session.scalars(
            select(Cascade).where(Cascade.template_task_id.in_(template_ids), Cascade.origin == SEED)
        )
    }
    unlinked = db.session.execute(
        select(Task.id, Task.parent_id, Task.owner_unit_id).where(
            Task.parent_id.in_(template_ids),
            Task.origin == "cascade",
            Task.owner_unit_id.is_not(None),
            ~exists().where(CascadeChild.task_id == Task.id),
        )
    ).all()
    if not unlinked:
        return 0
    by_id = {t.id: t for t in templates}
    for _task_id, parent_id, _unit in unlinked:
        if parent_id not in cascades:
            template = by_id[parent_id]
            cascade = Cascade(
                template_task_id=parent_id,
                origin=SEED,
                state=ACTIVE,
                target={"mode": GROUP, **(template.owner_selector or {})},
            )
            db.session.add(cascade)
            cascades[parent_id] = cascade
    db.session.flush()
    db.session.add_all(
        [
            CascadeChild(cascade_id=cascades[parent_id].id, task_id=task_id, unit_id=unit_id)
            for task_id, parent_id, unit_id in unlinked
        ]
    )
    db.session.flush()
    return len(unlinked)
