"""The global search: tasks found by their title, description, comments and evidence file names,
within what the user may see (tracker/auth/scope.py), ranked and paged.

Ranking: tasks whose title holds the term first, then those found only by their description, a
comment or an evidence file name. Title matches: the most recently changed task first. The
others: the most recent matching text first, i.e. the latest of the matching comment's time, the
matching file's upload time, and the task's last change when its description matched (a comment
or an upload does not change the task's row; ordering them by the task's own time would also make
the database look up every match's task before it could show the first page). Ties: the newest
id. The two groups are two queries ("tiers"): the title tier's page is read in the order of
ix_tasks_updated_at_id when the term is common and from the trigram or bigram index when it is
rare, whichever the planner finds cheaper; the counts are bounded (`COUNT_CAP` per tier: "1000+"
beyond).

The term: control characters dropped, spaces collapsed, at most `MAX_LENGTH` characters; under
`MIN_LENGTH` characters nothing is searched (a hint instead). It is matched as a substring:
`%`, `_` and the escape character are escaped, so they match themselves. A term without letters
that have a case (Chinese, digits) is matched with LIKE, otherwise ILIKE. On PostgreSQL a term
holding three letters or digits in a row is served by the pg_trgm GIN indexes, a shorter one
(most Chinese words: 质控, 院感) by the bigram indexes (tracker/models/search_indexes.py); on
SQLite the same conditions are a plain LIKE (lower() on both sides for ILIKE).

Statements: a hint runs none; a search runs (on PostgreSQL) one to turn JIT compilation off,
one for the scope's units (a user who does not see everything), one per tier for its first
`COUNT_CAP` + 1 keys in rank order (the tier's bounded count and every page's keys at once; the
others are not read when the title matches pass the cap), one for the page's tasks (plan and
owner unit joined in), and for the tasks found by something other than their title, one for
their matching comments and one for their matching file names: at most seven, whatever the page
size or number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import ColumnElement, Select, Text, and_, func, literal, not_, or_, select, union_all
from sqlalchemy import text as sql
from sqlalchemy.orm import joinedload

from tracker.auth.scope import visible_task_branches
from tracker.extensions import db
from tracker.forms import clean_text
from tracker.models import Evidence, JournalEntry, OrgUnit, Task, User
from tracker.pagination import Page

MIN_LENGTH = 2
MAX_LENGTH = 100
COUNT_CAP = 1000
PER_PAGE = 20

TITLE, DESCRIPTION, COMMENT, EVIDENCE = "title", "description", "comment", "evidence"
SOURCES = (TITLE, DESCRIPTION, COMMENT, EVIDENCE)

# how much text a snippet shows around the match
BEFORE, AFTER = 30, 60
ESCAPE = "\\"


def normalise_query(text: Optional[str]) -> str:
    """The term as searched: no control characters, single spaces, at most MAX_LENGTH characters."""
    cleaned = clean_text(text or "")
    return " ".join(cleaned.split())[:MAX_LENGTH].strip()


def like_pattern(term: str) -> str:
    """'%term%' with LIKE's wildcards and the escape character escaped (they match themselves)."""
    escaped = term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def has_case(term: str) -> bool:
    """Does the term hold a letter with an upper and a lower case (then ILIKE, else LIKE)?"""
    return term.lower() != term.upper()


def longest_word_run(term: str) -> int:
    """The most letters or digits in a row in `term` (pg_trgm makes trigrams of such runs)."""
    return max((len(run) for run in re.findall(r"[^\W_]+", term)), default=0)


def uses_trigrams(term: str) -> bool:
    """Can pg_trgm serve this term (a run of three letters or digits), or is it the bigrams'?"""
    return longest_word_run(term) >= 3


@dataclass(frozen=True)
class Matcher:
    """How a column is tested for the term. `finds`: the condition an index serves (the search's
    own queries); `holds`: the exact test alone, cheap on a row already read (a negation, a
    recheck). LIKE or ILIKE on the escaped pattern; on PostgreSQL, for a term pg_trgm cannot
    serve, `finds` is the bigram index's containment (tracker/models/search_indexes.py) and
    `holds` strpos (lower() on both sides when the term has letters with a case, as ILIKE does),
    so that the planner takes the bigram index (the trigram index would be read whole)."""

    term: str
    bigrams: bool = False

    def holds(self, column) -> ColumnElement[bool]:
        if self.bigrams:
            if has_case(self.term):
                return func.strpos(func.lower(column), func.lower(literal(self.term, Text))) > 0
            return func.strpos(column, literal(self.term, Text)) > 0
        pattern = like_pattern(self.term)
        if has_case(self.term):
            return column.ilike(pattern, escape=ESCAPE)
        return column.like(pattern, escape=ESCAPE)

    def finds(self, column) -> ColumnElement[bool]:
        if self.bigrams:
            pieces = func.search_bigrams(literal(self.term, Text))
            return and_(func.search_bigrams(column).op("@>")(pieces), self.holds(column))
        return self.holds(column)


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _matcher(term: str) -> Matcher:
    return Matcher(term, bigrams=_postgresql() and not uses_trigrams(term))


# -- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A piece of text around the match: `before`, the matched text, `after` (plain text; the
    template escapes each and marks the match)."""

    before: str
    match: str
    after: str


@dataclass
class Hit:
    task: Task
    source: str  # where it matched: title, description, comment, evidence
    snippet: Snippet


@dataclass
class SearchResult:
    term: str
    hint: str = ""  # "empty" | "short": nothing was searched
    page: Page = field(default_factory=lambda: Page([], 1, PER_PAGE, 0))

    @property
    def searched(self) -> bool:
        return not self.hint


def snippet(text: str, term: str, before: int = BEFORE, after: int = AFTER) -> Snippet:
    """The text around the first (case-insensitive) occurrence of `term`; the beginning of the
    text, unmarked, when Python does not find it where the database did (case rules differ)."""
    text = " ".join((text or "").split())
    found = re.search(re.escape(term), text, re.IGNORECASE) if term else None
    if found is None:
        limit = before + after
        return Snippet(text[:limit] + ("…" if len(text) > limit else ""), "", "")
    start, end = found.span()
    head = max(0, start - before)
    tail = min(len(text), end + after)
    return Snippet(
        ("…" if head > 0 else "") + text[head:start],
        text[start:end],
        text[end:tail] + ("…" if tail < len(text) else ""),
    )


# -- the queries ---------------------------------------------------------------------------------


def _other_matches(match: Matcher):
    """(task_id, at) of every description, comment and evidence file name holding the term, with
    the time of that text: the task's last change for its description, the comment's time, the
    file's upload time (each part served by its own index)."""
    return union_all(
        select(Task.id.label("task_id"), Task.updated_at.label("at")).where(match.finds(Task.description)),
        select(JournalEntry.task_id, JournalEntry.at).where(
            JournalEntry.action == "comment", match.finds(JournalEntry.comment)
        ),
        select(Evidence.task_id, Evidence.created_at).where(
            Evidence.original_name.is_not(None), match.finds(Evidence.original_name)
        ),
    )


@dataclass
class Scope:
    """What the user may see, as the scoping rule's branches (tracker/auth/scope.py) with the
    subtree's unit ids listed (a list the planner estimates and combines with the search's
    indexes, where a subquery is a join of unknown size). `wide`: everything, or a subtree of at
    least half of all units (the national commission's coordinators)."""

    branches: list
    wide: bool

    @property
    def clause(self) -> ColumnElement[bool]:
        return self.branches[0] if len(self.branches) == 1 else or_(*self.branches)


WIDE_SHARE = 0.5


def _scope(user: User) -> Scope:
    if user.sees_everything:
        return Scope(visible_task_branches(user), wide=True)
    every_unit = select(func.count()).select_from(OrgUnit).scalar_subquery()
    rows = db.session.execute(select(OrgUnit.id, every_unit).where(OrgUnit.path.like(f"{user.unit.path}%"))).all()
    ids = [unit_id for unit_id, _ in rows]
    wide = bool(rows) and len(ids) >= WIDE_SHARE * rows[0][1]
    return Scope(visible_task_branches(user, ids), wide=wide)


def _title_keys(scope: Scope, match: Matcher) -> Select:
    """(id, at) of the tasks whose title holds the term, `at` their last change: one SELECT per
    branch of the scoping rule, joined by UNION ALL (the branches are disjoint)."""
    parts = [
        select(Task.id, Task.updated_at.label("at")).where(branch, match.finds(Task.title)) for branch in scope.branches
    ]
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _other_keys(scope: Scope, match: Matcher) -> Select:
    """(id, at) of the tasks found by their description, a comment or a file name and not by
    their title, `at` the time of their latest matching text.

    A wide scope: the matches first, one row per task, newest first, then their tasks by primary
    key, checked against the scope; the order is kept through that join (a nested loop), so the
    database looks up tasks only until the cap is reached. A narrow scope (a province, a
    county): its tasks read once (a materialised CTE: the owner index, a few hundred to some
    tens of thousands of rows) and matched by hash against the matches, where looking up every
    match of the whole country by primary key would take far longer."""
    found = _other_matches(match).subquery()
    if scope.wide:
        newest = func.max(found.c.at).label("at")
        latest = (
            select(found.c.task_id, newest)
            .group_by(found.c.task_id)
            .order_by(newest.desc(), found.c.task_id.desc())
            .subquery()
        )
        return (
            select(Task.id, latest.c.at)
            .join(latest, latest.c.task_id == Task.id)
            .where(scope.clause, not_(match.holds(Task.title)))
        )
    visible = union_all(*[select(Task.id, Task.title).where(branch) for branch in scope.branches])
    visible = visible.cte("scope_tasks").prefix_with("MATERIALIZED", dialect="postgresql")
    return (
        select(visible.c.id, func.max(found.c.at).label("at"))
        .join(found, found.c.task_id == visible.c.id)
        .where(not_(match.holds(visible.c.title)))
        .group_by(visible.c.id)
    )


def _ranked_keys(keys: Select, cap: int) -> list[tuple[int, object]]:
    """The first `cap` + 1 (id, at) of a tier, newest first (then the newest id): one statement
    gives both the tier's bounded count and every page's keys."""
    sub = keys.subquery()
    ordered = select(sub.c.id, sub.c.at).order_by(sub.c.at.desc(), sub.c.id.desc()).limit(cap + 1)
    return [tuple(row) for row in db.session.execute(ordered)]


def _tasks(ids: list[int]) -> list[Task]:
    """These tasks in this order, plan and owner joined in (one statement)."""
    if not ids:
        return []
    query = select(Task).where(Task.id.in_(ids)).options(joinedload(Task.plan), joinedload(Task.owner_unit))
    found = {task.id: task for task in db.session.scalars(query).unique()}
    return [found[i] for i in ids if i in found]


def search_tasks(
    user: User, text: Optional[str], page: int = 1, per_page: int = PER_PAGE, cap: int = COUNT_CAP
) -> SearchResult:
    """The tasks `user` may see that hold `text`, ranked, one page of them (see the module)."""
    term = normalise_query(text)
    if not term:
        return SearchResult(term, hint="empty")
    if len(term) < MIN_LENGTH:
        return SearchResult(term, hint="short")
    per_page = max(1, min(per_page, 100))
    if _postgresql():
        # no JIT compilation: at national scale the planner's cost of a search passes
        # jit_above_cost and compiling would take longer than the search (this transaction only)
        db.session.execute(sql("SET LOCAL jit = off"))
    match = _matcher(term)
    scope = _scope(user)
    title_ids = [i for i, _at in _ranked_keys(_title_keys(scope, match), cap)]
    if len(title_ids) > cap:  # the title matches alone fill the pages: the others are not reached
        title_ids, other_ids, capped = title_ids[:cap], [], True
    else:
        other_ids = [i for i, _at in _ranked_keys(_other_keys(scope, match), cap)]
        capped = len(other_ids) > cap
        other_ids = other_ids[:cap]
    ranked = [(i, TITLE) for i in title_ids] + [(i, "other") for i in other_ids]
    total = len(ranked)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    shown = ranked[(page - 1) * per_page : page * per_page]
    tasks = {t.id: t for t in _tasks([i for i, _tier in shown])}
    hits = [
        Hit(tasks[i], TITLE, snippet(tasks[i].title, term, BEFORE * 2, AFTER * 2))
        for i, tier in shown
        if tier == TITLE and i in tasks
    ]
    hits.extend(_explain_others([tasks[i] for i, tier in shown if tier != TITLE and i in tasks], term, match))
    return SearchResult(term, page=Page(hits, page, per_page, total, capped))


def _explain_others(tasks: list[Task], term: str, match) -> list[Hit]:
    """Where each task found by something other than its title matched: its description, else
    its latest matching comment, else a matching evidence file name (two statements at most)."""
    hits: dict[int, Hit] = {}
    rest = []
    for task in tasks:
        if task.description and re.search(re.escape(term), task.description, re.IGNORECASE):
            hits[task.id] = Hit(task, DESCRIPTION, snippet(task.description, term))
        else:
            rest.append(task)
    if rest:
        ids = [t.id for t in rest]
        comments = db.session.execute(
            select(JournalEntry.task_id, JournalEntry.comment)
            .where(JournalEntry.task_id.in_(ids), JournalEntry.action == "comment", match.holds(JournalEntry.comment))
            .order_by(JournalEntry.id.desc())
            .limit(len(ids) * 5)
        ).all()
        for task_id, body in comments:
            if task_id not in hits:
                task = next(t for t in rest if t.id == task_id)
                hits[task_id] = Hit(task, COMMENT, snippet(body, term))
        missing = [t.id for t in rest if t.id not in hits]
        if missing:
            names = db.session.execute(
                select(Evidence.task_id, Evidence.original_name)
                .where(Evidence.task_id.in_(missing), match.holds(Evidence.original_name))
                .order_by(Evidence.id.desc())
                .limit(len(missing) * 5)
            ).all()
            for task_id, name in names:
                if task_id not in hits:
                    task = next(t for t in rest if t.id == task_id)
                    hits[task_id] = Hit(task, EVIDENCE, snippet(name, term))
    for task in tasks:  # matched by the database's rule only (e.g. a case Python folds otherwise)
        if task.id not in hits:
            hits[task.id] = Hit(task, DESCRIPTION, snippet(task.description, term))
    return [hits[t.id] for t in tasks]
