"""The pinyin initials of a unit's name, which the unit picker matches as Chinese users type them:
宁夏回族自治区卫生健康委 → "nxhzzzqwsjkw", 第2人民医院 → "d2rmyy", P11质控中心 → "p11zkzx".

Each Chinese character gives the first letter of its reading (pypinyin, which reads a polyphone
by the words around it: 重庆 → "cq"); letters and digits stay, lower-cased; anything else (spaces,
brackets, punctuation) is dropped; full-width letters and digits count as their
ordinary forms (NFKC). Below the models (tracker/models/org.py keeps the column in step
with the name), importing nothing of the app. pypinyin's dictionaries take a quarter of a second
to load: they are loaded on the first name, not when the app starts."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

INITIALS_MAX = 100  # the column's length (org_units.initials)
_NOT_KEPT = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1)
def _reader():
    from pypinyin import Style, lazy_pinyin

    return lambda text: lazy_pinyin(text, style=Style.FIRST_LETTER)


def name_initials(name: str | None) -> str:
    """The initials of `name`: lower-case letters and digits, at most INITIALS_MAX."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    return _NOT_KEPT.sub("", "".join(_reader()(text)).lower())[:INITIALS_MAX]
