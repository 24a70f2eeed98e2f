"""Form fields for the pickers: a unit named by its code or exact full name, and the frequency
fields that write an RRULE. The macros in templates/_pickers.html render them."""

from __future__ import annotations

from typing import Optional

from tracker.lazy_text import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice
from wtforms import SelectField, StringField
from wtforms.validators import ValidationError

from tracker.pickers.frequency import (
    FREQUENCIES,
    FREQUENCY_LABELS,
    LAST_DAY,
    WEEKDAY_LABELS,
    FrequencyChoice,
    FrequencyError,
    choice_from_rrule,
    rrule_from_choice,
)
from tracker.pickers.units import resolve_unit, some_unit_named_like


MAX_UNIT_TEXT = 200  # the input's maxlength


def unit_problem_text(problem: str, text: str) -> str:
    if problem == "ambiguous":
        return _l("Several units are called '%(text)s': choose one from the list or give its code.", text=text)
    return _l("No unit found: %(text)s", text=text)


class UnitField(StringField):
    """A unit typed as its code or its exact full name (the picker fills in the code).

    `data` is the text; after validation `unit` is the OrgUnit (None when empty). A text naming
    no unit is this field's error. `legacy_ids`: a bare number no code matches is read as the
    unit's id (what the old select sent; a form kept open across the update still posts it)."""

    def __init__(self, label=None, validators=None, legacy_ids: bool = False, partial: bool = False, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.legacy_ids = legacy_ids
        self.partial = partial  # a filter: a part of a name is fine when some unit's name has it
        self.unit = None

    def process_data(self, value):
        if hasattr(value, "code"):  # an OrgUnit given as the object's attribute or a default
            self.unit = value
            value = value.code
        super().process_data(value)

    def set_unit(self, unit) -> None:
        self.unit = unit
        self.data = unit.code if unit is not None else ""

    def pre_validate(self, form):
        text = " ".join((self.data or "").split())
        self.data = text
        if not text:
            self.unit = None
            return
        if len(text) > MAX_UNIT_TEXT:  # no unit's name is this long; and no LIKE over it
            self.unit = None
            raise ValidationError(_l("At most %(n)d characters.", n=MAX_UNIT_TEXT))
        found = resolve_unit(text)
        if found.unit is None and self.legacy_ids and text.isascii() and text.isdigit() and len(text) <= 18:
            # a row id (64 bits at most: a longer number would overflow the database's integer)
            from tracker.extensions import db
            from tracker.models import OrgUnit

            unit = db.session.get(OrgUnit, int(text))
            if unit is not None:
                self.unit = unit
                return
        if found.unit is None and self.partial and found.problem == "unknown" and some_unit_named_like(text):
            self.unit = None
            return
        if found.unit is None:
            self.unit = None
            raise ValidationError(unit_problem_text(found.problem, text))
        self.unit = found.unit

    @property
    def display(self) -> str:
        """What the visible input shows: the chosen unit's full name, else what was typed."""
        return self.unit.name if self.unit is not None else (self.data or "")


def _int_or_none(value) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


CUSTOM = "custom"


class FrequencyFields:
    """Mixin for a form that writes an RRULE with the picker: `freq`, `weekday`, `day`, `month`
    and `rule` (the rule as text, for a rule the picker cannot show). `rule_value()` after
    validation. A post with only `rule` (the old form, the API) is read as a typed rule."""

    freq = SelectField(_l("How often"), choices=[], validate_choice=True, default="")
    weekday = SelectField(_l("Day of the week"), choices=[], validate_choice=True, default="")
    day = SelectField(_l("Day of the month"), choices=[], validate_choice=True, default="")
    month = SelectField(_l("Month (yearly)"), choices=[], validate_choice=True, default="")

    def fill_frequency_choices(self) -> None:
        self.freq.choices = (
            [SelectChoice("", _l("Not recurring"))]
            + [SelectChoice(f, FREQUENCY_LABELS[f]) for f in FREQUENCIES]
            + [SelectChoice(CUSTOM, _l("Other (typed rule)"))]
        )
        self.weekday.choices = [SelectChoice("", _l("Sunday (the week's end)"))] + [
            SelectChoice(str(n), label) for n, label in enumerate(WEEKDAY_LABELS, start=1)
        ]
        self.day.choices = [SelectChoice("", _l("Last day"))] + [
            SelectChoice(str(n), _l("Day %(n)d", n=n)) for n in range(1, 32)
        ]
        self.month.choices = [SelectChoice("", _l("December (the year's end)"))] + [
            SelectChoice(str(n), _l("Month %(n)d", n=n)) for n in range(1, 13)
        ]

    def show_rule(self, rule: str) -> None:
        """Set the fields from a stored rule (GET)."""
        choice = choice_from_rrule(rule) if rule else None
        if not rule:
            self.freq.data = ""
        elif choice is None:
            self.freq.data = CUSTOM
        else:
            self.freq.data = choice.freq
            if choice.freq == "weekly":
                self.weekday.data = str(choice.day) if choice.day else ""
            else:
                self.day.data = "" if choice.day in (None, LAST_DAY) else str(choice.day)
                self.month.data = str(choice.month) if choice.month and choice.month != 12 else ""
        self.rule.data = rule or ""

    def frequency_choice(self) -> Optional[FrequencyChoice]:
        freq = self.freq.data or ""
        if freq in ("", CUSTOM):
            return None
        day = _int_or_none(self.weekday.data) if freq == "weekly" else _int_or_none(self.day.data)
        return FrequencyChoice(freq, day, _int_or_none(self.month.data) if freq == "yearly" else None)

    def rule_value(self) -> str:
        """The RRULE the form asks for ('' for none)."""
        if (self.freq.data or "") == CUSTOM or (not self.freq.raw_data and (self.rule.data or "").strip()):
            return (self.rule.data or "").strip()
        choice = self.frequency_choice()
        if choice is None:
            return ""
        return rrule_from_choice(choice.freq, choice.day, choice.month)

    def validate_day(self, field):
        choice = self.frequency_choice()
        if choice is None:
            return
        try:
            rrule_from_choice(choice.freq, choice.day, choice.month)
        except FrequencyError as exc:
            raise ValidationError(str(exc)) from exc
