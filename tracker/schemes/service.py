"""Provincial schemes (备案): a province files its own implementation scheme against a national plan.

A national coordinator names, per national plan, the per-province task a scheme fulfils (a
cascade template such as 八.(一).2 "制定印发本省份工作方案", one child per province). A province's
coordinator starts a scheme (a plan of its own, issued by the province), uploads its document,
adds or imports its tasks and maps each to the national task it implements, then files it. Filing
submits the province's national task for review; a coordinator above the province accepts or
returns the scheme, which accepts or returns that task through the status state machine, and
that task only.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from tracker.auth.scope import actor_for
from tracker.cascade.service import stored_text
from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task, User
from tracker.models.base import utcnow
from tracker.models.cascade import (
    ACTIVE,
    SCHEME_ACCEPTED,
    SCHEME_DRAFT,
    SCHEME_FILED,
    SCHEME_RETURNED,
    Cascade,
    CascadeChild,
    ProvincialScheme,
    SchemeRequirement,
    SchemeTaskLink,
)
from tracker.plans import journal, rollup
from tracker.plans.evidence import ALLOWED, _store, clean_filename
from tracker.models.notify import ASSIGNED
from tracker.notifications.notices import notify_each
from tracker.plans.operations import InvalidChange, change_status
from tracker.plans.status import (
    ACCEPTED,
    BLOCKED,
    CLOSED_STATUSES,
    IN_PROGRESS,
    NOT_STARTED,
    RETURNED,
    SUBMITTED,
)

SCHEME_STATE_LABELS = {
    SCHEME_DRAFT: _l("Draft"),
    SCHEME_FILED: _l("Filed, awaiting review"),
    SCHEME_ACCEPTED: _l("Accepted"),
    SCHEME_RETURNED: _l("Returned"),
}
MAX_IMPORT_ROWS = 500
IMPORT_COLUMNS = ("ref", "title", "owner", "due", "deliverable", "implements")


class SchemeError(ValueError):
    """A refused scheme action; the message is for the user (one line per problem of an import)."""

    def __init__(self, *problems):
        self.problems = problems
        super().__init__(*problems)

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def _line(number: int, problem):
    return _l("line %(n)d: %(problem)s", n=number, problem=problem)


class SchemeNotAllowed(Exception):
    pass


# --- the national side ---------------------------------------------------------------------------


def requirement_for(plan: Plan) -> Optional[SchemeRequirement]:
    return db.session.scalar(
        select(SchemeRequirement)
        .where(SchemeRequirement.national_plan_id == plan.id)
        .options(joinedload(SchemeRequirement.template))
    )


def can_manage_requirement(user: User, plan: Plan) -> bool:
    if user.role == "admin":
        return True
    issuer = plan.issuer_unit
    return user.role == "coordinator" and issuer is not None and issuer.is_within(user.unit)


def set_requirement(plan: Plan, user: User, template: Optional[Task]) -> SchemeRequirement:
    """Name the per-province task that a filed and accepted scheme fulfils (None: none)."""
    if not can_manage_requirement(user, plan):
        raise SchemeNotAllowed()
    if template is not None and template.plan_id != plan.id:
        raise SchemeError(_l("The task must belong to this plan."))
    requirement = requirement_for(plan)
    if requirement is None:
        requirement = SchemeRequirement(national_plan_id=plan.id)
        db.session.add(requirement)
    requirement.template_task_id = template.id if template else None
    requirement.updated_at = utcnow()
    db.session.flush()
    return requirement


def template_candidates(plan: Plan) -> list[Task]:
    """Tasks of the plan that have an active cascade (the ones a requirement can name)."""
    return list(
        db.session.scalars(
            select(Task)
            .where(
                Task.plan_id == plan.id, Task.id.in_(select(Cascade.template_task_id).where(Cascade.state == ACTIVE))
            )
            .order_by(Task.path)
        )
    )


def national_task_for(plan: Plan, unit: OrgUnit) -> Optional[Task]:
    """The unit's child of the requirement's template (the task its scheme fulfils)."""
    requirement = requirement_for(plan)
    if requirement is None or requirement.template_task_id is None:
        return None
    return db.session.scalar(
        select(Task)
        .join(CascadeChild, CascadeChild.task_id == Task.id)
        .join(Cascade, Cascade.id == CascadeChild.cascade_id)
        .where(
            Cascade.template_task_id == requirement.template_task_id,
            Cascade.state == ACTIVE,
            CascadeChild.unit_id == unit.id,
        )
        .order_by(Task.id.desc())
        .limit(1)
    )


@dataclass
class FilingRow:
    unit: OrgUnit
    scheme: Optional[ProvincialScheme]
    task: Optional[Task]

    @property
    def filed(self) -> bool:
        return self.scheme is not None and self.scheme.state in (SCHEME_FILED, SCHEME_ACCEPTED)


@dataclass
class FilingOverview:
    plan: Plan
    requirement: Optional[SchemeRequirement]
    rows: list[FilingRow]

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.scheme is not None and r.scheme.state == state)

    @property
    def not_filed(self) -> list[FilingRow]:
        return [r for r in self.rows if not r.filed]


def filing_overview(plan: Plan, user: User) -> FilingOverview:
    """Which provinces have filed, when, and who has not: three statements.

    The expected units are the owners of the requirement template's children (or, without a
    requirement, every provincial commission); a scoped user sees the rows of their subtree.
    """
    requirement = requirement_for(plan)
    tasks: dict[int, Task] = {}
    if requirement is not None and requirement.template_task_id is not None:
        for unit_id, task in db.session.execute(
            select(CascadeChild.unit_id, Task)
            .join(Task, Task.id == CascadeChild.task_id)
            .join(Cascade, Cascade.id == CascadeChild.cascade_id)
            .where(Cascade.template_task_id == requirement.template_task_id, Cascade.state == ACTIVE)
        ).all():
            tasks[unit_id] = task
        units_query = select(OrgUnit).where(OrgUnit.id.in_(list(tasks)))
    else:
        units_query = select(OrgUnit).where(OrgUnit.kind == "commission", OrgUnit.level == "provincial")
    if not user.sees_everything:
        units_query = units_query.where(OrgUnit.path.like(f"{user.unit.path}%"))
    units = list(db.session.scalars(units_query.order_by(OrgUnit.position, OrgUnit.path)))
    schemes = {
        s.unit_id: s
        for s in db.session.scalars(
            select(ProvincialScheme)
            .where(ProvincialScheme.national_plan_id == plan.id)
            .options(joinedload(ProvincialScheme.plan), joinedload(ProvincialScheme.filed_by))
        )
    }
    rows = [FilingRow(u, schemes.get(u.id), tasks.get(u.id)) for u in units]
    return FilingOverview(plan, requirement, rows)


# --- the provincial side ---------------------------------------------------------------------------


def can_edit_scheme(user: User, scheme: ProvincialScheme) -> bool:
    if user.role == "admin":
        return True
    return user.role == "coordinator" and user.unit_id == scheme.unit_id


def can_review_scheme(user: User, scheme: ProvincialScheme) -> bool:
    if user.role == "admin":
        return True
    return user.role == "coordinator" and scheme.unit.is_within(user.unit) and user.unit_id != scheme.unit_id


def can_view_scheme(user: User, scheme: ProvincialScheme) -> bool:
    return user.sees_everything or scheme.unit.is_within(user.unit) or can_review_scheme(user, scheme)


def can_start_scheme(user: User) -> bool:
    return user.role == "coordinator" and user.unit.kind == "commission" and user.unit.level == "provincial"


def scheme_for(plan: Plan, unit: OrgUnit) -> Optional[ProvincialScheme]:
    return db.session.scalar(
        select(ProvincialScheme).where(
            ProvincialScheme.national_plan_id == plan.id, ProvincialScheme.unit_id == unit.id
        )
    )


def start_scheme(
    national: Plan, user: User, title: str, doc_number: str = "", issued_on: Optional[date] = None
) -> ProvincialScheme:
    """A draft scheme of the user's province: a new plan issued by the province, linked to `national`."""
    if not can_start_scheme(user):
        raise SchemeNotAllowed()
    if scheme_for(national, user.unit) is not None:
        raise SchemeError(_l("Your unit has already started a scheme for this plan."))
    title = (title or "").strip()
    if not title:
        raise SchemeError(_l("A title is required."))
    unit = user.unit
    key = f"{national.key}-{unit.code.lower()}"[:50]
    if db.session.scalar(select(Plan.id).where(Plan.key == key)) is not None:
        key = f"{key[:40]}-{uuid.uuid4().hex[:8]}"
    plan = Plan(
        key=key,
        title=title[:300],
        doc_number=(doc_number or "").strip()[:100],
        issuer=unit.name,
        issuer_unit_id=unit.id,
        issued_on=issued_on,
        period_start=national.period_start,
        period_end=national.period_end,
        source="",
        repairs=[],
        notes="",
    )
    db.session.add(plan)
    db.session.flush()
    scheme = ProvincialScheme(
        national_plan_id=national.id,
        plan_id=plan.id,
        unit_id=unit.id,
        state=SCHEME_DRAFT,
        created_by_id=user.id,
        fulfils_task_id=(t.id if (t := national_task_for(national, unit)) else None),
    )
    db.session.add(scheme)
    db.session.flush()
    return scheme


def _require_edit(user: User, scheme: ProvincialScheme) -> None:
    if not can_edit_scheme(user, scheme):
        raise SchemeNotAllowed()
    if scheme.state in (SCHEME_FILED, SCHEME_ACCEPTED):
        raise SchemeError(_l("A filed scheme cannot change."))


def upload_document(scheme: ProvincialScheme, user: User, stream: BinaryIO, filename: str) -> None:
    """Store the scheme's document (checked by content like evidence); a new one replaces the old."""
    _require_edit(user, scheme)
    name = clean_filename(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED:
        raise SchemeError(_l("Allowed file types: PDF, Word, Excel, JPG, PNG, ZIP."))
    try:
        stored = _store(stream, extension)
    except InvalidChange as exc:
        raise SchemeError(exc.args[0]) from exc
    scheme.original_name, scheme.stored_name = name, stored.stored_name
    scheme.sha256, scheme.size, scheme.mime_type = stored.sha256, stored.size, ALLOWED[extension]
    db.session.flush()


def scheme_tasks(scheme: ProvincialScheme) -> list[tuple[Task, Optional[Task]]]:
    """The scheme's tasks with the national task each implements (one statement)."""
    rows = db.session.execute(
        select(Task, SchemeTaskLink.national_task_id)
        .outerjoin(SchemeTaskLink, SchemeTaskLink.task_id == Task.id)
        .where(Task.plan_id == scheme.plan_id)
        .options(joinedload(Task.owner_unit))
        .order_by(Task.position, Task.id)
        .limit(MAX_IMPORT_ROWS * 2)
    ).all()
    ids = {nid for _t, nid in rows if nid}
    found = {t.id: t for t in db.session.scalars(select(Task).where(Task.id.in_(ids)))} if ids else {}
    return [(task, found.get(nid)) for task, nid in rows]


def national_choices(scheme: ProvincialScheme) -> list[Task]:
    """National tasks a scheme task may implement: not the per-unit children of other units."""
    return list(
        db.session.scalars(
            select(Task)
            .where(Task.plan_id == scheme.national_plan_id, ~Task.ref.contains("@"), ~Task.ref.contains("#"))
            .order_by(Task.path)
            .limit(2000)
        )
    )


@dataclass
class NewSchemeTask:
    ref: str
    title: str
    owner_code: str = ""
    due_on: Optional[date] = None
    deliverable: str = ""
    implements: str = ""  # the national task's ref


def _check_rows(
    scheme: ProvincialScheme, rows: list[NewSchemeTask]
) -> list[tuple[NewSchemeTask, OrgUnit, Optional[Task]]]:
    """Validate every row before anything is written; SchemeError lists every problem."""
    problems: list[str] = []
    taken = set(db.session.scalars(select(Task.ref).where(Task.plan_id == scheme.plan_id)))
    codes = {r.owner_code for r in rows if r.owner_code}
    units = {u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))} if codes else {}
    refs = {r.implements for r in rows if r.implements}
    national = (
        {
            t.ref: t
            for t in db.session.scalars(select(Task).where(Task.plan_id == scheme.national_plan_id, Task.ref.in_(refs)))
        }
        if refs
        else {}
    )
    checked = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if not row.ref:
            problems.append(_line(number, _l("a ref is required")))
        elif row.ref in taken or row.ref in seen:
            problems.append(_line(number, _l("ref %(ref)s is already used", ref=row.ref)))
        seen.add(row.ref)
        if not row.title:
            problems.append(_line(number, _l("a title is required")))
        owner = scheme.unit
        if row.owner_code:
            owner = units.get(row.owner_code)
            if owner is None:
                problems.append(_line(number, _l("unknown unit code %(code)s", code=row.owner_code)))
            elif not owner.is_within(scheme.unit):
                problems.append(_line(number, _l("unit %(code)s is not in this province", code=row.owner_code)))
        target = None
        if row.implements:
            target = national.get(row.implements)
            if target is None:
                problems.append(_line(number, _l("no national task %(ref)s", ref=row.implements)))
        if len(row.ref) > 100 or len(row.title) > 500 or len(row.deliverable) > 300:
            problems.append(_line(number, _l("a value is too long")))
        checked.append((row, owner, target))
    if problems:
        raise SchemeError(*problems)
    return checked


def add_tasks(scheme: ProvincialScheme, user: User, rows: list[NewSchemeTask]) -> list[Task]:
    """Create the scheme's tasks (all or none), each mapped to its national task if named."""
    _require_edit(user, scheme)
    if not rows:
        raise SchemeError(_l("No tasks given."))
    if len(rows) > MAX_IMPORT_ROWS:
        raise SchemeError(_l("At most %(n)d tasks at a time.", n=MAX_IMPORT_ROWS))
    checked = _check_rows(scheme, rows)
    position = db.session.scalar(select(func.max(Task.position)).where(Task.plan_id == scheme.plan_id)) or 0
    created = []
    for index, (row, owner, _target) in enumerate(checked, start=1):
        task = Task(
            plan_id=scheme.plan_id,
            ref=row.ref,
            title=row.title,
            owner_unit_id=owner.id,
            due_on=row.due_on,
            deliverable=row.deliverable,
            origin="manual",
            status=NOT_STARTED,
            percent=0,
            progress=0.0,
            position=position + index,
            depth=0,
            path="",
            co_owner_selectors=[],
        )
        created.append(task)
    db.session.add_all(created)
    db.session.flush()
    for task, (_row, _owner, target) in zip(created, checked):
        task.path = f"/{task.id}/"
        journal.record(task, user, "create", comment="")
        if target is not None:
            db.session.add(SchemeTaskLink(task_id=task.id, national_task_id=target.id))
    db.session.flush()
    notify_each(ASSIGNED, [task.id for task in created], user)  # the owners' coordinators
    return created


def parse_import(text: str) -> list[NewSchemeTask]:
    """CSV with a header row: ref,title,owner,due,deliverable,implements (owner, due, deliverable and
    implements may be empty; due as YYYY-MM-DD). SchemeError names every bad line."""
    text = (text or "").lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "ref" not in header or "title" not in header:
        raise SchemeError(_l("The first line must name the columns: %(cols)s", cols=",".join(IMPORT_COLUMNS)))
    reader.fieldnames = header
    rows, problems = [], []
    for number, record in enumerate(reader, start=1):
        if number > MAX_IMPORT_ROWS:
            raise SchemeError(_l("At most %(n)d tasks at a time.", n=MAX_IMPORT_ROWS))
        values = {k: (v or "").strip() for k, v in record.items() if k}
        due = None
        if values.get("due"):
            try:
                due = date.fromisoformat(values["due"])
            except ValueError:
                problems.append(_line(number, _l("%(value)s is not a date (YYYY-MM-DD)", value=values["due"])))
        rows.append(
            NewSchemeTask(
                values.get("ref", ""),
                values.get("title", ""),
                values.get("owner", "").upper(),
                due,
                values.get("deliverable", ""),
                values.get("implements", ""),
            )
        )
    if problems:
        raise SchemeError(*problems)
    return rows


def map_task(scheme: ProvincialScheme, user: User, task: Task, national: Optional[Task]) -> None:
    """Set (or clear) the national task a scheme task implements."""
    _require_edit(user, scheme)
    if task.plan_id != scheme.plan_id:
        raise SchemeError(_l("That task is not part of this scheme."))
    if national is not None and national.plan_id != scheme.national_plan_id:
        raise SchemeError(_l("The national task must belong to the national plan."))
    link = db.session.get(SchemeTaskLink, task.id)
    old = link.national_task.ref if link else None
    new = national.ref if national else None
    if old == new:
        return
    if national is None:
        db.session.delete(link)
    elif link is None:
        db.session.add(SchemeTaskLink(task_id=task.id, national_task_id=national.id))
    else:
        link.national_task_id = national.id
    journal.record(task, user, "edit", "implements", old, new)
    db.session.flush()


def file_scheme(scheme: ProvincialScheme, user: User) -> None:
    """File the scheme for review: it needs its document and at least one task. The province's
    national task is submitted for review (journaled through the status state machine)."""
    _require_edit(user, scheme)
    if not scheme.stored_name:
        raise SchemeError(_l("Upload the scheme's document first."))
    if not db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == scheme.plan_id)):
        raise SchemeError(_l("Add the scheme's tasks first."))
    if scheme.fulfils_task_id is None:
        found = national_task_for(scheme.national_plan, scheme.unit)
        scheme.fulfils_task_id = found.id if found else None
    scheme.state = SCHEME_FILED
    scheme.filed_by_id, scheme.filed_at = user.id, utcnow()
    scheme.reviewed_by_id, scheme.reviewed_at, scheme.review_comment = None, None, ""
    task = scheme.fulfils_task if scheme.fulfils_task_id else None
    if task is not None:
        _bring_to_submitted(task, user, _l("Provincial scheme filed: %(title)s", title=scheme.plan.title))
    db.session.flush()


def _bring_to_submitted(task: Task, user: User, comment) -> None:
    path = {
        NOT_STARTED: (IN_PROGRESS, SUBMITTED),
        RETURNED: (IN_PROGRESS, SUBMITTED),
        IN_PROGRESS: (SUBMITTED,),
        BLOCKED: (IN_PROGRESS, SUBMITTED),
    }.get(task.status, ())
    for target in path:
        change_status(task, user, target, stored_text(comment) if target == SUBMITTED else "")


def review_scheme(scheme: ProvincialScheme, user: User, accept: bool, comment: str = "") -> None:
    """Accept or return a filed scheme; the province's national task follows (accepted / returned)."""
    if not can_review_scheme(user, scheme):
        raise SchemeNotAllowed()
    if scheme.state != SCHEME_FILED:
        raise SchemeError(_l("Only a filed scheme can be reviewed."))
    comment = (comment or "").strip()
    if not accept and not comment:
        raise SchemeError(_l("A reason is required."))
    scheme.state = SCHEME_ACCEPTED if accept else SCHEME_RETURNED
    scheme.reviewed_by_id, scheme.reviewed_at, scheme.review_comment = user.id, utcnow(), comment
    task = scheme.fulfils_task if scheme.fulfils_task_id else None
    if task is not None and task.status not in CLOSED_STATUSES:
        if not actor_for(user, task).is_reviewer:
            raise SchemeNotAllowed()
        note = stored_text(_l("Provincial scheme accepted: %(title)s", title=scheme.plan.title)) if accept else comment
        if task.status != SUBMITTED:
            _bring_to_submitted(task, user, note)
        change_status(task, user, ACCEPTED if accept else RETURNED, comment or note)
        rollup.refresh_task_and_ancestors(task)
    db.session.flush()


def filed_counts() -> dict[int, int]:
    """national plan id -> number of schemes filed or accepted (one statement)."""
    return dict(
        db.session.execute(
            select(ProvincialScheme.national_plan_id, func.count())
            .where(ProvincialScheme.state.in_((SCHEME_FILED, SCHEME_ACCEPTED)))
            .group_by(ProvincialScheme.national_plan_id)
        ).all()
    )
