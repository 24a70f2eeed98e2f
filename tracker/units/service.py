"""The unit catalogue managed in the web: add, rename (and change kind and level), move under
another parent, retire and restore, and the list of units.

Only an administrator changes the catalogue. A unit made or changed here is marked
`origin = "web"`: `flask seed load` then leaves it as it is (tracker/importer/seed.py), so the
starting catalogue (seed_plans/units.yaml) never overwrites what was done here.

Moving a unit rewrites the materialised paths (`/1/7/42/`) of the unit and of every unit under
it with one set-based UPDATE, in the caller's transaction: scoping (`path LIKE '…%'`) is right
for everything under it the moment the transaction commits. The progress summary's roll-up
sums every unit's figures into the units above it, so it no longer matches the tree: the move
sets it aside (`progress_state.as_of = NULL`, also done by a trigger on `org_units.path`), the
progress pages read the tasks themselves until the scheduler's next pass rebuilds it, and the
figures are right at once. Every change is journaled (tracker/audit/journal.py); services
flush, the route commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, literal, or_, select, update

from tracker.audit import journal as audit
from tracker.extensions import db
from tracker.lazy_text import lazy_gettext as _l
from tracker.models import OrgUnit, Task, User
from tracker.models.base import utcnow
from tracker.models.org import UNIT_KINDS, UNIT_LEVELS
from tracker.models.progress import ProgressState
from tracker.pagination import Page
from tracker.pagination import paginate as paginate_rows
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS
from tracker.plans.status import CLOSED_STATUSES

WEB = "web"
UNIT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")  # as in seed_plans/units.yaml
NAME_MAX = 200

UNIT_KIND_LABELS = dict(KIND_LABELS)
UNIT_LEVEL_LABELS = {**LEVEL_LABELS, "institution": _l("institution level")}


class UnitError(ValueError):
    """A refused change; the message is for the admin. `field` names the form field it belongs to."""

    def __init__(self, message, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


class NotAllowed(Exception):
    """Only administrators change the unit catalogue (403)."""


def may_manage_units(actor: User) -> bool:
    return actor.role == "admin"


def _require(actor: User) -> None:
    if not may_manage_units(actor):
        raise NotAllowed()


# --- checks shared by the forms and the import ----------------------------------------------


def code_problem(code: str) -> Optional[str]:
    if not code:
        return _l("A code is required.")
    if not UNIT_CODE.match(code):
        return _l("A code has 1 to 40 capital letters, digits or '-' and starts with a letter or digit.")
    return None


def code_taken(code: str) -> bool:
    return db.session.scalar(select(OrgUnit.id).where(func.upper(OrgUnit.code) == code.upper()).limit(1)) is not None


def name_problem(name: str) -> Optional[str]:
    if not name:
        return _l("A name is required.")
    if len(name) > NAME_MAX:
        return _l("A unit name may have at most %(n)d characters.", n=NAME_MAX)
    return None


def kind_problem(kind: str) -> Optional[str]:
    if kind not in UNIT_KINDS:
        return _l("Choose a kind.")
    return None


def level_problem(level: str) -> Optional[str]:
    if level not in UNIT_LEVELS:
        return _l("Choose a level.")
    return None


def parent_problem(parent: Optional[OrgUnit]) -> Optional[str]:
    if parent is None:
        return _l("Choose the unit above it.")
    if parent.is_retired:
        return _l("The unit '%(name)s' is retired.", name=parent.name)
    return None


# --- changes ------------------------------------------------------------------------------------


@dataclass
class NewUnit:
    code: str
    name: str
    kind: str
    level: str
    parent: Optional[OrgUnit]


def _raise_first(checks: list[tuple[str, Optional[str]]]) -> None:
    for field, problem in checks:
        if problem:
            raise UnitError(problem, field)


def _next_position(parent: OrgUnit) -> int:
    last = db.session.scalar(select(func.max(OrgUnit.position)).where(OrgUnit.parent_id == parent.id))
    return (last if last is not None else -1) + 1


def create_unit(actor: User, values: NewUnit, comment: str = "") -> OrgUnit:
    """A new unit under `values.parent`, last among its siblings."""
    _require(actor)
    code = (values.code or "").strip().upper()
    name = (values.name or "").strip()
    _raise_first(
        [
            ("code", code_problem(code)),
            ("name", name_problem(name)),
            ("kind", kind_problem(values.kind)),
            ("level", level_problem(values.level)),
            ("parent", parent_problem(values.parent)),
        ]
    )
    if code_taken(code):
        raise UnitError(_l("The code '%(code)s' is taken.", code=code), "code")
    unit = _add_unit(code, name, values.kind, values.level, values.parent)
    audit.record_unit(actor, unit, "create", comment=comment or f"{values.parent.code} {values.parent.name}")
    return unit


def _add_unit(code: str, name: str, kind: str, level: str, parent: OrgUnit, position: Optional[int] = None) -> OrgUnit:
    unit = OrgUnit(
        code=code,
        name=name,
        kind=kind,
        level=level,
        parent=parent,
        position=_next_position(parent) if position is None else position,
        example=False,
        origin=WEB,
    )
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path}{unit.id}/"
    db.session.flush()
    return unit


def edit_unit(actor: User, unit: OrgUnit, name: str, kind: str, level: str, comment: str = "") -> list[str]:
    """Rename a unit or change its kind or level; returns the changed field names."""
    _require(actor)
    name = (name or "").strip()
    _raise_first([("name", name_problem(name)), ("kind", kind_problem(kind)), ("level", level_problem(level))])
    changed = []
    for field, new in (("name", name), ("kind", kind), ("level", level)):
        old = getattr(unit, field)
        if old != new:
            audit.record_unit(actor, unit, "edit", field, old, new, comment)
            setattr(unit, field, new)
            changed.append(field)
    if changed:
        unit.origin = WEB
        db.session.flush()
    return changed


def move_problem(unit: OrgUnit, parent: Optional[OrgUnit]) -> Optional[str]:
    """Why `unit` cannot go under `parent`, or None."""
    problem = parent_problem(parent)
    if problem:
        return problem
    if parent.id == unit.id:
        return _l("A unit cannot be moved under itself.")
    if parent.is_within(unit):
        return _l(
            "'%(parent)s' lies under '%(unit)s': a unit cannot be moved under its own descendant.",
            parent=parent.name,
            unit=unit.name,
        )
    return None


def move_subtree(old_path: str, new_path: str) -> int:
    """Rewrite the materialised path of a moved unit and of every unit under it: one UPDATE,
    whatever their number; returns how many units moved."""
    result = db.session.execute(
        update(OrgUnit)
        .where(OrgUnit.path.like(f"{old_path}%"))
        .values(path=literal(new_path) + func.substr(OrgUnit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def set_summary_aside() -> None:
    """The progress roll-up sums each unit into the units above it: after a move it no longer
    matches the tree. Set aside, the pages read the tasks (right at once) until the scheduler's
    next pass rebuilds it (tracker/progress/summary.py). The trigger on org_units.path does the
    same; saying it here keeps the rule readable where the move happens."""
    db.session.execute(update(ProgressState).values(as_of=None).execution_options(synchronize_session=False))


def move_unit(actor: User, unit: OrgUnit, parent: Optional[OrgUnit], comment: str = "") -> int:
    """Put `unit` (and everything under it) under `parent`; returns how many units moved
    (0: it was already there). A fixed number of statements, whatever the size of the subtree."""
    _require(actor)
    problem = move_problem(unit, parent)
    if problem:
        raise UnitError(problem, "parent")
    if unit.parent_id == parent.id:
        return 0
    old_parent = unit.parent
    old_path, new_path = unit.path, f"{parent.path}{unit.id}/"
    set_summary_aside()
    unit.parent = parent
    unit.position = _next_position(parent)
    unit.origin = WEB
    db.session.flush()
    moved = move_subtree(old_path, new_path)
    # the moved rows are stale in the session (the UPDATE went past it): read them afresh
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, OrgUnit):
            db.session.expire(obj, ["path"])
        elif isinstance(obj, ProgressState):
            db.session.expire(obj, ["as_of"])
    audit.record_unit(
        actor,
        unit,
        "move",
        "parent_id",
        f"{old_parent.code} {old_parent.name}" if old_parent else None,
        f"{parent.code} {parent.name}",
        comment,
    )
    db.session.flush()
    return moved


@dataclass
class UnitFigures:
    """What is still attached to a unit: open tasks it owns, active accounts, units under it."""

    open_tasks: int = 0
    active_users: int = 0
    live_children: int = 0


def unit_figures(unit: OrgUnit) -> UnitFigures:
    """One statement (each count served by an index: the owner's, the unit's, the parent's)."""
    open_tasks = (
        select(func.count())
        .select_from(Task)
        .where(Task.owner_unit_id == unit.id, Task.status.not_in(CLOSED_STATUSES))
        .scalar_subquery()
    )
    users = select(func.count()).select_from(User).where(User.unit_id == unit.id, User.active.is_(True))
    children = (
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == unit.id, OrgUnit.retired_at.is_(None))
    )
    row = db.session.execute(select(open_tasks, users.scalar_subquery(), children.scalar_subquery())).one()
    return UnitFigures(*(int(v or 0) for v in row))


def retire_unit(actor: User, unit: OrgUnit, comment: str = "") -> None:
    """Retire a unit: it keeps its history (tasks, accounts, journal) but takes no new users,
    tasks or cascades and leaves the pickers. Refused while it owns open tasks, has active
    accounts or units under it that are not retired: each is named with how many."""
    _require(actor)
    if unit.is_retired:
        raise UnitError(_l("The unit is already retired."))
    if unit.parent_id is None:
        raise UnitError(_l("The top unit of the catalogue cannot be retired."))
    figures = unit_figures(unit)
    problems = []
    if figures.open_tasks:
        problems.append(
            _l(
                "It still owns %(n)d open tasks: give them to another unit or close them first.",
                n=figures.open_tasks,
            )
        )
    if figures.active_users:
        problems.append(
            _l("%(n)d active accounts belong to it: move them or disable them first.", n=figures.active_users)
        )
    if figures.live_children:
        problems.append(_l("%(n)d units under it are not retired: move or retire them first.", n=figures.live_children))
    if problems:
        raise UnitError(" ".join(str(p) for p in problems))
    unit.retired_at = utcnow()
    unit.origin = WEB
    audit.record_unit(actor, unit, "retire", "retired_at", None, unit.retired_at, comment)
    db.session.flush()


def restore_unit(actor: User, unit: OrgUnit, comment: str = "") -> None:
    _require(actor)
    if not unit.is_retired:
        raise UnitError(_l("The unit is not retired."))
    if unit.parent is not None and unit.parent.is_retired:
        raise UnitError(_l("The unit above it, '%(name)s', is retired: restore it first.", name=unit.parent.name))
    old = unit.retired_at
    unit.retired_at = None
    unit.origin = WEB
    audit.record_unit(actor, unit, "restore", "retired_at", old, None, comment)
    db.session.flush()


# --- the list -----------------------------------------------------------------------------------


@dataclass
class UnitFilters:
    q: str = ""
    under: Optional[OrgUnit] = None
    kind: str = ""
    level: str = ""
    state: str = ""  # "": in use, "retired", "all"


def units_query(filters: UnitFilters):
    query = select(OrgUnit)
    if filters.under is not None:
        query = query.where(OrgUnit.path.like(f"{filters.under.path}%"))
    if filters.q:
        text = filters.q.strip()
        query = query.where(
            or_(
                func.upper(OrgUnit.code).startswith(text.upper(), autoescape=True),
                OrgUnit.name.contains(text, autoescape=True),
            )
        )
    if filters.kind:
        query = query.where(OrgUnit.kind == filters.kind)
    if filters.level:
        query = query.where(OrgUnit.level == filters.level)
    if filters.state == "retired":
        query = query.where(OrgUnit.retired_at.is_not(None))
    elif filters.state != "all":
        query = query.where(OrgUnit.retired_at.is_(None))
    return query


def units_page(filters: UnitFilters, page: int, per_page: int) -> Page:
    """One page of units in tree order (the path index): two statements."""
    return paginate_rows(units_query(filters), page, per_page, OrgUnit.path, OrgUnit.id)


def depth_of(unit: OrgUnit) -> int:
    return max(0, unit.path.strip("/").count("/"))


def unit_by_code(code: str) -> Optional[OrgUnit]:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def trail_of(unit: OrgUnit) -> list[OrgUnit]:
    """The units above `unit`, from the top, and itself: one statement."""
    ids = [int(p) for p in unit.path.strip("/").split("/") if p]
    found = {u.id: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
