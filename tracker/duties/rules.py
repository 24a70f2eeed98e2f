"""Recurrence rules (iCalendar RRULE, read by python-dateutil) and the dates they give.

A duty's rule says how often; the dates fall at period ends unless the rule names the days:
a monthly rule without BYMONTHDAY/BYDAY is due on the last day of each month, a yearly rule
on 31 December, a weekly rule on Sunday. Month intervals count from a December, so
``FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1`` is due at quarter ends (31 March, 30 June, 30
September, 31 December) and ``INTERVAL=6`` at half-year ends, whatever the duty's start.
A rule may not carry its own DTSTART: the duty's start (or a fixed anchor) sets it; COUNT counts
from that start.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, YEARLY, rrule, rrulestr

# Anchors used when a duty has no start of its own (any fixed day works: it only sets phase).
EPOCH_YEAR_END = date(1999, 12, 31)
EPOCH_SUNDAY = date(2000, 1, 2)
DAY_PARTS = ("BYMONTHDAY", "BYDAY", "BYYEARDAY", "BYWEEKNO", "BYSETPOS", "BYEASTER")
MAX_RULE_LENGTH = 200


class RuleError(ValueError):
    """The text is not a usable RRULE; the message says why."""


def _parts(text: str) -> dict[str, str]:
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts = {}
    for item in body.split(";"):
        if "=" in item:
            key, _, value = item.partition("=")
            parts[key.strip().upper()] = value.strip()
    return parts


def normalise(text: str) -> str:
    """The rule as stored: no 'RRULE:' prefix, no spaces at the ends."""
    body = (text or "").strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:].strip()
    return body


def check_rule(text: str) -> str:
    """The normalised rule, or RuleError. Only rules with a frequency of a day or more."""
    body = normalise(text)
    if not body:
        raise RuleError("empty rule")
    if len(body) > MAX_RULE_LENGTH:
        raise RuleError(f"longer than {MAX_RULE_LENGTH} characters")
    if "DTSTART" in body.upper() or "\n" in body:
        raise RuleError("give the rule only (FREQ=...), without DTSTART")
    try:
        rule = rrulestr(body, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        raise RuleError(str(exc)) from exc
    if not isinstance(rule, rrule) or rule._freq not in (YEARLY, MONTHLY, WEEKLY, DAILY):
        raise RuleError("the frequency must be DAILY, WEEKLY, MONTHLY or YEARLY")
    return body


def build_rule(text: str, begin: Optional[date]) -> rrule:
    """The dateutil rule for `text` anchored at a period end on or before `begin`."""
    body = check_rule(text)
    parts = _parts(body)
    freq = parts.get("FREQ", "").upper()
    has_days = any(key in parts for key in DAY_PARTS)
    if freq == "MONTHLY" and not has_days:
        body += ";BYMONTHDAY=-1"
    if freq == "WEEKLY":
        base = begin or EPOCH_SUNDAY
        anchor = base - timedelta(days=(base.weekday() + 1) % 7)  # the Sunday on or before
    elif freq == "DAILY":
        anchor = (begin or EPOCH_SUNDAY) - timedelta(days=1)
    else:  # MONTHLY, YEARLY: 31 December before the start
        anchor = date((begin.year - 1) if begin else EPOCH_YEAR_END.year, 12, 31)
    return rrulestr(body, dtstart=datetime(anchor.year, anchor.month, anchor.day))


def dates_between(rule: rrule, start: date, end: date) -> list[date]:
    """The rule's dates from `start` to `end`, both included."""
    if end < start:
        return []
    return [
        d.date()
        for d in rule.between(
            datetime(start.year, start.month, start.day), datetime(end.year, end.month, end.day), inc=True
        )
    ]


def nth_on_or_after(rule: rrule, day: date, n: int) -> Optional[date]:
    """The n-th date (1-based) of the rule on or after `day`, or None if the rule ends before."""
    moment = datetime(day.year, day.month, day.day) - timedelta(microseconds=1)
    found = None
    for _ in range(n):
        found = rule.after(moment, inc=False)
        if found is None:
            return None
        moment = found
    return found.date()


def previous_date(rule: rrule, day: date) -> Optional[date]:
    found = rule.before(datetime(day.year, day.month, day.day), inc=False)
    return found.date() if found else None


def describe(text: str, begin: Optional[date], today: date, count: int = 4) -> list[date]:
    """The next `count` dates of a rule from `today` (for a preview)."""
    rule = build_rule(text, begin)
    dates = []
    day = max(today, begin) if begin else today
    while len(dates) < count:
        nxt = nth_on_or_after(rule, day, 1)
        if nxt is None:
            break
        dates.append(nxt)
        day = nxt + timedelta(days=1)
    return dates
