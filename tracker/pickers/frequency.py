"""The frequency picker's rules: 每周/每月/每季度/每半年/每年 with the day, to and from the RRULE
the duties store (tracker/duties/rules.py reads it).

The forms written here are the ones the seeds use: a rule without a day falls at the period's
end (Sunday; the last day of the month, quarter, half-year; 31 December)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Optional

from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l

WEEKLY, MONTHLY, QUARTERLY, HALF_YEARLY, YEARLY = "weekly", "monthly", "quarterly", "half_yearly", "yearly"
FREQUENCIES = (WEEKLY, MONTHLY, QUARTERLY, HALF_YEARLY, YEARLY)
FREQUENCY_LABELS = {
    WEEKLY: _l("Weekly"),
    MONTHLY: _l("Monthly"),
    QUARTERLY: _l("Quarterly"),
    HALF_YEARLY: _l("Half-yearly"),
    YEARLY: _l("Yearly"),
}
MONTH_INTERVALS = {MONTHLY: 1, QUARTERLY: 3, HALF_YEARLY: 6}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")  # day 1..7
WEEKDAY_LABELS = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
LAST_DAY = -1
MAX_MONTH_DAY = 28  # a day every month has: BYMONTHDAY=31 would skip the short months


class FrequencyError(ValueError):
    """The choice does not make a rule; the message says why (for the form)."""


@dataclass(frozen=True)
class FrequencyChoice:
    freq: str
    day: Optional[int] = None  # weekday 1..7 (weekly); day of month 1..28 or -1 (last); None: period end
    month: Optional[int] = None  # yearly only: 1..12


def _check_day(freq: str, day: Optional[int], month: Optional[int]) -> None:
    if day is None:
        return
    if freq == WEEKLY:
        if not 1 <= day <= 7:
            raise FrequencyError(_("Choose a day of the week."))
        return
    if day == LAST_DAY:
        return
    limit = calendar.monthrange(2001, month)[1] if freq == YEARLY and month else MAX_MONTH_DAY
    if not 1 <= day <= limit:
        raise FrequencyError(_("The day must be from 1 to %(n)d, or the last day.", n=limit))


def rrule_from_choice(freq: str, day: Optional[int] = None, month: Optional[int] = None) -> str:
    """The RRULE for a picked frequency ('' for no recurrence); FrequencyError if it makes none."""
    if not freq:
        return ""
    if freq not in FREQUENCIES:
        raise FrequencyError(_("Choose how often."))
    if month is not None and freq != YEARLY:
        month = None
    if freq == YEARLY and month is not None and not 1 <= month <= 12:
        raise FrequencyError(_("Choose a month."))
    if freq == YEARLY and day is not None and month is None:
        month = 12
    _check_day(freq, day, month)
    if freq == WEEKLY:
        return "FREQ=WEEKLY" if day is None else f"FREQ=WEEKLY;BYDAY={WEEKDAYS[day - 1]}"
    if freq == YEARLY:
        if month is None or (month == 12 and day in (None, 31, LAST_DAY)):
            return "FREQ=YEARLY"
        return f"FREQ=YEARLY;BYMONTH={month};BYMONTHDAY={LAST_DAY if day is None else day}"
    interval = MONTH_INTERVALS[freq]
    head = "FREQ=MONTHLY" if interval == 1 else f"FREQ=MONTHLY;INTERVAL={interval}"
    return f"{head};BYMONTHDAY={LAST_DAY if day is None else day}"


def _parts(rule: str) -> Optional[dict[str, str]]:
    body = (rule or "").strip()
    if body.upper().startswith("RRULE:"):
        body = body[6:]
    parts = {}
    for item in body.split(";"):
        key, sep, value = item.partition("=")
        if not sep or key.strip().upper() in parts:
            return None
        parts[key.strip().upper()] = value.strip().upper()
    return parts


def _int(text: Optional[str]) -> Optional[int]:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def choice_from_rrule(rule: str) -> Optional[FrequencyChoice]:
    """The picker's choice for a stored rule, or None if the picker cannot show it (another
    frequency, several days, COUNT/UNTIL...): such a rule stays as it is, edited as text."""
    parts = _parts(rule)
    if not parts:
        return None
    freq = parts.pop("FREQ", "")
    interval = _int(parts.pop("INTERVAL", "1"))
    if freq == "WEEKLY" and interval == 1:
        byday = parts.pop("BYDAY", None)
        if parts or (byday is not None and byday not in WEEKDAYS):
            return None
        return FrequencyChoice(WEEKLY, WEEKDAYS.index(byday) + 1 if byday else None)
    if freq == "MONTHLY":
        by_interval = {v: k for k, v in MONTH_INTERVALS.items()}
        day = _int(parts.pop("BYMONTHDAY", "-1"))
        if parts or interval not in by_interval or day is None:
            return None
        choice = FrequencyChoice(by_interval[interval], None if day == LAST_DAY else day)
    elif freq == "YEARLY" and interval == 1:
        month, day = _int(parts.pop("BYMONTH", "12")), _int(parts.pop("BYMONTHDAY", "-1"))
        if parts or month is None or day is None:
            return None
        if month == 12 and day in (31, LAST_DAY):
            return FrequencyChoice(YEARLY, None, None)
        choice = FrequencyChoice(YEARLY, None if day == LAST_DAY else day, month)
    else:
        return None
    try:
        _check_day(choice.freq, choice.day, choice.month)
    except FrequencyError:
        return None
    return choice


def describe_choice(choice: FrequencyChoice) -> str:
    """'每季度，最后一天' / '每周，星期一' / '每年，3月15日'."""
    label = str(FREQUENCY_LABELS[choice.freq])
    if choice.freq == WEEKLY:
        day = WEEKDAY_LABELS[(choice.day or 7) - 1]
        return _("%(freq)s, %(day)s", freq=label, day=day)
    if choice.freq == YEARLY:
        month = choice.month or 12
        if choice.day in (None, LAST_DAY):
            return _("%(freq)s, last day of month %(month)d", freq=label, month=month)
        return _("%(freq)s, month %(month)d day %(day)d", freq=label, month=month, day=choice.day)
    if choice.freq != MONTHLY:  # the quarter's (half-year's) last month
        if choice.day in (None, LAST_DAY):
            return _("%(freq)s, last day", freq=label)
        return _("%(freq)s, day %(day)d of its last month", freq=label, day=choice.day)
    if choice.day in (None, LAST_DAY):
        return _("%(freq)s, last day", freq=label)
    return _("%(freq)s, day %(day)d", freq=label, day=choice.day)


def rrule_text(rule: Optional[str]) -> str:
    """A stored rule in words for the pages (the rule itself if the picker cannot say it)."""
    if not rule:
        return ""
    choice = choice_from_rrule(rule)
    return describe_choice(choice) if choice else rule
