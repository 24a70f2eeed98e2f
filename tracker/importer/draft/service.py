"""Drafts between upload and review: kept as JSON files under the instance folder, one per
draft, readable only by the coordinator who made it (and admins). Nothing is written to the
plan tables until `create_plan_from_draft`, which validates the draft with the seed loader's
schema and loads it with the seed loader (tracker.importer.seed).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Optional

from flask import current_app, has_request_context
from flask_babel import gettext
from sqlalchemy import select

from tracker.extensions import db
from tracker.importer.draft import Catalogue, draft_plan, read_document, seed_yaml
from tracker.importer.schema import SeedError
from tracker.models import OrgUnit, Plan, User
from tracker.models.base import utcnow

DRAFT_ID = re.compile(r"^[0-9a-f]{32}$")
DRAFTING_ROLES = ("admin", "coordinator")
EDITABLE_FIELDS = (
    "ref",
    "title",
    "description",
    "owner",
    "co_owners",
    "start",
    "due",
    "deliverable",
    "recurrence",
    "phase",
)
REVIEWER_SOURCE = "(edited by the reviewer)"


def _(text: str, **values) -> str:
    """A message in the reader's language in a request; as written (English) on the command line."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


class DraftError(ValueError):
    """A problem the coordinator must fix; `problems` lists every one."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


def can_draft(user: User) -> bool:
    return user.is_authenticated and user.role in DRAFTING_ROLES


def drafts_dir() -> Path:
    path = Path(
        current_app.config.get("DRAFT_DIR") or os.environ.get("DRAFT_DIR") or Path(current_app.instance_path) / "drafts"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- making and keeping drafts ----------------------------------------------------------


def catalogue_with_fallback() -> Catalogue:
    """The units in the database; before the database is built, seed_plans/units.yaml."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        catalogue = Catalogue.from_database()
    except SQLAlchemyError:
        db.session.rollback()
        catalogue = None
    if catalogue is None or not catalogue.units:
        units_file = Path(current_app.config["SEED_DIR"]) / "units.yaml"
        if units_file.exists():
            return Catalogue.from_units_file(units_file)
    return catalogue or Catalogue([])


def draft_from_file(
    filename: str, data: bytes, catalogue: Catalogue | None = None, given_year: int | None = None
) -> dict:
    """Read a .txt/.docx document and draft its plan (no database writes). `given_year`: the
    year dates without one take when the document itself states none."""
    text = read_document(filename, data)
    if not text.strip():
        raise DraftError(_("The document is empty."))
    draft = draft_plan(text, catalogue or catalogue_with_fallback(), source=Path(filename).name, given_year=given_year)
    if not draft["tasks"]:
        raise DraftError(_("No numbered sections were found in the document."))
    return draft


def create_draft(user: User, filename: str, data: bytes, given_year: int | None = None) -> dict:
    draft = draft_from_file(filename, data, given_year=given_year)
    draft.update(id=uuid.uuid4().hex, user_id=user.id, created_at=utcnow().isoformat(), filename=Path(filename).name)
    save_draft(draft)
    return draft


def save_draft(draft: dict) -> None:
    path = drafts_dir() / f"{draft['id']}.json"
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(draft, out, ensure_ascii=False, indent=1)
    os.replace(temporary, path)


def load_draft(draft_id: str, user: User) -> Optional[dict]:
    """The draft, or None when it does not exist or belongs to someone else."""
    if not DRAFT_ID.match(draft_id or ""):
        return None
    path = drafts_dir() / f"{draft_id}.json"
    if not path.exists():
        return None
    draft = json.loads(path.read_text(encoding="utf-8"))
    if draft.get("user_id") != user.id and user.role != "admin":
        return None
    return draft


def drafts_of(user: User) -> list[dict]:
    """The user's open drafts, newest first (id, title, file, created)."""
    found = []
    for path in drafts_dir().glob("*.json"):
        try:
            draft = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if draft.get("user_id") == user.id:
            found.append(
                {
                    "id": draft["id"],
                    "title": draft.get("title", ""),
                    "filename": draft.get("filename", ""),
                    "created_at": draft.get("created_at", ""),
                    "created": _parsed(draft.get("created_at")),
                    "tasks": count_tasks(draft),
                }
            )
    return sorted(found, key=lambda d: d["created_at"], reverse=True)


def _parsed(value: str | None):
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def delete_draft(draft: dict) -> None:
    path = drafts_dir() / f"{draft['id']}.json"
    if path.exists():
        path.unlink()


# --- the task tree of a draft -----------------------------------------------------------


def walk(tasks: list[dict]):
    for task in tasks:
        yield task
        yield from walk(task.get("children", []))


def count_tasks(draft: dict) -> int:
    return sum(1 for _ in walk(draft.get("tasks", [])))


def find_task(draft: dict, uid: str) -> tuple[Optional[dict], Optional[list]]:
    """(task, the list that holds it)."""

    def search(items: list[dict]):
        for task in items:
            if task.get("uid") == uid:
                return task, items
            found = search(task.get("children", []))
            if found[0] is not None:
                return found
        return None, None

    return search(draft.get("tasks", []))


def _next_uid(draft: dict) -> str:
    numbers = [int(t["uid"][1:]) for t in walk(draft.get("tasks", [])) if re.fullmatch(r"t\d+", t.get("uid", ""))]
    return f"t{max(numbers, default=0) + 1}"


def parse_owner(text: str, known_codes: set[str]):
    """'P11' → 'P11'; 'each:commission/provincial' or 'each:institution//WZ' → a selector."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("each:"):
        parts = (text[5:].split("/") + ["", "", ""])[:3]
        parts = [p.split("=", 1)[-1].strip() for p in parts]
        kind, level, under = parts
        each = {k: v for k, v in (("kind", kind), ("level", level), ("under", under)) if v}
        if not each.get("kind") and not each.get("level"):
            raise DraftError(_("'%(text)s': a group of units needs a kind or a level.", text=text))
        if under and under not in known_codes:
            raise DraftError(_("Unknown unit code '%(code)s'.", code=under))
        return {"each": each}
    if text not in known_codes:
        raise DraftError(_("Unknown unit code '%(code)s'.", code=text))
    return text


def owner_text(owner) -> str:
    if owner is None:
        return ""
    if isinstance(owner, str):
        return owner
    each = owner.get("each", {})
    return "each:" + "/".join(each.get(k, "") for k in ("kind", "level", "under")).rstrip("/")


def unit_codes() -> set[str]:
    return set(db.session.scalars(select(OrgUnit.code)))


def update_task(draft: dict, uid: str, values: dict) -> dict:
    """Apply the reviewer's edits to one item; a changed field's source becomes the reviewer."""
    task, _holder = find_task(draft, uid)
    if task is None:
        raise DraftError(_("No such item in this draft."))
    codes = unit_codes()
    problems = []
    clean: dict = {}
    for name in EDITABLE_FIELDS:
        if name not in values:
            continue
        value = (values.get(name) or "").strip() if isinstance(values.get(name), str) else values.get(name)
        try:
            if name == "owner":
                clean[name] = parse_owner(value, codes)
            elif name == "co_owners":
                clean[name] = [parse_owner(part, codes) for part in re.split(r"[,，\s]+", value or "") if part]
            elif name in ("start", "due"):
                clean[name] = date.fromisoformat(value).isoformat() if value else None
            elif name == "ref":
                if not value:
                    raise DraftError(_("The item needs a ref."))
                if "@" in value:
                    raise DraftError(_("'@' is reserved for cascaded tasks."))
                if any(t is not task and t.get("ref") == value for t in walk(draft["tasks"])):
                    raise DraftError(_("Ref '%(ref)s' is already used in this draft.", ref=value))
                clean[name] = value
            elif name == "title":
                if not value:
                    raise DraftError(_("The item needs a title."))
                clean[name] = value
            elif name == "phase":
                if value and value not in {p["key"] for p in draft.get("phases", [])}:
                    raise DraftError(_("Unknown phase '%(phase)s'.", phase=value))
                clean[name] = value or None
            elif name == "recurrence":
                if value:
                    from dateutil.rrule import rrulestr

                    try:
                        rrulestr(value)
                    except (ValueError, TypeError):
                        raise DraftError(
                            _("'%(value)s' is not a valid recurrence rule (RRULE).", value=value)
                        ) from None
                clean[name] = value or None
            else:
                clean[name] = value
        except ValueError as exc:
            problems.extend(
                exc.problems
                if isinstance(exc, DraftError)
                else [_("'%(value)s' is not a valid date (YYYY-MM-DD).", value=value)]
            )
    if clean.get("start") and clean.get("due") and clean["due"] < clean["start"]:
        problems.append(_("The due date is before the start date."))
    if problems:
        raise DraftError(problems)
    sources = task.setdefault("sources", {})
    for name, value in clean.items():
        if task.get(name) != value:
            if value in (None, "", []):
                task.pop(name, None)
            else:
                task[name] = value
            sources[name] = REVIEWER_SOURCE
    return task


def remove_task(draft: dict, uid: str) -> dict:
    task, holder = find_task(draft, uid)
    if task is None:
        raise DraftError(_("No such item in this draft."))
    holder.remove(task)
    return task


def add_task(draft: dict, parent_uid: Optional[str], title: str) -> dict:
    title = (title or "").strip()
    if not title:
        raise DraftError(_("The item needs a title."))
    if parent_uid:
        parent, _holder = find_task(draft, parent_uid)
        if parent is None:
            raise DraftError(_("No such item in this draft."))
        siblings = parent.setdefault("children", [])
        base = parent["ref"] + "."
    else:
        siblings = draft.setdefault("tasks", [])
        base = ""
    used = {t.get("ref") for t in walk(draft["tasks"])}
    number = len(siblings) + 1
    while f"{base}{number}" in used:
        number += 1
    task = {
        "uid": _next_uid(draft),
        "ref": f"{base}{number}",
        "title": title,
        "description": "",
        "sources": {"title": REVIEWER_SOURCE},
        "notes": "added by the reviewer",
    }
    siblings.append(task)
    return task


PLAN_FIELDS = ("key", "title", "doc_number", "issuer", "issuer_unit", "issued")


def update_plan_fields(draft: dict, values: dict) -> None:
    problems = []
    key = (values.get("key") or "").strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", key):
        problems.append(_("The plan key may use only a-z, 0-9 and '-'."))
    title = (values.get("title") or "").strip()
    if not title:
        problems.append(_("The plan needs a title."))
    issuer_unit = (values.get("issuer_unit") or "").strip() or None
    if issuer_unit and issuer_unit not in unit_codes():
        problems.append(_("Unknown unit code '%(code)s'.", code=issuer_unit))
    issued = (values.get("issued") or "").strip() or None
    if issued:
        try:
            issued = date.fromisoformat(issued).isoformat()
        except ValueError:
            problems.append(_("'%(value)s' is not a valid date (YYYY-MM-DD).", value=issued))
    if problems:
        raise DraftError(problems)
    draft.update(
        key=key,
        title=title,
        doc_number=(values.get("doc_number") or "").strip(),
        issuer=(values.get("issuer") or "").strip(),
        issuer_unit=issuer_unit,
        issued=issued,
    )


# --- creating the plan ------------------------------------------------------------------


def create_plan_from_draft(draft: dict, user: User) -> Plan:
    """Validate the draft as a seed-plan file and load it; nothing is written on any problem.
    The caller commits."""
    from tracker.importer.seed import load_seed_files

    problems = []
    if db.session.scalar(select(Plan.id).where(Plan.key == draft.get("key"))) is not None:
        problems.append(_("A plan with key '%(key)s' already exists: choose another key.", key=draft.get("key")))
    issuer = draft.get("issuer_unit")
    if user.role != "admin":
        unit = db.session.scalar(select(OrgUnit).where(OrgUnit.code == issuer)) if issuer else None
        if unit is None or not unit.is_within(user.unit):
            problems.append(_("The issuing unit must be your unit or a unit under it."))
    if problems:
        raise DraftError(problems)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{draft['key']}.yaml"
        path.write_text(seed_yaml(draft), encoding="utf-8")
        try:
            with db.session.begin_nested():
                load_seed_files([path])
        except SeedError as exc:
            raise DraftError([re.sub(r"^[^:]+\.yaml: ", "", p) for p in exc.problems]) from exc
    return db.session.scalar(select(Plan).where(Plan.key == draft["key"]))
