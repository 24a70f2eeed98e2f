"""Loading the org-unit catalogue and the seed plans into the database.

`load_seed_files` validates every file first (tracker.importer.schema) and writes nothing when
any file has a problem. Writing is an upsert keyed by unit code, plan key and task ref, so
loading the same files twice changes nothing. Tasks owned by "each unit of a kind" become
cascade templates with one child per matching unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import func, select, update

from tracker.extensions import db
from tracker.importer.schema import (
    PlanSpec,
    SeedError,
    Selector,
    TaskSpec,
    UnitSpec,
    parse_plan_file,
    parse_units_file,
)
from tracker.cascade.service import link_seed_cascades, seed_overrides
from tracker.models import IndicatorDefinition, OrgUnit, Phase, Plan, Task
from tracker.plans import journal, rollup

UNITS_FILE = "units.yaml"


@dataclass
class LoadReport:
    units_created: int = 0
    units_updated: int = 0
    units_kept: int = 0  # changed in the web: left as they are
    plans: list[str] = field(default_factory=list)
    tasks_created: int = 0
    tasks_updated: int = 0
    indicators: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.units_created or self.units_updated or self.tasks_created or self.tasks_updated)


def seed_files(seed_dir: Path) -> list[Path]:
    """The units catalogue first, then every plan file, in name order."""
    files = sorted(p for p in seed_dir.glob("*.yaml") if p.name != UNITS_FILE)
    units = seed_dir / UNITS_FILE
    return ([units] if units.exists() else []) + files


def validate_files(paths: Iterable[Path]) -> tuple[list[UnitSpec], list[PlanSpec]]:
    """Parse and check every file; raise SeedError with all problems of all files."""
    paths = list(paths)
    problems: list[str] = []
    units: list[UnitSpec] = []
    for path in paths:
        if path.name == UNITS_FILE:
            try:
                units.extend(parse_units_file(path))
            except SeedError as exc:
                problems.extend(exc.problems)
    known_codes = set(db.session.scalars(select(OrgUnit.code))) | {u.code for u in units}
    plans: list[PlanSpec] = []
    keys: dict[str, str] = {}
    for path in paths:
        if path.name == UNITS_FILE:
            continue
        try:
            plan = parse_plan_file(path, known_codes)
        except SeedError as exc:
            problems.extend(exc.problems)
            continue
        if plan.key in keys:
            problems.append(f"{path.name}: key: plan key '{plan.key}' is also used by {keys[plan.key]}")
        keys[plan.key] = path.name
        plans.append(plan)
    if problems:
        raise SeedError(problems)
    return units, plans


def load_seed_files(paths: Iterable[Path]) -> LoadReport:
    """Validate, then upsert. The caller commits (or rolls back)."""
    units, plans = validate_files(paths)
    report = LoadReport()
    if units:
        upsert_units(units, report)
    for plan in plans:
        upsert_plan(plan, report)
    return report


# --- units -------------------------------------------------------------------------------


def upsert_units(specs: list[UnitSpec], report: LoadReport) -> None:
    """Add the catalogue's new units and keep its own in step. Never deletes: a unit that is
    not in the file (one added in the web, tracker/units/) stays; and a unit changed in the web
    (`origin` "web": renamed, moved, retired) keeps what was done there."""
    existing = {u.code: u for u in db.session.scalars(select(OrgUnit))}
    for spec in specs:  # parents come before their children
        parent = existing.get(spec.parent_code) if spec.parent_code else None
        unit = existing.get(spec.code)
        if unit is not None and unit.origin == "web":
            report.units_kept += 1
            continue
        if unit is None:
            unit = OrgUnit(code=spec.code)
            db.session.add(unit)
            existing[spec.code] = unit
            report.units_created += 1
        elif (unit.name, unit.kind, unit.level, unit.parent_id, unit.example, unit.position) != (
            spec.name,
            spec.kind,
            spec.level,
            parent.id if parent else None,
            spec.example,
            spec.position,
        ):
            report.units_updated += 1
        unit.name, unit.kind, unit.level = spec.name, spec.kind, spec.level
        unit.example, unit.position, unit.parent = spec.example, spec.position, parent
        db.session.flush()
        new_path = f"{parent.path if parent else '/'}{unit.id}/"
        if unit.path and unit.path != new_path:
            move_subtree_paths(unit.path, new_path)
        unit.path = new_path


def move_subtree_paths(old: str, new: str) -> None:
    """Rewrite the materialised paths of everything under a moved unit, in one statement."""
    db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.like(f"{old}%"))
        .values(path=new + func.substr(OrgUnit.path, len(old) + 1))
        .execution_options(synchronize_session="fetch")
    )


def units_matching(selector: Selector | dict) -> list[OrgUnit]:
    """Every unit of the selector's kind and level (under its `under` unit), in tree order; not
    the retired ones (they take no new tasks; the tasks they had stay theirs)."""
    if isinstance(selector, dict):
        selector = Selector(selector.get("kind"), selector.get("level"), selector.get("under"))
    query = select(OrgUnit).where(OrgUnit.retired_at.is_(None))
    if selector.kind:
        query = query.where(OrgUnit.kind == selector.kind)
    if selector.level:
        query = query.where(OrgUnit.level == selector.level)
    if selector.under:
        under = db.session.scalar(select(OrgUnit).where(OrgUnit.code == selector.under))
        query = query.where(OrgUnit.path.like(f"{under.path}%"), OrgUnit.id != under.id)
    return list(db.session.scalars(query.order_by(OrgUnit.path)))


# --- plans -------------------------------------------------------------------------------

TASK_FIELDS = (
    "title",
    "description",
    "owner_unit_id",
    "owner_selector",
    "co_owner_selectors",
    "start_on",
    "due_on",
    "deliverable",
    "phase_id",
    "weight",
    "recurrence",
    "notes",
    "position",
    "parent_id",
)
JOURNALED_FIELDS = set(TASK_FIELDS) - {"position", "parent_id"}


def upsert_plan(spec: PlanSpec, report: LoadReport) -> Plan:
    units = {u.code: u for u in db.session.scalars(select(OrgUnit))}
    plan = db.session.scalar(select(Plan).where(Plan.key == spec.key))
    if plan is None:
        plan = Plan(key=spec.key)
        db.session.add(plan)
    issuer = units.get(spec.issuer_unit) if spec.issuer_unit else None
    _assign(
        plan,
        {
            "title": spec.title,
            "doc_number": spec.doc_number,
            "issuer": spec.issuer,
            "issuer_unit_id": issuer.id if issuer else None,
            "issued_on": spec.issued,
            "period_start": spec.period_start,
            "period_end": spec.period_end,
            "source": spec.source,
            "repairs": spec.repairs,
            "notes": spec.notes,
        },
    )
    db.session.flush()
    phases = _upsert_phases(plan, spec)
    existing = {t.ref: t for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))}
    overridden = seed_overrides(plan.id)  # cascade children keep the due dates etc. set for them
    ordered: list[Task] = []

    def place(item: TaskSpec, parent: Optional[Task], position: int) -> None:
        if item.owner_each:
            owner = issuer
        elif item.owner_code:
            owner = units[item.owner_code]
        elif not item.children:
            owner = issuer
        else:
            owner = None
        values = {
            "title": item.title,
            "description": item.description,
            "owner_unit_id": owner.id if owner else None,
            "owner_selector": item.owner_each.as_dict() if item.owner_each else None,
            "co_owner_selectors": [s.as_dict() for s in item.co_owner_each],
            "start_on": item.start,
            "due_on": item.due,
            "deliverable": item.deliverable,
            "phase_id": phases[item.phase].id if item.phase else None,
            "weight": item.weight,
            "recurrence": item.recurrence,
            "notes": item.notes,
            "position": position,
            "parent_id": parent.id if parent else None,
        }
        co_owners = [units[code] for code in item.co_owner_codes]
        task = _upsert_task(plan, existing, item.ref, values, co_owners, "seed", report)
        task.parent = parent
        if task.id is None:
            db.session.flush()
        ordered.append(task)
        for index, child in enumerate(item.children):
            place(child, task, index)
        if item.owner_each:
            offset = len(item.children)
            for index, unit in enumerate(units_matching(item.owner_each)):
                child_values = dict(
                    values, owner_unit_id=unit.id, owner_selector=None, position=offset + index, parent_id=task.id
                )
                known = existing.get(f"{item.ref}@{unit.code}")
                for name in overridden.get(known.id, ()) if known is not None else ():
                    child_values.pop(name, None)
                child = _upsert_task(
                    plan, existing, f"{item.ref}@{unit.code}", child_values, co_owners, "cascade", report
                )
                child.parent = task
                ordered.append(child)

    for index, item in enumerate(spec.tasks):
        place(item, None, index)
    db.session.flush()
    for task in ordered:  # pre-order: a parent's path is set before its children's
        path = f"{task.parent.path if task.parent else '/'}{task.id}/"
        depth = task.parent.depth + 1 if task.parent else 0
        if task.path != path or task.depth != depth:
            task.path, task.depth = path, depth
    _upsert_indicators(plan, spec, {t.ref: t for t in ordered}, report)
    db.session.flush()
    link_seed_cascades(plan.id)  # each "each unit" expansion is recorded as a seed cascade
    rollup.recompute_plan(plan.id)
    report.plans.append(spec.key)
    return plan


def _assign(obj, values: dict) -> dict:
    """Set the attributes that differ; return {name: (old, new)} of what changed."""
    changes = {}
    for name, value in values.items():
        old = getattr(obj, name)
        if old != value:
            changes[name] = (old, value)
            setattr(obj, name, value)
    return changes


def _upsert_phases(plan: Plan, spec: PlanSpec) -> dict[str, Phase]:
    phases = {p.key: p for p in plan.phases}
    for position, item in enumerate(spec.phases):
        phase = phases.get(item.key)
        if phase is None:
            phase = Phase(key=item.key)
            plan.phases.append(phase)
            phases[item.key] = phase
        _assign(phase, {"name": item.name, "start_on": item.start, "end_on": item.end, "position": position})
    db.session.flush()
    return phases


def _upsert_task(plan, existing, ref, values, co_owners, origin, report) -> Task:
    task = existing.get(ref)
    if task is None:
        task = Task(plan=plan, ref=ref, origin=origin, status="not_started", percent=0)
        for name, value in values.items():
            setattr(task, name, value)
        task.co_owners = list(co_owners)
        db.session.add(task)
        existing[ref] = task
        journal.record(task, None, "create", comment="seed")
        report.tasks_created += 1
        return task
    changes = _assign(task, values)
    if {u.id for u in task.co_owners} != {u.id for u in co_owners}:
        changes["co_owners"] = (", ".join(u.code for u in task.co_owners), ", ".join(u.code for u in co_owners))
        task.co_owners = list(co_owners)
    journaled = {k: v for k, v in changes.items() if k in JOURNALED_FIELDS or k == "co_owners"}
    for name, (old, new) in journaled.items():
        journal.record(task, None, "update", field=name, old=old, new=new, comment="seed")
    if journaled:
        report.tasks_updated += 1
    return task


def _upsert_indicators(plan: Plan, spec: PlanSpec, tasks_by_ref: dict, report: LoadReport) -> None:
    existing = {
        i.code: i for i in db.session.scalars(select(IndicatorDefinition).where(IndicatorDefinition.plan_id == plan.id))
    }
    for position, item in enumerate(spec.indicators):
        indicator = existing.get(item.code)
        if indicator is None:
            indicator = IndicatorDefinition(plan=plan, code=item.code)
            db.session.add(indicator)
            existing[item.code] = indicator
        task = tasks_by_ref.get(item.task_ref) if item.task_ref else None
        _assign(
            indicator,
            {
                "name": item.name,
                "unit": item.unit,
                "type": item.type,
                "target_op": item.target_op,
                "target_value": item.target_value,
                "target_max": item.target_max,
                "levels": item.levels,
                "task_id": task.id if task else None,
                "group": item.group,
                "breakdown": item.breakdown,
                "classification": item.classification,
                "numerator_code": item.numerator,
                "denominator_code": item.denominator,
                "position": position,
            },
        )
        report.indicators += 1
    db.session.flush()
    for item in spec.indicators:
        parent = existing[item.parent_code] if item.parent_code else None
        _assign(existing[item.code], {"parent_id": parent.id if parent else None})
