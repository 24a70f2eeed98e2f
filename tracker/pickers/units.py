"""Finding units by what people know of them: the full name, a short name (北京卫健委 for
北京市卫生健康委: the characters in order), a part of the name, or the code.

A text of Latin letters (no Chinese) is also read as pinyin initials, as Chinese users type them
into a picker: "nx" or "nxwjw" finds 宁夏回族自治区卫生健康委 (initials nxhzzzqwsjkw,
org_units.initials): by prefix first, then with its letters in order from the first one (the
short name's initials: 宁夏卫健委). Not anywhere in the initials ('%wjw%'): two or three letters
match inside nearly every name (yy: every 医院), and a pattern that keeps its first letter stays
on the index (ix_org_units_initials, a range of one letter) where '%...%' reads every unit.

The units table is small (about 3,000 rows nationally): one bounded statement per search, two
when the text can be initials and the names and codes left room (the second on the index)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from tracker.extensions import db
from tracker.initials import INITIALS_MAX
from tracker.models.org import UNIT_LEVELS, OrgUnit, User

SEARCH_LIMIT = 20
QUERY_MAX = 60
# the usual short forms of words in unit names (the characters-in-order match covers the rest)
SHORT_FORMS = {"卫健委": "卫生健康委", "卫计委": "卫生计生委", "质控": "质量控制"}


CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
NOT_INITIALS = re.compile(r"[^a-z0-9]+")
INITIALS_MIN_LETTERS = 2


def typed_initials(text: str) -> str:
    """The pinyin initials `text` may be ("NX wjw" → "nxwjw"), or "" when it cannot be: it holds
    Chinese characters, or fewer than two letters (a code's digits alone are no initials)."""
    if not text or CJK.search(text):
        return ""
    key = NOT_INITIALS.sub("", unicodedata.normalize("NFKC", text).lower())[:INITIALS_MAX]
    return key if sum(ch.isalpha() for ch in key) >= INITIALS_MIN_LETTERS else ""


LIST_SEPARATORS = re.compile(r"[,，、;；\n]+")


def split_unit_list(text: str) -> list[str]:
    """'P11-QC, 上海市肿瘤质控中心、P12' → the codes or names one by one."""
    return [part.strip() for part in LIST_SEPARATORS.split(text or "") if part.strip()]


@dataclass(frozen=True)
class UnitLookup:
    """What a typed text resolved to: the unit, or why there is none."""

    unit: Optional[OrgUnit]
    problem: str = ""  # "" | "unknown" | "ambiguous"


def scope_clause(user: User):
    """The units `user` may choose: everything for leaders and admins, else their own subtree."""
    if user.sees_everything:
        return None
    return OrgUnit.path.like(f"{user.unit.path}%")  # the path index (digits and slashes only)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _in_order_pattern(text: str) -> str:
    """'%北%京%卫%健%委%': the characters of a short name, in order, anything between."""
    return "%" + "%".join(_escape_like(ch) for ch in text if not ch.isspace()) + "%"


def search_units(user: User, text: str, limit: int = SEARCH_LIMIT, include_retired: bool = False) -> list[OrgUnit]:
    """Units in `user`'s scope matching `text`: exact code or name first, then names containing
    it, then names holding its characters in order (a short name); each group by level and tree
    position. One statement, at most `limit` rows."""
    text = " ".join((text or "").split())[:QUERY_MAX]
    query = select(OrgUnit)
    scope = scope_clause(user)
    if scope is not None:
        query = query.where(scope)
    if not include_retired:
        query = query.where(OrgUnit.retired_at.is_(None))
    level_rank = case({level: n for n, level in enumerate(UNIT_LEVELS)}, value=OrgUnit.level, else_=len(UNIT_LEVELS))
    if not text:
        return list(db.session.scalars(query.order_by(level_rank, OrgUnit.path).limit(limit)))
    variants = {text, *(text.replace(short, full) for short, full in SHORT_FORMS.items() if short in text)}
    code = func.upper(OrgUnit.code)
    exact = or_(code == text.upper(), OrgUnit.name == text)
    contains = or_(
        code.startswith(text.upper(), autoescape=True), *(OrgUnit.name.contains(v, autoescape=True) for v in variants)
    )
    in_order = or_(*(OrgUnit.name.like(_in_order_pattern(v), escape="\\") for v in variants))
    rank = case((exact, 0), (contains, 1), else_=2)
    found = list(
        db.session.scalars(
            query.where(or_(exact, contains, in_order)).order_by(rank, level_rank, OrgUnit.path).limit(limit)
        )
    )
    initials = typed_initials(text)
    if initials and len(found) < limit:
        found += _by_initials(query, initials, level_rank, [u.id for u in found], limit - len(found))
    return found


def _by_initials(query, initials: str, level_rank: ColumnElement, found_ids: list[int], limit: int) -> list[OrgUnit]:
    """The units (of `query`: the scope, not retired) whose initials start with `initials`, then
    those holding its letters in order from the first (nxwjw: n…x…w…j…w); not those of `found_ids`
    (already found by name or code). One statement on the initials index: both patterns begin
    with the same fixed letter."""
    prefix = OrgUnit.initials.startswith(initials)  # letters and digits only: nothing to escape
    in_order = OrgUnit.initials.like(initials[0] + "".join(f"%{ch}" for ch in initials[1:]) + "%")
    query = query.where(in_order)
    if found_ids:
        query = query.where(OrgUnit.id.not_in(found_ids))
    rank = case((prefix, 0), else_=1)
    return list(db.session.scalars(query.order_by(rank, level_rank, OrgUnit.path).limit(limit)))


def resolve_unit(text: str, user: Optional[User] = None) -> UnitLookup:
    """The unit a form field names: its code (any case) or its exact full name. With `user`, only
    units in that user's scope count. A name two units share is ambiguous (give the code)."""
    text = " ".join((text or "").split())
    if not text:
        return UnitLookup(None, "")
    query = select(OrgUnit).where(or_(func.upper(OrgUnit.code) == text.upper(), OrgUnit.name == text))
    if user is not None and (scope := scope_clause(user)) is not None:
        query = query.where(scope)
    found = list(db.session.scalars(query.limit(3)))
    by_code = [u for u in found if u.code.upper() == text.upper()]
    if by_code:
        return UnitLookup(by_code[0])
    if len(found) == 1:
        return UnitLookup(found[0])
    return UnitLookup(None, "ambiguous" if found else "unknown")


def resolve_units(texts: list[str], user: Optional[User] = None) -> tuple[list[OrgUnit], list[str]]:
    """Several codes or full names (the co-owners): the units found, and the texts that named
    none (or two). One statement."""
    wanted = [" ".join(t.split()) for t in texts if t and t.strip()]
    if not wanted:
        return [], []
    uppers = {t.upper() for t in wanted}
    query = select(OrgUnit).where(or_(func.upper(OrgUnit.code).in_(uppers), OrgUnit.name.in_(wanted)))
    if user is not None and (scope := scope_clause(user)) is not None:
        query = query.where(scope)
    rows = list(db.session.scalars(query.limit(len(wanted) * 3 + 10)))
    units, missing = [], []
    for text in wanted:
        by_code = [u for u in rows if u.code.upper() == text.upper()]
        by_name = [u for u in rows if u.name == text]
        match = by_code[:1] or (by_name if len(by_name) == 1 else [])
        if match:
            if match[0] not in units:
                units.append(match[0])
        else:
            missing.append(text)
    return units, missing


def some_unit_named_like(text: str) -> bool:
    """Does any unit's name contain `text` (a filter's part of a name)? One bounded statement."""
    return (
        db.session.scalar(select(OrgUnit.id).where(OrgUnit.name.contains(text, autoescape=True)).limit(1)) is not None
    )
