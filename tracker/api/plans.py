"""Plans, tasks and task actions. Every query goes through the pages' scoping functions and every
change through the same operations (state machine, optimistic locking, journal)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Optional

from flask import g
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from tracker.api.core import ApiError, FileAnswer, forbidden, not_found, operation
from tracker.api.schemas import (
    CommentIn,
    Conflict,
    EvidenceOut,
    EvidenceUpload,
    JournalOut,
    PercentChange,
    PhaseOut,
    PlanDetail,
    PlanList,
    PlanSummary,
    StatusChange,
    TaskDetail,
    TaskList,
    TaskOut,
    TaskQuery,
    UnitRef,
)
from tracker.auth.scope import actor_for, visible_tasks_clause
from tracker.extensions import db
from tracker.models import Evidence, JournalEntry, OrgUnit, Phase, Plan, Task, User
from tracker.plans import evidence as evidence_service
from tracker.plans.export import EXPORT_VERSION
from tracker.plans.operations import InvalidChange, NotAllowed, StaleVersion, add_comment, change_status, update_percent
from tracker.plans.queries import TaskFilters, filtered_tasks
from tracker.plans.service import visible_task
from tracker.plans.stored_download import stream_stored
from tracker.plans.status import OVERDUE_STATUSES, TransitionError, allowed_targets
from tracker.storage import MissingObject, storage
from tracker.timeutil import local_today

CHILDREN_LIMIT = 500
EVIDENCE_LIMIT = 200
JOURNAL_LIMIT = 200


def me() -> User:
    """The token's user (tracker/api/auth.py put it where Flask-Login looks)."""
    return g._login_user


# -- serialisation ------------------------------------------------------------------------------


def unit_ref(unit: Optional[OrgUnit]) -> Optional[UnitRef]:
    return UnitRef(code=unit.code, name=unit.name) if unit is not None else None


def plan_summary(plan: Plan) -> dict:
    return dict(
        export_version=EXPORT_VERSION,
        key=plan.key,
        title=plan.title,
        doc_number=plan.doc_number or "",
        issuer=plan.issuer or "",
        issuer_unit=unit_ref(plan.issuer_unit),
        issued=plan.issued_on,
        period={"start": plan.period_start, "end": plan.period_end},
        source=plan.source or "",
    )


def task_fields(task: Task, today: date) -> dict:
    return dict(
        id=task.id,
        plan=task.plan.key,
        ref=task.ref,
        title=task.title,
        description=task.description or "",
        owner=unit_ref(task.owner_unit),
        co_owners=[unit_ref(u) for u in task.co_owners],
        start=task.start_on,
        due=task.due_on,
        deliverable=task.deliverable or "",
        phase=task.phase.key if task.phase else None,
        weight=task.weight,
        recurrence=task.recurrence,
        status=task.status,
        percent=task.percent,
        origin=task.origin,
        notes=task.notes or "",
        parent=task.parent_id,
        version=task.version,
        progress=task.progress or 0.0,
        overdue=bool(task.due_on and task.due_on < today and task.status in OVERDUE_STATUSES),
        updated_at=task.updated_at,
    )


def task_out(task: Task) -> TaskOut:
    return TaskOut(**task_fields(task, local_today()))


def evidence_out(item: Evidence) -> EvidenceOut:
    return EvidenceOut(
        id=item.id,
        kind=item.kind,
        note=item.note or "",
        name=item.original_name,
        size=item.size,
        mime_type=item.mime_type,
        sha256=item.sha256,
        superseded_by=item.superseded_by_id,
        user=item.user.display_name,
        created_at=item.created_at,
    )


def journal_out(entry: JournalEntry) -> JournalOut:
    return JournalOut(
        id=entry.id,
        at=entry.at,
        user=entry.user.display_name if entry.user else None,
        action=entry.action,
        field=entry.field,
        old=entry.old_value,
        new=entry.new_value,
        comment=entry.comment or "",
        api_token=entry.api_token_id,
    )


# -- cursors --------------------------------------------------------------------------------------


def encode_cursor(values: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: Optional[str]) -> Optional[dict]:
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if not isinstance(values, dict):
        raise ApiError(
            422,
            "invalid",
            "The cursor is not one this API gave.",
            [{"field": "query.cursor", "message": "not a cursor of this list"}],
        )
    return values


def _cursor_value(values: dict, name: str, kind):
    value = values.get(name)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    if kind is date and value is None:
        return None
    if kind is date and isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    if kind is str and isinstance(value, str) and len(value) <= 400:
        return value
    raise ApiError(
        422,
        "invalid",
        "The cursor is not one this API gave.",
        [{"field": "query.cursor", "message": "not a cursor of this list"}],
    )


# -- plans ----------------------------------------------------------------------------------------


def _plan_or_404(key: str) -> Plan:
    plan = db.session.scalar(
        select(Plan).where(Plan.key == key).options(joinedload(Plan.issuer_unit), selectinload(Plan.phases))
    )
    if plan is None:
        raise not_found("No plan with this key.")
    return plan


@operation("/plans", summary="Plans", tag="plans", responses={200: PlanList})
def list_plans():
    """Every plan (at most 500), newest first: its document data as in the plan export."""
    plans = db.session.scalars(
        select(Plan)
        .options(joinedload(Plan.issuer_unit))
        .order_by(Plan.issued_on.desc().nulls_last(), Plan.key)
        .limit(500)
    )
    return PlanList(items=[PlanSummary(**plan_summary(p)) for p in plans])


@operation("/plans/<key>", summary="One plan with its phases", tag="plans", responses={200: PlanDetail})
def get_plan(key: str):
    plan = _plan_or_404(key)
    return PlanDetail(
        **plan_summary(plan),
        repairs=[str(r) for r in plan.repairs or []],
        phases=[PhaseOut(key=p.key, name=p.name, start=p.start_on, end=p.end_on) for p in plan.phases],
    )


# -- tasks ----------------------------------------------------------------------------------------


def _after(cursor: dict):
    """Rows after the cursor in the list's order (due date, no date last, then id)."""
    last_id = _cursor_value(cursor, "i", int)
    due = _cursor_value(cursor, "d", date)
    if due is None:
        return and_(Task.due_on.is_(None), Task.id > last_id)
    return or_(Task.due_on.is_(None), Task.due_on > due, and_(Task.due_on == due, Task.id > last_id))


@operation(
    "/tasks", summary="Tasks, with the task list's filters", tag="tasks", query=TaskQuery, responses={200: TaskList}
)
def list_tasks(query: TaskQuery):
    """The tasks the token's user sees (cascade templates left out, as on the task list), by due date
    (undated last) then id; `limit` per page, the next page from `cursor`=`next`."""
    if query.due_from and query.due_to and query.due_to < query.due_from:
        raise ApiError(
            422, "invalid", "The end is before the start.", [{"field": "query.due_to", "message": "before due_from"}]
        )
    user = me()
    filters = TaskFilters(
        status=query.status,
        owner=(query.owner or "").strip(),
        overdue=query.overdue,
        due_from=query.due_from,
        due_to=query.due_to,
        q=(query.q or "").strip(),
    )
    statement = filtered_tasks(user, filters)
    if query.plan:
        statement = statement.where(Task.plan_id.in_(select(Plan.id).where(Plan.key == query.plan)))
    if query.phase:
        phases = select(Phase.id).where(Phase.key == query.phase)
        if query.plan:
            phases = phases.where(Phase.plan_id.in_(select(Plan.id).where(Plan.key == query.plan)))
        statement = statement.where(Task.phase_id.in_(phases))
    if query.mine:
        statement = statement.where(Task.owner_unit_id == user.unit_id)
    cursor = decode_cursor(query.cursor)
    if cursor is not None:
        statement = statement.where(_after(cursor))
    rows = list(
        db.session.scalars(
            statement.options(
                joinedload(Task.owner_unit), joinedload(Task.plan), joinedload(Task.phase), selectinload(Task.co_owners)
            )
            .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
            .limit(query.limit + 1)
        ).unique()
    )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    today = local_today()
    following = None
    if more:
        last = rows[-1]
        following = encode_cursor({"d": last.due_on.isoformat() if last.due_on else None, "i": last.id})
    return TaskList(items=[TaskOut(**task_fields(t, today)) for t in rows], next=following)


def _task_or_404(task_id: int) -> Task:
    task = visible_task(me(), task_id)
    if task is None:
        raise not_found("No such task, or not visible to this token.")
    return task


@operation(
    "/tasks/<int:task_id>",
    summary="One task: its children, evidence and journal",
    tag="tasks",
    responses={200: TaskDetail},
)
def get_task(task_id: int):
    user = me()
    task = _task_or_404(task_id)
    children = list(
        db.session.scalars(
            select(Task.id)
            .where(Task.parent_id == task.id, visible_tasks_clause(user))
            .order_by(Task.position, Task.id)
            .limit(CHILDREN_LIMIT)
        )
    )
    evidence = db.session.scalars(
        select(Evidence)
        .where(Evidence.task_id == task.id)
        .options(joinedload(Evidence.user))
        .order_by(Evidence.created_at.desc(), Evidence.id.desc())
        .limit(EVIDENCE_LIMIT)
    )
    journal = db.session.scalars(
        select(JournalEntry)
        .where(JournalEntry.task_id == task.id)
        .options(joinedload(JournalEntry.user))
        .order_by(JournalEntry.at.desc(), JournalEntry.id.desc())
        .limit(JOURNAL_LIMIT)
    )
    return TaskDetail(
        **task_fields(task, local_today()),
        children=children,
        evidence=[evidence_out(e) for e in evidence],
        journal=[journal_out(j) for j in journal],
        allowed_status=allowed_targets(task.status, actor_for(user, task)),
    )


CONFLICT_MESSAGE = (
    "The task was changed meanwhile (its version moved on); nothing was written. Here is its current state."
)


def _apply(task: Task, change) -> Task:
    """Run a change and commit; refusals roll back and answer 403, 409 (with the task) or 422."""
    try:
        change()
        db.session.commit()
    except NotAllowed as exc:
        db.session.rollback()
        raise forbidden(str(exc)) from None
    except (StaleVersion, StaleDataError):
        db.session.rollback()
        fresh = _task_or_404(task.id)
        db.session.refresh(fresh)
        raise ApiError(
            409,
            "conflict",
            CONFLICT_MESSAGE,
            body=Conflict(error="conflict", message=CONFLICT_MESSAGE, task=task_out(fresh)),
        ) from None
    except (TransitionError, InvalidChange) as exc:
        db.session.rollback()
        raise ApiError(422, "refused", str(exc)) from None
    return task


@operation(
    "/tasks/<int:task_id>/status",
    "POST",
    summary="Change the status",
    tag="task actions",
    body=StatusChange,
    responses={200: TaskOut, 403: None, 409: (Conflict, "Stale version: the task as it is now.")},
)
def change_task_status(task_id: int, body: StatusChange):
    """Move the task through the state machine (`not_started → in_progress → submitted → accepted`,
    `submitted → returned → in_progress`, `blocked`/`cancelled` by a coordinator; `accepted → submitted`
    (撤销通过) by the reviewer who accepted, within ACCEPT_UNDO_MINUTES), based on `version`.
    A refused transition answers 422 with the reason; a stale version 409 with the current task."""
    user = me()
    task = _task_or_404(task_id)
    actor = actor_for(user, task)
    if not (actor.is_owner or actor.is_reviewer or actor.is_coordinator):
        raise forbidden("This token's user has no part in this task's workflow.")
    _apply(task, lambda: change_status(task, user, body.target, body.comment, expected_version=body.version))
    return task_out(_task_or_404(task_id))


@operation(
    "/tasks/<int:task_id>/percent",
    "POST",
    summary="Report the percent done",
    tag="task actions",
    body=PercentChange,
    responses={200: TaskOut, 403: None, 409: (Conflict, "Stale version: the task as it is now.")},
)
def change_task_percent(task_id: int, body: PercentChange):
    """A not-started task moves to in progress when it gets a percent above 0."""
    user = me()
    task = _task_or_404(task_id)
    _apply(task, lambda: update_percent(task, user, body.percent, expected_version=body.version))
    return task_out(_task_or_404(task_id))


@operation(
    "/tasks/<int:task_id>/comments",
    "POST",
    summary="Comment on a task",
    tag="task actions",
    body=CommentIn,
    responses={201: JournalOut, 403: None},
)
def comment_task(task_id: int, body: CommentIn):
    user = me()
    task = _task_or_404(task_id)
    _apply(task, lambda: add_comment(task, user, body.text))
    entry = db.session.scalar(
        select(JournalEntry)
        .where(JournalEntry.task_id == task_id, JournalEntry.action == "comment")
        .options(joinedload(JournalEntry.user))
        .order_by(JournalEntry.id.desc())
        .limit(1)
    )
    return journal_out(entry), 201


@operation(
    "/tasks/<int:task_id>/evidence",
    "POST",
    summary="Upload evidence",
    tag="task actions",
    multipart=EvidenceUpload,
    responses={201: EvidenceOut, 403: None},
)
def upload_evidence(task_id: int, form: EvidenceUpload):
    """A file checked as on the task page: PDF, Word, Excel, JPG, PNG or ZIP by content, not by name;
    at most MAX_UPLOAD_MB; never empty. A refused file answers 422 and leaves nothing behind."""
    user = me()
    task = _task_or_404(task_id)
    supersedes = None
    if form.supersedes is not None:
        supersedes = db.session.get(Evidence, form.supersedes)
        if supersedes is None or supersedes.task_id != task.id:
            raise ApiError(
                422,
                "refused",
                "That evidence cannot be replaced.",
                [{"field": "body.supersedes", "message": "not evidence of this task"}],
            )
    created: list[Evidence] = []
    upload = form.file
    _apply(
        task,
        lambda: created.append(
            evidence_service.add_file(task, user, upload.stream, upload.filename or "", form.note or "", supersedes)
        ),
    )
    item = db.session.scalar(select(Evidence).where(Evidence.id == created[0].id).options(joinedload(Evidence.user)))
    return evidence_out(item), 201


@operation(
    "/evidence/<int:evidence_id>",
    summary="Download an evidence file",
    tag="tasks",
    responses={
        200: (
            FileAnswer(sorted(set(evidence_service.ALLOWED.values()))),
            "The file's bytes, as uploaded (its name in Content-Disposition).",
        ),
        503: (None, "The file store cannot be reached at the moment: try again after `Retry-After` seconds."),
    },
)
def download_evidence(evidence_id: int):
    """The file of an evidence item of a task the token's user sees (its id is in the task's
    `evidence`), streamed through the app after that check, never redirected to the store: the
    same bytes, name and type as the task page's download."""
    item = db.session.get(Evidence, evidence_id)
    if item is None or item.kind != "file" or visible_task(me(), item.task_id) is None:
        raise not_found("No such evidence file, or not visible to this token.")
    try:
        handle = storage().open(item.stored_name)
    except MissingObject:
        raise not_found(
            "The file's content is missing from the file store; the administrator can restore it from a backup."
        ) from None
    return stream_stored(handle, item.original_name, item.mime_type)
