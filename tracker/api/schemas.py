"""The API's request and response models (Pydantic v2). They validate what comes in, shape what
goes out, and are the OpenAPI description's schemas (tracker/api/openapi.py).

Field names follow the plan export (`flask plans export`, README "Plan export format"):
`ref`, `title`, `owner: {code, name}`, `co_owners`, `start`, `due`, `deliverable`, `phase` (its
key), `weight`, `recurrence`, `status`, `percent`, `origin`, `notes`; plans carry the export's
`export_version`, which changes only if these names ever do. The API adds what a client of a
live system needs: ids, `version` (optimistic locking), `parent`, `progress`, `overdue`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

STATUS = Literal["not_started", "in_progress", "submitted", "returned", "accepted", "blocked", "cancelled"]
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Limit = Annotated[int, Field(ge=1, le=200, description="Rows per page (at most 200).")]
Cursor = Annotated[str, Field(min_length=1, max_length=200, description="The `next` of the previous page.")]
Text100 = Annotated[str, Field(max_length=100)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- errors -------------------------------------------------------------------------------------


class FieldError(Out):
    field: str = Field(
        description="Where: `query.limit`, `body.version`, or an indicator code (`item:CODE` for its item)."
    )
    message: str


class Error(Out):
    error: str = Field(
        description="Machine-readable: unauthorized, forbidden, not_found, invalid, conflict, rate_limited, ..."
    )
    message: str
    errors: list[FieldError] = Field(default_factory=list, description="Every field's error (422).")


# -- shared pieces ------------------------------------------------------------------------------


class UnitRef(Out):
    code: str
    name: str


class Period(Out):
    start: Optional[date]
    end: Optional[date]


class PhaseOut(Out):
    key: str
    name: str
    start: Optional[date]
    end: Optional[date]


# -- plans --------------------------------------------------------------------------------------


class PlanSummary(Out):
    export_version: int = Field(description="Version of the field names (the plan export's); changes only if they do.")
    key: str
    title: str
    doc_number: str
    issuer: str
    issuer_unit: Optional[UnitRef]
    issued: Optional[date]
    period: Period
    source: str


class PlanList(Out):
    items: list[PlanSummary] = Field(max_length=500, description="Newest first (at most 500).")


class PlanDetail(PlanSummary):
    repairs: list[str]
    phases: list[PhaseOut]


# -- tasks --------------------------------------------------------------------------------------


class TaskOut(Out):
    id: int
    plan: str = Field(description="The plan's key.")
    ref: str
    title: str
    description: str
    owner: Optional[UnitRef]
    co_owners: list[UnitRef]
    start: Optional[date]
    due: Optional[date]
    deliverable: str
    phase: Optional[str] = Field(description="The phase's key.")
    weight: float
    recurrence: Optional[str]
    status: STATUS
    percent: int
    origin: str
    notes: str
    parent: Optional[int] = Field(description="The parent task's id.")
    version: int = Field(description="Send it back with a change: a stale one gets 409 and the current task.")
    progress: float = Field(
        description="0-100: a leaf's from its status and percent, a parent's the weighted mean of its children."
    )
    overdue: bool
    updated_at: datetime


class TaskList(Out):
    items: list[TaskOut]
    next: Optional[str] = Field(description="Pass as `cursor` for the next page; null on the last page.")


class EvidenceOut(Out):
    id: int
    kind: Literal["file", "note"]
    note: str
    name: Optional[str] = Field(description="The file's name as uploaded.")
    size: Optional[int]
    mime_type: Optional[str]
    sha256: Optional[str]
    superseded_by: Optional[int]
    user: str
    created_at: datetime


class JournalOut(Out):
    id: int
    at: datetime
    user: Optional[str]
    action: str
    field: Optional[str]
    old: Optional[str]
    new: Optional[str]
    comment: str
    api_token: Optional[int] = Field(description="Set when the change came through the API: the token's id.")


class TaskDetail(TaskOut):
    children: list[int] = Field(max_length=500, description="Ids of the visible child tasks (at most 500).")
    evidence: list[EvidenceOut] = Field(max_length=200, description="Newest first (at most 200).")
    journal: list[JournalOut] = Field(max_length=200, description="Newest first (at most 200).")
    allowed_status: list[STATUS] = Field(description="The statuses this token's user may move the task to now.")


class TaskQuery(Query):
    plan: Text100 | SkipJsonSchema[None] = Field(None, description="A plan's key.")
    status: STATUS | SkipJsonSchema[None] = None
    owner: Text100 | SkipJsonSchema[None] = Field(None, description="Part of the owner unit's name, or its exact code.")
    phase: Text100 | SkipJsonSchema[None] = Field(None, description="A phase's key (with `plan`).")
    overdue: bool = Field(False, description="Only tasks open past their due date.")
    mine: bool = Field(False, description="Only tasks owned by the token user's own unit.")
    due_from: date | SkipJsonSchema[None] = None
    due_to: date | SkipJsonSchema[None] = None
    q: Text100 | SkipJsonSchema[None] = Field(None, description="Part of the title.")
    limit: Limit = 50
    cursor: Cursor | SkipJsonSchema[None] = None


class StatusChange(In):
    target: STATUS
    version: Id = Field(description="The task's version the change is based on.")
    comment: Annotated[str, Field(max_length=5000)] = Field(
        "", description="A reason (required to return, block or cancel)."
    )


class PercentChange(In):
    percent: Annotated[int, Field(ge=0, le=100)]
    version: Id


class CommentIn(In):
    text: Annotated[str, Field(min_length=1, max_length=5000)]


class Conflict(Out):
    error: Literal["conflict"]
    message: str
    task: TaskOut = Field(description="The task as it is now.")


def _file(value: Any):
    from werkzeug.datastructures import FileStorage

    if not isinstance(value, FileStorage):
        raise ValueError("a file is required")
    return value


UploadedFile = Annotated[Any, PlainValidator(_file), WithJsonSchema({"type": "string", "format": "binary"})]


class EvidenceUpload(In):
    file: UploadedFile = Field(description="PDF, Word, Excel, JPG, PNG or ZIP; checked by content.")
    note: Annotated[str, Field(max_length=500)] = ""
    supersedes: Id | SkipJsonSchema[None] = Field(None, description="The id of the evidence this one replaces.")


# -- units --------------------------------------------------------------------------------------


class UnitOut(Out):
    code: str
    name: str
    kind: str
    level: str
    parent: Optional[str] = Field(description="The parent unit's code.")
    depth: int = Field(description="0 for the national root.")


class UnitList(Out):
    items: list[UnitOut] = Field(description="In tree order (each unit before the units under it).")
    next: Optional[str]


class UnitDetail(UnitOut):
    children: list[UnitOut] = Field(max_length=500, description="The units directly under it (at most 500).")


class UnitQuery(Query):
    under: Text100 | SkipJsonSchema[None] = Field(
        None, description="A unit's code: it and the units under it. Default: the token user's reach."
    )
    limit: Annotated[int, Field(ge=1, le=500)] = 200
    cursor: Cursor | SkipJsonSchema[None] = None


# -- progress -----------------------------------------------------------------------------------


class Figures(Out):
    items: int = Field(description="Work items: leaf tasks that are not cancelled.")
    done: int
    on_time: int
    late: int
    overdue: int
    due_so_far: int
    overdue_days: int
    completion: float = Field(description="Weighted mean progress, 0-100.")
    on_time_rate: Optional[float] = Field(description="on_time / due_so_far, in %; null when nothing is due yet.")


class ProgressColumn(Out):
    key: Optional[str] = Field(description="A section's ref or a phase's key; null: tasks without a phase.")
    label: str


class ProgressRow(Out):
    unit: Optional[UnitRef] = Field(
        description="A unit directly under the chosen one (its whole subtree); null: the chosen unit's own tasks."
    )
    total: Figures
    cells: list[Optional[Figures]] = Field(description="One per column, in the columns' order.")


class PlanProgress(Out):
    plan: str
    unit: UnitRef
    by: Literal["sections", "phases"]
    as_of: date
    columns: list[ProgressColumn]
    rows: list[ProgressRow]
    total: Figures


class PlanFigures(Out):
    plan: str
    title: str
    figures: Figures


class UnitProgress(Out):
    unit: UnitRef
    as_of: date
    plans: list[PlanFigures]
    total: Figures


class ProgressQuery(Query):
    unit: Text100 | SkipJsonSchema[None] = Field(
        None, description="A unit's code (default: the token user's own unit)."
    )
    by: Literal["sections", "phases"] = "sections"


# -- notifications ------------------------------------------------------------------------------


class NotificationOut(Out):
    id: int
    task: int
    task_ref: str
    task_title: str
    level: str
    created_at: datetime
    read_at: Optional[datetime]


class NotificationList(Out):
    items: list[NotificationOut]
    next: Optional[str]
    unread: int


class NotificationQuery(Query):
    unread: bool = False
    limit: Limit = 50
    cursor: Cursor | SkipJsonSchema[None] = None


class Done(Out):
    changed: int


# -- indicator forms ----------------------------------------------------------------------------


class ReportingPeriodOut(Out):
    id: int
    kind: str
    year: int
    number: int
    start: date
    end: date
    due: date


class IndicatorFormSummary(Out):
    id: int
    plan: str
    period: ReportingPeriodOut
    unit: UnitRef
    status: Literal["draft", "submitted", "returned", "approved"]
    task: int
    submitted_at: Optional[datetime]


class IndicatorFormList(Out):
    items: list[IndicatorFormSummary]


class IndicatorField(Out):
    code: str
    name: str
    unit: str
    type: str
    group: str
    parent: Optional[str]
    required: bool = Field(description="Required on submission.")
    derived: bool = Field(description="A rate computed from its numerator and denominator; never sent.")
    has_item: bool = Field(
        description="Names an item (a disease or technique, an ICD code when classified) in `items`."
    )
    classification: str
    value: Union[float, str, None]
    item: Optional[str]


class IndicatorFormDetail(IndicatorFormSummary):
    editable: bool = Field(description="Whether this token's user may save values now.")
    return_reason: str
    fields: list[IndicatorField]


class IndicatorValues(In):
    values: dict[Annotated[str, Field(max_length=60)], Union[float, Annotated[str, Field(max_length=2000)], None]] = (
        Field(
            default_factory=dict, max_length=2000, description="By indicator code: a number, a text, or null to clear."
        )
    )
    items: dict[Annotated[str, Field(max_length=60)], Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=2000, description="By indicator code: the item a row names."
    )
    submit: bool = Field(False, description="Submit for review (every required field then needed).")


class IndicatorFormQuery(Query):
    limit: Annotated[int, Field(ge=1, le=50)] = 50


# -- the description ----------------------------------------------------------------------------


class Empty(Out):
    pass
