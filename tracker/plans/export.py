"""A plan as plain data (JSON-ready): its phases, indicators and the whole task tree.

Field names are stable and documented in README.md; other tools and checks read them.
Three queries whatever the size of the plan: tasks with owners, co-owners, indicators.
"""

from __future__ import annotations

from typing import Optional

from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from tracker.extensions import db
from tracker.models import IndicatorDefinition, OrgUnit, Plan, Task
from tracker.plans.labels import selector_label

EXPORT_VERSION = 1


def _iso(value) -> Optional[str]:
    return value.isoformat() if value else None


def _unit(unit: Optional[OrgUnit]) -> Optional[dict]:
    return {"code": unit.code, "name": unit.name} if unit else None


def _group(selector: dict, unit_names: dict[str, str]) -> dict:
    return {
        "kind": selector.get("kind"),
        "level": selector.get("level"),
        "under": selector.get("under"),
        "label": selector_label(selector, unit_names.get(selector.get("under"))),
    }


def plan_by_key(key: str) -> Optional[Plan]:
    return db.session.scalar(
        select(Plan).where(Plan.key == key).options(selectinload(Plan.phases), joinedload(Plan.issuer_unit))
    )


def export_plan(plan: Plan) -> dict:
    with force_locale("zh_CN"):
        return _export(plan)


def _export(plan: Plan) -> dict:
    tasks = list(
        db.session.scalars(
            select(Task)
            .where(Task.plan_id == plan.id)
            .options(joinedload(Task.owner_unit), joinedload(Task.phase), selectinload(Task.co_owners))
            .order_by(Task.depth, Task.position, Task.id)
        ).unique()
    )
    unit_names = dict(db.session.execute(select(OrgUnit.code, OrgUnit.name)).all())
    children: dict[Optional[int], list[Task]] = {}
    for task in tasks:
        children.setdefault(task.parent_id, []).append(task)

    def node(task: Task) -> dict:
        return {
            "ref": task.ref,
            "title": task.title,
            "description": task.description,
            "owner": _unit(task.owner_unit),
            "owner_each": _group(task.owner_selector, unit_names) if task.owner_selector else None,
            "co_owners": [_unit(u) for u in task.co_owners],
            "co_owner_groups": [_group(s, unit_names) for s in task.co_owner_selectors or []],
            "start": _iso(task.start_on),
            "due": _iso(task.due_on),
            "deliverable": task.deliverable,
            "phase": task.phase.key if task.phase else None,
            "weight": task.weight,
            "recurrence": task.recurrence,
            "status": task.status,
            "percent": task.percent,
            "origin": task.origin,
            "notes": task.notes,
            "children": [node(child) for child in children.get(task.id, [])],
        }

    indicators = db.session.scalars(
        select(IndicatorDefinition)
        .where(IndicatorDefinition.plan_id == plan.id)
        .options(joinedload(IndicatorDefinition.task), joinedload(IndicatorDefinition.parent))
        .order_by(IndicatorDefinition.position)
    )
    return {
        "export_version": EXPORT_VERSION,
        "key": plan.key,
        "title": plan.title,
        "doc_number": plan.doc_number,
        "issuer": plan.issuer,
        "issuer_unit": _unit(plan.issuer_unit),
        "issued": _iso(plan.issued_on),
        "period": {"start": _iso(plan.period_start), "end": _iso(plan.period_end)},
        "source": plan.source,
        "repairs": plan.repairs or [],
        "phases": [
            {"key": p.key, "name": p.name, "start": _iso(p.start_on), "end": _iso(p.end_on)} for p in plan.phases
        ],
        "indicators": [
            {
                "code": i.code,
                "name": i.name,
                "unit": i.unit,
                "type": i.type,
                "target": (
                    {"op": i.target_op, "min": i.target_value, "max": i.target_max}
                    if i.target_op == "between"
                    else {"op": i.target_op, "value": i.target_value}
                    if i.target_op
                    else None
                ),
                "levels": i.levels or [],
                "task": i.task.ref if i.task else None,
                "group": i.group,
                "parent": i.parent.code if i.parent else None,
                "breakdown": i.breakdown,
                "classification": i.classification,
                "numerator": i.numerator_code,
                "denominator": i.denominator_code,
            }
            for i in indicators
        ],
        "tasks": [node(task) for task in children.get(None, [])],
    }
