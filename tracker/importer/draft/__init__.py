"""Drafting a plan from its policy document (通知, 行动计划, 工作要点, 实施方案).

    text = read_document(filename, data)              # .txt or .docx
    draft = draft_plan(text, Catalogue.from_database(), source=filename)
    seed = to_seed(draft)                              # the seed-plan format (seed_plans/README.md)

The draft keeps, for every field it found, the sentence it was read from (`sources`); `to_seed`
moves those quotations into each task's `notes`, so the plan created from it keeps them too.
"""

from __future__ import annotations

import copy

import yaml

from tracker.importer.draft.extract import draft_plan
from tracker.importer.draft.owners import Catalogue, CatalogueUnit
from tracker.importer.draft.text import DocumentError, read_document

SOURCE_LABELS = {
    "owner": "owner",
    "due": "due",
    "deliverable": "deliverable",
    "recurrence": "recurrence",
    "phase": "phase",
}
SEED_TASK_FIELDS = (
    "ref",
    "title",
    "description",
    "owner",
    "co_owners",
    "start",
    "due",
    "deliverable",
    "phase",
    "weight",
    "recurrence",
    "notes",
    "children",
)
SEED_PLAN_FIELDS = (
    "key",
    "title",
    "doc_number",
    "issuer",
    "issuer_unit",
    "issued",
    "period",
    "source",
    "repairs",
    "notes",
    "phases",
    "tasks",
)


def to_seed(draft: dict) -> dict:
    """The draft as a plain seed-plan mapping: review-only keys dropped, sources kept in notes."""
    plan = {key: copy.deepcopy(draft.get(key)) for key in SEED_PLAN_FIELDS if draft.get(key) not in (None, "", [])}
    plan.setdefault("title", draft.get("title") or "")
    plan["tasks"] = [_seed_task(task) for task in draft.get("tasks", [])]
    if plan.get("phases"):
        plan["phases"] = [{k: v for k, v in phase.items() if v} for phase in plan["phases"]]
    return plan


def _seed_task(task: dict) -> dict:
    out = {key: copy.deepcopy(task[key]) for key in SEED_TASK_FIELDS if key in task and task[key] not in (None, "", [])}
    out.pop("children", None)
    quotes = []
    for field, label in SOURCE_LABELS.items():
        sentence = (task.get("sources") or {}).get(field)
        if sentence and field in task and task.get(field):
            quotes.append(f"{label} from «{sentence}»")
    notes = "; ".join(filter(None, [task.get("notes", "")] + quotes))
    if notes:
        out["notes"] = notes
    children = [_seed_task(child) for child in task.get("children", [])]
    if children:
        out["children"] = children
    return out


def seed_yaml(draft: dict) -> str:
    return yaml.safe_dump(to_seed(draft), allow_unicode=True, sort_keys=False, width=1000)


__all__ = ["Catalogue", "CatalogueUnit", "DocumentError", "draft_plan", "read_document", "seed_yaml", "to_seed"]
