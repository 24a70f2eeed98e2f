"""The global search: tasks found by their title, description, comments and evidence file names,
within what the user may see (tracker/auth/scope.py), ranked and paged.

Ranking: tasks whose title holds the term first, then those found only by their description, a
comment or an evidence file name; within each, the most recently changed first (then the newest
id). The two groups are two queries ("tiers"), each ordered by (updated_at, id), so a tier's page
is read in the order of ix_tasks_updated_at_id when the term is common and from the trigram
indexes when it is rare, whichever the planner finds cheaper; the counts are bounded
(`COUNT_CAP` per tier: "1000+" beyond).

The term: control characters dropped, spaces collapsed, at most `MAX_LENGTH` characters; under
`MIN_LENGTH` characters nothing is searched (a hint instead). It is matched as a substring:
`%`, `_` and the escape character are escaped, so they match themselves. A term without letters
that have a case (Chinese, digits) is matched with LIKE, otherwise ILIKE. On PostgreSQL a term
holding three letters or digits in a row is served by the pg_trgm GIN indexes, a shorter one
(most Chinese words: 质控, 院感) by the bigram indexes (tracker/models/search_indexes.py); on
SQLite the same conditions are a plain LIKE (lower() on both sides for ILIKE).

Statements: a hint runs none; a search runs (on PostgreSQL) one to turn JIT compilation off,
one for the scope's units (a user who does not see everything), one count per tier (the title
matches alone when they pass the cap: the others are not reached), one or two for the page's
rows (plan and owner unit joined in), and for the rows found by something other than their
title, one for their matching comments and one for their matching file names: at most eight,
whatever the page size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import ColumnElement, Select, Text, and_, any_, func, literal, not_, select, union, union_all
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


def _other_matches(match: Matcher) -> Select:
    """Ids of the tasks whose description, a comment or an evidence file name holds the term
    (each part served by its own index)."""
    return union(
        select(Task.id).where(match.finds(Task.description)),
        select(JournalEntry.task_id).where(JournalEntry.action == "comment", match.finds(JournalEntry.comment)),
        select(Evidence.task_id).where(Evidence.original_name.is_not(None), match.finds(Evidence.original_name)),
    )


def _tier_conditions(match: Matcher, everything: bool = True) -> dict[str, ColumnElement[bool]]:
    """The two tiers: the title holds the term; something else does and the title does not.

    For a user who sees everything, on PostgreSQL, the others' ids are gathered first into an
    array (an InitPlan) which the tasks' primary key serves: as `IN (subquery)` the planner
    would join them to a scan of every task. For a user with a scope, `IN (subquery)`: the
    planner starts from the scope's units (a county's few hundred tasks) or from the matches,
    whichever is fewer, where the array would look every match up first."""
    others = _other_matches(match)
    if everything and _postgresql():
        found_elsewhere = Task.id == any_(func.array(others.scalar_subquery()))
    else:
        found_elsewhere = Task.id.in_(others)
    return {"title": match.finds(Task.title), "other": and_(found_elsewhere, not_(match.holds(Task.title)))}


def _scope(user: User) -> list[ColumnElement[bool]]:
    """The scoping rule's branches (tracker/auth/scope.py) with the user's units given by their
    ids (one statement): a list the planner estimates and combines with the search's indexes,
    where a subquery would be a join of unknown size."""
    if user.sees_everything:
        return visible_task_branches(user)
    ids = list(db.session.scalars(select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"))))
    return visible_task_branches(user, ids)


def _tier_keys(branches: list, condition) -> Select:
    """(id, updated_at) of the tasks of one tier within the scope: one SELECT per branch of the
    scoping rule, joined by UNION ALL (the branches are disjoint)."""
    parts = [select(Task.id, Task.updated_at).where(branch, condition) for branch in branches]
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _bounded_count(keys: Select, cap: int):
    """How many rows `keys` gives, reading at most `cap` + 1 of them (a scalar subquery)."""
    compound = keys.subquery()
    limited = select(compound.c.id).limit(cap + 1).subquery()
    return select(func.count()).select_from(limited).scalar_subquery()


_NEWEST_FIRST = (Task.updated_at.desc(), Task.id.desc())


def _tier_rows(branches: list, condition, limit: int, offset: int) -> list[Task]:
    """One tier's tasks in rank order (most recently changed first), plan and owner joined in.
    Seeing everything: one SELECT in that order. Else the page's keys from the branches' UNION
    ALL first, then their tasks."""
    if len(branches) == 1:
        query = select(Task).where(branches[0], condition).order_by(*_NEWEST_FIRST).limit(limit).offset(offset)
    else:
        keys = _tier_keys(branches, condition).subquery()
        page_keys = (
            select(keys.c.id).order_by(keys.c.updated_at.desc(), keys.c.id.desc()).limit(limit).offset(offset)
        ).subquery()
        query = select(Task).join(page_keys, page_keys.c.id == Task.id).order_by(*_NEWEST_FIRST)
    query = query.options(joinedload(Task.plan), joinedload(Task.owner_unit))
    return list(db.session.scalars(query).unique())


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
    tiers = _tier_conditions(match, everything=user.sees_everything)
    branches = _scope(user)
    title_count = db.session.scalar(select(_bounded_count(_tier_keys(branches, tiers["title"]), cap)))
    title_capped = title_count > cap
    if title_capped:  # the title matches alone fill the pages: the others are not reached (nor counted)
        total, capped, title_total = cap, True, cap
    else:
        other_count = db.session.scalar(select(_bounded_count(_tier_keys(branches, tiers["other"]), cap)))
        title_total = title_count
        total, capped = title_count + min(other_count, cap), other_count > cap
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    offset = (page - 1) * per_page
    hits: list[Hit] = []
    if offset < title_total:
        for task in _tier_rows(branches, tiers["title"], min(per_page, title_total - offset), offset):
            hits.append(Hit(task, TITLE, snippet(task.title, term, BEFORE * 2, AFTER * 2)))
    room = per_page - len(hits)
    if room > 0 and not title_capped and total > title_total:
        others = _tier_rows(branches, tiers["other"], room, max(0, offset - title_total))
        hits.extend(_explain_others(others, term, match))
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
