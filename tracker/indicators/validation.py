"""The layout of an indicator form and the rules its values obey.

Pure functions over definitions and submitted text, used alike by the web form (inline, as the
user types), the save and submit services and the Excel import:

- numbers only; a count is a whole number of 0 or more, an amount is not negative;
- a percentage lies between 0 and 100;
- a breakdown is never above its total: a "其中" row (a subset, same unit) is at most its total,
  and split rows (三级医院 / 二级医院, 病种 / 技术) add up to at most their total;
- a derived rate's numerator is at most its denominator;
- an enumerated row (病种1, 技术2 …) of a classified indicator names an ICD-10 or ICD-9-CM-3 code;
- on submission every top-level field is required.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterable, Mapping, Optional

from tracker.lazy_text import lazy_gettext as _l

from tracker.models import IndicatorDefinition

NUMERIC_TYPES = ("count", "amount", "percent")
MAX_NUMBER = 1e15
MAX_TEXT = 2000
ENUMERATED = re.compile(r"\d+$")
CODE_PATTERNS = {
    "ICD10": (re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$"), "I63.9"),
    "ICD9-CM3": (re.compile(r"^[0-9]{2}(\.[0-9]{1,2})?$"), "45.23"),
}


@dataclass
class Field:
    """One row of the form, derived from a definition."""

    definition: IndicatorDefinition
    parent: Optional["Field"] = None
    children: list["Field"] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.definition.code

    @property
    def type(self) -> str:
        return self.definition.type

    @property
    def derived(self) -> bool:
        """A rate computed from a numerator and a denominator on the same form, never typed."""
        return bool(self.definition.numerator_code and self.definition.denominator_code)

    @property
    def enumerated(self) -> bool:
        """One of a list of items (病种1, 技术2 …): named by the reporter, bounded by nothing."""
        return bool(self.parent and ENUMERATED.search(self.definition.breakdown or ""))

    @property
    def classification(self) -> str:
        return self.definition.classification if self.enumerated else ""

    @property
    def has_item(self) -> bool:
        return self.enumerated

    @property
    def is_list_head(self) -> bool:
        return any(child.enumerated for child in self.children)

    @property
    def required(self) -> bool:
        """Top-level fields are required on submission; breakdowns and item lists are not."""
        return self.parent is None and not self.derived and not self.is_list_head

    @property
    def bound(self) -> Optional[str]:
        """How the row relates to its total: 'subset' (其中 …), 'split' (per grade …) or None."""
        parent = self.parent
        if parent is None or self.enumerated or parent.derived or self.derived:
            return None
        if parent.definition.unit != self.definition.unit or self.type not in NUMERIC_TYPES or parent.type != self.type:
            return None
        if self.definition.breakdown:
            return "split" if self.type in ("count", "amount") else None
        return "subset"


@dataclass
class Group:
    name: str
    fields: list[Field]

    @property
    def rows(self) -> int:
        return len(self.fields)


@dataclass
class Layout:
    """The rows of a form in the order of the definitions, grouped as in the annex."""

    groups: list[Group]
    by_code: dict[str, Field]

    @property
    def fields(self) -> list[Field]:
        return [f for g in self.groups for f in g.fields]


def build_layout(definitions: Iterable[IndicatorDefinition]) -> Layout:
    ordered = sorted(definitions, key=lambda d: (d.position, d.id or 0))
    by_id = {d.id: Field(d) for d in ordered}
    for item in by_id.values():
        parent = by_id.get(item.definition.parent_id)
        if parent is not None:
            item.parent = parent
            parent.children.append(item)
    groups: list[Group] = []
    for item in by_id.values():
        name = item.definition.group or ""
        if groups and groups[-1].name == name:
            groups[-1].fields.append(item)
        else:
            groups.append(Group(name, [item]))
    return Layout(groups, {f.code: f for f in by_id.values()})


# --- values ---------------------------------------------------------------------------------


def value_name(code: str) -> str:
    return f"v-{code}"


def item_name(code: str) -> str:
    return f"i-{code}"


def format_number(value: Optional[float]) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def parse_number(raw) -> tuple[Optional[float], Optional[str]]:
    """A number from what the user typed (1,234.5 and a trailing % are accepted); None if empty."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, str(_l("Enter a number."))
    if isinstance(raw, (int, float)):
        if math.isnan(raw) or math.isinf(raw):
            return None, str(_l("Enter a number."))
        return float(raw), None
    text = str(raw).strip().replace(",", "").replace("，", "").replace(" ", "")
    if text.endswith("%"):
        text = text[:-1]
    if text == "":
        return None, None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, str(_l("'%(value)s' is not a number.", value=str(raw).strip()[:40]))
    if not number.is_finite():
        return None, str(_l("'%(value)s' is not a number.", value=str(raw).strip()[:40]))
    return float(number), None


def check_number(item: Field, raw) -> tuple[Optional[float], Optional[str]]:
    """The rules of one numeric field taken alone."""
    value, error = parse_number(raw)
    if error or value is None:
        return value, error
    if abs(value) > MAX_NUMBER:
        return None, str(_l("This number is too large."))
    if item.type == "count":
        if value < 0 or not value.is_integer():
            return None, str(_l("A count is a whole number of 0 or more."))
    elif item.type == "amount":
        if value < 0:
            return None, str(_l("An amount cannot be negative."))
    elif item.type == "percent":
        if not 0 <= value <= 100:
            return None, str(_l("A percentage lies between 0 and 100."))
    return value, None


def check_item(item: Field, raw) -> tuple[str, Optional[str]]:
    text = ("" if raw is None else str(raw)).strip()
    if not text:
        return "", None
    if len(text) > 200:
        return "", str(_l("At most %(n)d characters.", n=200))
    pattern = CODE_PATTERNS.get(item.classification)
    if pattern:
        text = text.upper()
        if not pattern[0].match(text):
            return "", str(
                _l(
                    "'%(code)s' is not a valid %(system)s code (for example %(example)s).",
                    code=text[:40],
                    system=item.classification,
                    example=pattern[1],
                )
            )
    return text, None


@dataclass
class FormValues:
    """Cleaned values by code, and the errors by code (of the value) or 'item:CODE'."""

    numbers: dict[str, Optional[float]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def display(self, code: str) -> str:
        if code in self.texts:
            return self.texts[code]
        return format_number(self.numbers.get(code))


def check_form(layout: Layout, raw: Mapping[str, object], complete: bool = False) -> FormValues:
    """Check every field of `raw` (keyed v-CODE / i-CODE); with `complete`, required ones too."""
    result = FormValues()
    for item in layout.fields:
        code = item.code
        if item.derived:
            continue
        if item.type == "text":
            text = ("" if raw.get(value_name(code)) is None else str(raw.get(value_name(code)))).strip()
            if len(text) > MAX_TEXT:
                result.errors[code] = str(_l("At most %(n)d characters.", n=MAX_TEXT))
            result.texts[code] = text[:MAX_TEXT]
        else:
            value, error = check_number(item, raw.get(value_name(code)))
            result.numbers[code] = value
            if error:
                result.errors[code] = error
        if item.has_item:
            text, error = check_item(item, raw.get(item_name(code)))
            result.items[code] = text
            if error:
                result.errors[f"item:{code}"] = error
    _check_breakdowns(layout, result)
    _compute_rates(layout, result)
    if complete:
        for item in layout.fields:
            if item.required and item.code not in result.errors and not result.display(item.code):
                result.errors[item.code] = str(_l("Required."))
    return result


def _check_breakdowns(layout: Layout, result: FormValues) -> None:
    for parent in layout.fields:
        total = result.numbers.get(parent.code)
        if total is None or parent.code in result.errors:
            continue
        split_sum, split_names = 0.0, []
        for child in parent.children:
            value = result.numbers.get(child.code)
            if value is None or child.code in result.errors or child.bound is None:
                continue
            if value > total:
                result.errors[child.code] = str(
                    _l(
                        "Above its total, %(name)s (%(total)s).",
                        name=parent.definition.name,
                        total=format_number(total),
                    )
                )
            elif child.bound == "split":
                split_sum += value
                split_names.append(child)
        if len(split_names) > 1 and split_sum > total + 1e-9:
            for child in split_names:
                result.errors[child.code] = str(
                    _l(
                        "The breakdowns add up to %(sum)s, above the total %(total)s.",
                        sum=format_number(split_sum),
                        total=format_number(total),
                    )
                )


def _compute_rates(layout: Layout, result: FormValues) -> None:
    for item in layout.fields:
        if not item.derived:
            continue
        numerator = result.numbers.get(item.definition.numerator_code)
        denominator = result.numbers.get(item.definition.denominator_code)
        result.numbers[item.code] = rate(numerator, denominator)
        if numerator is not None and denominator is not None and numerator > denominator:
            code = item.definition.numerator_code
            if code not in result.errors:
                result.errors[code] = str(
                    _l(
                        "Above its denominator (%(value)s): the rate %(name)s would exceed 100 %%.",
                        value=format_number(denominator),
                        name=item.definition.name,
                    )
                )


def rate(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    """A percentage from a numerator and a denominator (None when either is missing or 0)."""
    if numerator is None or not denominator:
        return None
    return round(numerator * 100.0 / denominator, 4)


def meets_target(definition: IndicatorDefinition, value: Optional[float]) -> Optional[bool]:
    """Whether `value` meets the definition's target; None when there is no target or value."""
    op, target = definition.target_op, definition.target_value
    if value is None or not op or target is None:
        return None
    if op == "between":
        return target <= value <= (definition.target_max if definition.target_max is not None else target)
    return {
        ">=": value >= target,
        ">": value > target,
        "<=": value <= target,
        "<": value < target,
        "=": abs(value - target) < 1e-9,
    }[op]


def target_text(definition: IndicatorDefinition) -> str:
    op, value = definition.target_op, definition.target_value
    if not op or value is None:
        return ""
    unit = definition.unit or ""
    if op == "between":
        return f"{format_number(value)}–{format_number(definition.target_max)} {unit}".strip()
    symbol = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "=": "="}[op]
    return f"{symbol} {format_number(value)} {unit}".strip()
