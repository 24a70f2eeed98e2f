"""Dates and cadences in a sentence: deadlines, date ranges and recurring duties.

`find_dates(sentence, year)` returns the DateHits of one sentence in reading order. `year` is
the plan's year, used where the text gives a month without a year ("11月底", "年底前").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Optional

MONTHS_EN = {
    name: index
    for index, name in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
MONTHS_EN.update({name[:3]: index for name, index in list(MONTHS_EN.items())})

RRULES = {
    "weekly": "FREQ=WEEKLY",
    "monthly": "FREQ=MONTHLY;BYMONTHDAY=-1",
    "quarterly": "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1",
    "half-yearly": "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1",
    "yearly": "FREQ=YEARLY",
}
# Shortest first: "季度或半年" is recorded as the shorter cadence.
CADENCE_WORDS = [
    ("weekly", r"每周|每星期|周例会|院周会|weekly|every week"),
    ("monthly", r"每月|每个月|月度|按月|monthly|every month"),
    ("quarterly", r"每季度?|季度|按季|quarterly|every quarter"),
    ("half-yearly", r"每半年|(?<![上下前后近])半年|half[- ]year|semi-annual"),
    ("yearly", r"每年|每一年|逐年|以年度为单位|按年度|annually|every year|on an annual basis|yearly"),
]
DUTY_VERBS = re.compile(
    r"上报|报送|提交|上交|报至|完成|印发|召开|汇总|形成|启动|部署|开展|组织|submit|report|complete|issue"
)
DEADLINE_WORDS = re.compile(
    r"前|之前|以前|为止|截止|完成|上报|报送|提交|上交|报至|报|印发|召开|汇总|形成|before|by the end|no later"
)


# "完成时限：6月底", "时间：2017年4月下旬": a date standing as the item's label is its deadline.
TIME_LABEL = re.compile(r"(?:完成时限|完成时间|完成期限|时间节点|截止时间|截止日期|时限|时间)\s*[:：]\s*(?:于|在)?\s*$")


@dataclass
class DateHit:
    due: date
    start: Optional[date] = None
    text: str = ""
    deadline: bool = False  # "前", "底前", a reporting verb: a due date, not a mention
    assumed_year: bool = False  # the text gives no year: the document's year was taken


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _safe(year: int, month: int, day: int) -> Optional[date]:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _part_day(year: int, month: int, part: str) -> date:
    if part == "上旬":
        return date(year, month, 10)
    if part == "中旬":
        return date(year, month, 20)
    return month_end(year, month)


_Y = r"(\d{4})\s*年"
_M = r"(\d{1,2})\s*月"
_PART = r"(上旬|中旬|下旬|底|末|份)?"
_PATTERNS = [
    # 2016年11月25日至12月10日 / 2016年12月至2017年11月 / 2023年5-6月
    (
        "range_full",
        re.compile(
            rf"{_Y}{_M}(?:(\d{{1,2}})\s*[日号])?\s*(?:至|到|—|–|-|~|～)\s*(?:(\d{{4}})\s*年)?\s*{_M}(?:(\d{{1,2}})\s*[日号])?"
        ),
    ),
    ("range_months", re.compile(rf"{_Y}(\d{{1,2}})\s*(?:-|—|–|至|到|~|～)\s*(\d{{1,2}})\s*月")),
    # 2017年6月、11月中旬
    ("month_list", re.compile(rf"{_Y}{_M}\s*[、和及]\s*{_M}{_PART}")),
    # 2016年12月12和2017年6月12日 (the 日 of the first is lost): day followed by 和/、
    ("ymd", re.compile(rf"{_Y}{_M}(\d{{1,2}})(?:\s*[日号]|(?=[和、及至,，]|\s*$))")),
    ("ym", re.compile(rf"{_Y}{_M}{_PART}")),
    ("y_end", re.compile(rf"{_Y}\s*(?:年底|年末|底|末|年内)")),
    # 到2025年，基本建成… (a target by a year): the year's end
    ("by_year", re.compile(r"(?<=[到至])\s*((?:19|20)\d{2})\s*年(?=\s*[，,、])")),
    # 2023年上半年 / 下半年, (2024年)第一季度 / 一季度 (not 每季度: a cadence)
    ("half", re.compile(r"(?:(\d{4})\s*年)?(?<!每)(上半年|下半年)")),
    (
        "quarter_list",
        re.compile(r"(?:(\d{4})\s*年)?(?<![每个])第?([一二三四1-4])\s*(?:、|至|到|-|—|和)\s*第?([一二三四1-4])\s*季度"),
    ),
    ("quarter", re.compile(r"(?:(\d{4})\s*年)?(?<![每个])第?([一二三四1-4])\s*季度")),
    # 2—4月, 5月至6月 without a year: the document's year
    (
        "range_months_noyear",
        re.compile(r"(?<![\d年])(\d{1,2})\s*(?:月\s*)?(?:-|—|–|至|到|~|～)\s*(\d{1,2})\s*月(?:份|底|末)?"),
    ),
    ("md", re.compile(rf"(?<![\d年]){_M}(\d{{1,2}})\s*[日号]")),
    ("m_part", re.compile(rf"(?<![\d年]){_M}(上旬|中旬|下旬|底|末)")),
    ("this_year", re.compile(r"年底前|年底|年内|今年|本年度|年末")),
]
_EN_RANGE = re.compile(r"\(?\b([A-Z][a-z]+)\.?\s*(\d{4})?\s*(?:-|–|—|to)\s*([A-Z][a-z]+)\.?\s*(\d{4})\)?")
_EN_DATE = re.compile(
    r"\b(?:by|before|until|no later than)\s+(?:the end of\s+)?([A-Z][a-z]+)\s+(?:(\d{1,2}),?\s+)?(\d{4})"
)


def find_dates(sentence: str, year: Optional[int]) -> list[DateHit]:
    hits: list[tuple[int, DateHit]] = []
    taken: list[tuple[int, int]] = []

    def free(match) -> bool:
        return not any(a < match.end() and match.start() < b for a, b in taken)

    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(sentence):
            if not free(match):
                continue
            found = _hit(kind, match, year)
            if not found:
                continue
            taken.append((match.start(), match.end()))
            for hit in found:
                tail = sentence[match.end() : match.end() + 8]
                hit.text = match.group(0)
                hit.deadline = (
                    bool(re.match(r"\s*(?:前|之前|以前|底前|为止|内)", tail))
                    or bool(TIME_LABEL.search(sentence[max(0, match.start() - 8) : match.start()]))
                    or kind in ("y_end", "by_year", "this_year", "m_part", "half", "quarter", "quarter_list")
                    or bool(DEADLINE_WORDS.search(sentence[match.end() : match.end() + 12]))
                    or bool(DUTY_VERBS.search(sentence[match.end() :]))
                )
                hits.append((match.start(), hit))
    for match in _EN_RANGE.finditer(sentence):
        first, second = MONTHS_EN.get(match.group(1).lower()), MONTHS_EN.get(match.group(3).lower())
        end_year = int(match.group(4))
        if first and second and free(match):
            start_year = int(match.group(2)) if match.group(2) else (end_year if first <= second else end_year - 1)
            hits.append(
                (match.start(), DateHit(month_end(end_year, second), date(start_year, first, 1), match.group(0), True))
            )
            taken.append((match.start(), match.end()))
    for match in _EN_DATE.finditer(sentence):
        month = MONTHS_EN.get(match.group(1).lower())
        if month and free(match):
            day = int(match.group(2)) if match.group(2) else None
            due = _safe(int(match.group(3)), month, day) if day else month_end(int(match.group(3)), month)
            if due:
                hits.append((match.start(), DateHit(due, None, match.group(0), True)))
    return [hit for _, hit in sorted(hits, key=lambda pair: pair[0])]


def _hit(kind: str, m, year: Optional[int]) -> list[DateHit]:
    g = m.groups()
    if kind == "range_full":
        y1, m1, d1, y2, m2, d2 = int(g[0]), int(g[1]), g[2], g[3], int(g[4]), g[5]
        y2 = int(y2) if y2 else (y1 if m2 >= m1 else y1 + 1)
        start = _safe(y1, m1, int(d1)) if d1 else _safe(y1, m1, 1)
        due = _safe(y2, m2, int(d2)) if d2 else (month_end(y2, m2) if 1 <= m2 <= 12 else None)
        return [DateHit(due, start)] if start and due and due >= start else []
    if kind == "range_months":
        y, m1, m2 = int(g[0]), int(g[1]), int(g[2])
        if 1 <= m1 <= m2 <= 12:
            return [DateHit(month_end(y, m2), date(y, m1, 1))]
        return []
    if kind == "month_list":
        y, m1, m2, part = int(g[0]), int(g[1]), int(g[2]), g[3] or "底"
        if 1 <= m1 <= 12 and 1 <= m2 <= 12:
            return [DateHit(_part_day(y, m1, part)), DateHit(_part_day(y, m2, part))]
        return []
    if kind == "ymd":
        due = _safe(int(g[0]), int(g[1]), int(g[2]))
        return [DateHit(due)] if due else []
    if kind == "ym":
        y, month, part = int(g[0]), int(g[1]), g[2] or ""
        if not 1 <= month <= 12:
            return []
        return [DateHit(_part_day(y, month, part), date(y, month, 1) if part in ("", "份") else None)]
    if kind in ("y_end", "by_year"):
        return [DateHit(date(int(g[0]), 12, 31))]
    if kind == "quarter_list" and (g[0] or year):
        y = int(g[0]) if g[0] else year
        q1, q2 = ("一二三四".index(q) + 1 if q in "一二三四" else int(q) for q in (g[1], g[2]))
        if q1 > q2:
            return []
        return [DateHit(month_end(y, 3 * q2), date(y, 3 * q1 - 2, 1), assumed_year=not g[0])]
    if kind in ("half", "quarter") and (g[0] or year):
        y = int(g[0]) if g[0] else year
        if kind == "half":
            first = g[1] == "上半年"
            found = DateHit(date(y, 6, 30) if first else date(y, 12, 31), date(y, 1, 1) if first else date(y, 7, 1))
        else:
            q = "一二三四".index(g[1]) + 1 if g[1] in "一二三四" else int(g[1])
            found = DateHit(month_end(y, 3 * q), date(y, 3 * q - 2, 1))
        found.assumed_year = not g[0]
        return [found]
    if year is None:
        return []
    if kind == "range_months_noyear":
        m1, m2 = int(g[0]), int(g[1])
        if 1 <= m1 <= m2 <= 12:
            return [DateHit(month_end(year, m2), date(year, m1, 1), assumed_year=True)]
        return []
    if kind == "md":
        due = _safe(year, int(g[0]), int(g[1]))
        return [DateHit(due, assumed_year=True)] if due else []
    if kind == "m_part":
        month = int(g[0])
        return [DateHit(_part_day(year, month, g[1]), assumed_year=True)] if 1 <= month <= 12 else []
    if kind == "this_year":
        return [DateHit(date(year, 12, 31), assumed_year=True)]
    return []


def find_cadence(sentence: str) -> Optional[tuple[str, str]]:
    """(name, RRULE) of the shortest cadence the sentence names, or None."""
    lowered = sentence.lower()
    for name, words in CADENCE_WORDS:
        if re.search(words, lowered):
            return name, RRULES[name]
    return None
