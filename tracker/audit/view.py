"""The audit view: the task journal (journal_entries) and the journal of users, units and plans
(audit_entries) read together, newest first, filtered by who, which unit (and the units under
it), when (local calendar days), what action and what kind of object.

Pages are keyset pages: each journal is read in (at, id) order from where the last page stopped
(the cursor `after`), at most a page and one row of each, and the two are merged. So a page costs
two statements whatever the journal's length (the indexes (at, id) and (user_id, at) of
journal_entries; at, actor_id and unit_id of audit_entries), and the export walks the same
pages in batches up to its cap.

Every field and action is shown by its label (tracker/audit/labels.py), never by its column
name; values that are codes (a status, a role, a state) by their words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import joinedload

from tracker.audit.labels import (
    ACTION_LABELS,
    FIELD_LABELS,
    SUBJECT_LABELS,
    TASK_ACTION_LABELS,
    TASK_FIELD_LABELS,
)
from tracker.auth.scope import narrower_subtree, subtree_unit_ids
from tracker.extensions import db
from tracker.lazy_text import lazy_gettext as _l
from tracker.models import AuditEntry, JournalEntry, OrgUnit, Task, User
from tracker.timeutil import local_zone

PER_PAGE = 50
TASK, ACCOUNT_LIKE = "task", ("user", "unit", "plan")
KINDS = (TASK,) + ACCOUNT_LIKE
# the order of the two journals among rows of the same instant (the cursor's middle part)
_RANK = {"journal": 1, "audit": 0}


@dataclass
class AuditFilters:
    user_ids: Optional[list[int]] = None  # None: anyone
    unit: Optional[OrgUnit] = None  # this unit and the units under it
    day_from: Optional[date] = None  # local calendar days, both included
    day_to: Optional[date] = None
    action: str = ""
    kind: str = ""  # "" | task | user | unit | plan
    # the viewer's subtree (tracker/auth/scope.py journal_scope): None for those who see all
    scope: Optional[OrgUnit] = None


@dataclass(frozen=True)
class Cursor:
    """Where a page stopped: the last row's time, journal and id (rows before it come next)."""

    at: datetime
    source: str
    id: int

    def token(self) -> str:
        return f"{self.at.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%S.%f')}.{self.source}.{self.id}"

    @classmethod
    def parse(cls, token: Optional[str]) -> Optional["Cursor"]:
        """The cursor of a token from a page's link; None for anything else (the first page)."""
        try:
            stamp, fraction, source, number = (token or "").split(".")
            at = datetime.strptime(f"{stamp}.{fraction}", "%Y%m%dT%H%M%S.%f").replace(tzinfo=timezone.utc)
            if source not in _RANK or not number.isdigit() or len(number) > 18:
                return None
            return cls(at, source, int(number))
        except ValueError:
            return None


@dataclass
class AuditRow:
    source: str  # journal (task journal) | audit (users, units, plans)
    id: int
    at: datetime
    actor: Optional[User]
    action: str
    subject: str  # task | user | unit | plan
    subject_id: int
    subject_label: str
    unit: Optional[OrgUnit]
    field: Optional[str]
    old_value: Optional[str]
    new_value: Optional[str]
    comment: str

    @property
    def key(self) -> tuple:
        return (self.at, _RANK[self.source], self.id)

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.source, self.id)

    @property
    def action_label(self) -> str:
        return action_label(self.subject, self.action)

    @property
    def field_label(self) -> str:
        return field_label(self.subject, self.action, self.field)

    @property
    def subject_kind(self) -> str:
        return str(SUBJECT_LABELS.get(self.subject, _l("Other")))

    @property
    def old_text(self) -> str:
        return value_text(self.subject, self.field, self.old_value)

    @property
    def new_text(self) -> str:
        return value_text(self.subject, self.field, self.new_value)

    @property
    def comment_text(self) -> str:
        return "" if self.comment in (None, "seed") else self.comment


@dataclass
class AuditPage:
    rows: list[AuditRow] = field(default_factory=list)
    next_cursor: Optional[Cursor] = None  # None: this is the last page
    first: bool = True


# -- labels --------------------------------------------------------------------------------------


def action_label(subject: str, action: str) -> str:
    labels = TASK_ACTION_LABELS if subject == TASK else ACTION_LABELS
    found = labels.get(action)
    return str(found) if found is not None else str(_l("other change"))


def field_label(subject: str, action: str, name: Optional[str]) -> str:
    if not name:
        return ""
    if subject == TASK and action == "indicator_value":
        return str(_l("Indicator %(code)s", code=name))
    labels = TASK_FIELD_LABELS if subject == TASK else FIELD_LABELS
    found = labels.get(name)
    return str(found) if found is not None else str(_l("Other field"))


def value_text(subject: str, name: Optional[str], value: Optional[str]) -> str:
    """A stored value as words: a status, a role or an account's state by its label."""
    if value is None or value == "":
        return ""
    if name == "status":
        from tracker.plans.status import LABELS

        return str(LABELS.get(value, value))
    if subject == "user" and name == "role":
        from tracker.users.service import ROLE_LABELS

        return str(ROLE_LABELS.get(value, value))
    if subject == "user" and name == "active":
        return str(_l("active") if value == "1" else _l("disabled"))
    if subject == "unit" and name in ("kind", "level"):
        from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS

        return str((KIND_LABELS if name == "kind" else LEVEL_LABELS).get(value, value))
    if name == "retired_at":
        return _local_time(value)
    return value


def _local_time(value: str) -> str:
    """A stored ISO timestamp as the local time it was (yyyy-MM-dd HH:mm); else as stored."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M")


def action_choices() -> list[tuple[str, str]]:
    """(action, label) of every action either journal writes, each once (a task's wording first)."""
    seen: dict[str, str] = {}
    for labels in (TASK_ACTION_LABELS, ACTION_LABELS):
        for code, label in labels.items():
            seen.setdefault(code, str(label))
    return sorted(seen.items(), key=lambda item: item[1])


# -- the time window -----------------------------------------------------------------------------


def _utc_bounds(filters: AuditFilters) -> tuple[Optional[datetime], Optional[datetime]]:
    """The UTC instants of the local days' start (included) and the day after the end (excluded)."""
    zone = local_zone()
    start = end = None
    if filters.day_from:
        start = datetime.combine(filters.day_from, time.min, zone).astimezone(timezone.utc)
    if filters.day_to:
        end = datetime.combine(filters.day_to + timedelta(days=1), time.min, zone).astimezone(timezone.utc)
    return start, end


def _before(at_column, id_column, source: str, cursor: Optional[Cursor]):
    """Rows of this journal that come after `cursor` in the newest-first order."""
    if cursor is None:
        return None
    rank, cursor_rank = _RANK[source], _RANK[cursor.source]
    if rank < cursor_rank:
        return at_column <= cursor.at
    if rank > cursor_rank:
        return at_column < cursor.at
    # a row value, which the (at, id) index serves as a range (an OR of the two would be a filter)
    return tuple_(at_column, id_column) < tuple_(cursor.at, cursor.id)


# -- the two journals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Journal:
    """What the filters need to know of one journal's table."""

    source: str  # journal | audit (the cursor's name for it)
    model: type
    actor: Any  # the column of who made the change
    subjects: tuple[str, ...]  # the kinds of object its rows are about
    subject: Any  # the column naming the kind of object (None: one kind only)
    about: Callable[[Any], Any]  # the condition "about these units" (a subquery of unit ids)


TASK_JOURNAL = _Journal(
    "journal",
    JournalEntry,
    JournalEntry.user_id,
    (TASK,),
    None,
    lambda units: JournalEntry.task_id.in_(select(Task.id).where(Task.owner_unit_id.in_(units))),
)
ACCOUNT_JOURNAL = _Journal(
    "audit",
    AuditEntry,
    AuditEntry.actor_id,
    ACCOUNT_LIKE,
    AuditEntry.subject,
    lambda units: AuditEntry.unit_id.in_(units),
)


def journal_conditions(journal: _Journal, filters: AuditFilters, cursor: Optional[Cursor]) -> Optional[list]:
    """The WHERE of one journal under the filters, the viewer's scope and the cursor, built once
    for the page and the export alike; None when no row of this journal can match."""
    if filters.kind and filters.kind not in journal.subjects:
        return None
    # the unit filter within the viewer's subtree: the inner of the two, or nothing if apart
    apart, within = narrower_subtree(filters.unit, filters.scope)
    if apart:
        return None
    model = journal.model
    start, end = _utc_bounds(filters)
    conditions = []
    if filters.kind and journal.subject is not None:
        conditions.append(journal.subject == filters.kind)
    if filters.user_ids is not None:
        conditions.append(journal.actor.in_(filters.user_ids))
    if filters.action:
        conditions.append(model.action == filters.action)
    if start is not None:
        conditions.append(model.at >= start)
    if end is not None:
        conditions.append(model.at < end)
    if within is not None:
        conditions.append(journal.about(subtree_unit_ids(within)))
    if cursor is not None:
        conditions.append(_before(model.at, model.id, journal.source, cursor))
    return conditions


def _newest(journal: _Journal, conditions: list, limit: int, *options):
    model = journal.model
    query = select(model).where(*conditions).options(*options).order_by(model.at.desc(), model.id.desc()).limit(limit)
    return list(db.session.scalars(query).unique())


def _task_rows(filters: AuditFilters, cursor: Optional[Cursor], limit: int, forget: bool) -> list[AuditRow]:
    conditions = journal_conditions(TASK_JOURNAL, filters, cursor)
    if conditions is None:
        return []
    entries = _newest(
        TASK_JOURNAL,
        conditions,
        limit,
        joinedload(JournalEntry.user),
        joinedload(JournalEntry.task).joinedload(Task.owner_unit),
    )
    rows = [
        AuditRow(
            "journal",
            e.id,
            e.at,
            e.user,
            e.action,
            TASK,
            e.task_id,
            e.task.title if e.task else "",
            e.task.owner_unit if e.task else None,
            e.field,
            e.old_value,
            e.new_value,
            e.comment or "",
        )
        for e in entries
    ]
    if forget:
        _forget(entries)
    return rows


def _audit_rows(filters: AuditFilters, cursor: Optional[Cursor], limit: int, forget: bool) -> list[AuditRow]:
    conditions = journal_conditions(ACCOUNT_JOURNAL, filters, cursor)
    if conditions is None:
        return []
    entries = _newest(ACCOUNT_JOURNAL, conditions, limit, joinedload(AuditEntry.actor), joinedload(AuditEntry.unit))
    rows = [
        AuditRow(
            "audit",
            e.id,
            e.at,
            e.actor,
            e.action,
            e.subject,
            e.subject_id,
            e.subject_label,
            e.unit,
            e.field,
            e.old_value,
            e.new_value,
            e.comment or "",
        )
        for e in entries
    ]
    if forget:
        _forget(entries)
    return rows


def _forget(entries: list) -> None:
    """The journal rows themselves are not kept in the session once copied (an export walks many
    pages); the users, units and tasks they name stay (expunge does not cascade to them)."""
    for entry in entries:
        db.session.expunge(entry)


def audit_page(
    filters: AuditFilters, cursor: Optional[Cursor] = None, per_page: int = PER_PAGE, forget: bool = False
) -> AuditPage:
    """One page of both journals, newest first, after `cursor` (two statements). `forget`: the
    journal rows leave the session once read (an export's batches)."""
    per_page = max(1, min(per_page, 1000))
    rows = _task_rows(filters, cursor, per_page + 1, forget) + _audit_rows(filters, cursor, per_page + 1, forget)
    rows.sort(key=lambda row: row.key, reverse=True)
    page = rows[:per_page]
    more = len(rows) > per_page
    return AuditPage(page, page[-1].cursor if more and page else None, first=cursor is None)


def audit_row_batches(filters: AuditFilters, cap: int, batch: int = 1000) -> Iterator[list[AuditRow]]:
    """Every row the filters select, newest first, at most `cap` of them, a keyset page of at
    most `batch` rows at a time (two statements each)."""
    cursor, given = None, 0
    while given < cap:
        page = audit_page(filters, cursor, min(batch, cap - given), forget=True)
        if page.rows:
            yield page.rows
        given += len(page.rows)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def audit_rows(filters: AuditFilters, cap: int, batch: int = 1000) -> Iterator[AuditRow]:
    """Every row the filters select, newest first, at most `cap` of them (keyset batches)."""
    for rows in audit_row_batches(filters, cap, batch):
        yield from rows


def audit_count(filters: AuditFilters, cap: int) -> int:
    """How many rows the filters select, counting at most `cap`: a count of `cap` means at
    least that many. One bounded count per journal (each reads at most `cap` + 1 keys)."""
    total = 0
    for journal in (TASK_JOURNAL, ACCOUNT_JOURNAL):
        conditions = journal_conditions(journal, filters, None)
        if conditions is None:
            continue
        keys = select(journal.model.id).where(*conditions).limit(cap + 1).subquery()
        total += db.session.scalar(select(func.count()).select_from(keys)) or 0
    return min(total, cap)


def users_named(text: str, limit: int = 50, within: Optional[OrgUnit] = None) -> list[User]:
    """The accounts a filter's text names: the user name exactly, else the display name exactly.
    `within`: only accounts of that unit's subtree (a coordinator's filter names no one else's,
    so it cannot tell another province's names from names nobody has)."""
    text = (text or "").strip()
    if not text:
        return []
    scoped = [User.unit_id.in_(subtree_unit_ids(within))] if within is not None else []
    found = list(db.session.scalars(select(User).where(User.username == text, *scoped).limit(1)))
    if found:
        return found
    query = select(User).where(User.display_name == text, *scoped).order_by(User.id).limit(limit)
    return list(db.session.scalars(query))
