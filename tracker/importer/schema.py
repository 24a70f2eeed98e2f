"""Validation of seed files (units catalogue and plans) into plain data, before any write.

`parse_units_file` and `parse_plan_file` read one YAML file each and return dataclasses, or
raise `SeedError` carrying every problem found as "file: path: what is wrong".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Optional

import yaml
from dateutil.rrule import rrulestr

from tracker.models.indicators import INDICATOR_TYPES, TARGET_OPS
from tracker.models.org import UNIT_KINDS, UNIT_LEVELS

PLAN_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PHASE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
UNIT_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
INDICATOR_CODE = re.compile(r"^[A-Z0-9_]+$")


class SeedError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class Selector:
    kind: Optional[str] = None
    level: Optional[str] = None
    under: Optional[str] = None

    def as_dict(self) -> dict:
        return {k: v for k, v in (("kind", self.kind), ("level", self.level), ("under", self.under)) if v}


@dataclass
class UnitSpec:
    code: str
    name: str
    kind: str
    level: str
    parent_code: Optional[str]
    example: bool
    position: int


@dataclass
class PhaseSpec:
    key: str
    name: str
    start: Optional[date]
    end: Optional[date]


@dataclass
class IndicatorSpec:
    code: str
    name: str
    unit: str
    type: str
    target_op: Optional[str]
    target_value: Optional[float]
    target_max: Optional[float]
    levels: list
    task_ref: Optional[str]
    group: str
    parent_code: Optional[str]
    breakdown: str
    classification: str
    numerator: Optional[str]
    denominator: Optional[str]


@dataclass
class TaskSpec:
    ref: str
    title: str
    description: str = ""
    owner_code: Optional[str] = None
    owner_each: Optional[Selector] = None
    co_owner_codes: list = field(default_factory=list)
    co_owner_each: list = field(default_factory=list)
    start: Optional[date] = None
    due: Optional[date] = None
    deliverable: str = ""
    phase: Optional[str] = None
    weight: float = 1.0
    recurrence: Optional[str] = None
    notes: str = ""
    children: list["TaskSpec"] = field(default_factory=list)


@dataclass
class PlanSpec:
    key: str
    title: str
    doc_number: str
    issuer: str
    issuer_unit: Optional[str]
    issued: Optional[date]
    period_start: Optional[date]
    period_end: Optional[date]
    source: str
    repairs: list
    notes: str
    phases: list[PhaseSpec]
    indicators: list[IndicatorSpec]
    tasks: list[TaskSpec]

    def walk(self):
        stack = list(reversed(self.tasks))
        while stack:
            task = stack.pop()
            yield task
            stack.extend(reversed(task.children))


class _Checker:
    """Collects problems with their location instead of stopping at the first one."""

    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{self.filename}: {path}: {message}")

    def mapping(self, value: Any, path: str) -> Optional[dict]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_type(value)}")
            return None
        return value

    def items(self, value: Any, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {_type(value)}")
            return []
        return value

    def text(self, data: dict, key: str, path: str, required: bool = False) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(f"{path}.{key}" if path else key, "is required")
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.fail(f"{path}.{key}" if path else key, f"expected text, got {_type(value)}")
            return ""
        return value.strip()

    def date(self, data: dict, key: str, path: str) -> Optional[date]:
        value = data.get(key)
        where = f"{path}.{key}" if path else key
        if value is None or value == "":
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                self.fail(where, f"'{value}' is not a valid date (YYYY-MM-DD)")
                return None
        self.fail(where, f"expected a date (YYYY-MM-DD), got {_type(value)}")
        return None

    def unknown_keys(self, data: dict, allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.fail(f"{path}.{key}" if path else str(key), "unknown field")

    def raise_if_failed(self) -> None:
        if self.problems:
            raise SeedError(self.problems)


def _type(value: Any) -> str:
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        int: "a number",
        float: "a number",
        bool: "true/false",
        type(None): "nothing",
    }.get(type(value), type(value).__name__)


def read_yaml(path: Path):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as exc:
        raise SeedError([f"{path.name}: cannot read file: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise SeedError([f"{path.name}: not UTF-8 text"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise SeedError([f"{path.name}: {where}: invalid YAML ({getattr(exc, 'problem', exc)})"]) from exc


# --- units -------------------------------------------------------------------------------

UNIT_FIELDS = {"code", "name", "kind", "level", "example", "children"}


def parse_units_file(path: Path) -> list[UnitSpec]:
    check = _Checker(path.name)
    data = check.mapping(read_yaml(path), "(file)")
    check.raise_if_failed()
    check.unknown_keys(data, {"units"}, "")
    specs: list[UnitSpec] = []
    seen: dict[str, str] = {}

    def visit(items: Any, where: str, parent: Optional[str]) -> None:
        for index, raw in enumerate(check.items(items, where)):
            here = f"{where}[{index}]"
            item = check.mapping(raw, here)
            if item is None:
                continue
            check.unknown_keys(item, UNIT_FIELDS, here)
            code = check.text(item, "code", here, required=True)
            name = check.text(item, "name", here, required=True)
            kind = check.text(item, "kind", here, required=True)
            level = check.text(item, "level", here, required=True)
            if code and not UNIT_CODE.match(code):
                check.fail(f"{here}.code", f"'{code}' is not a valid code (A-Z, 0-9, -)")
            if code in seen:
                check.fail(f"{here}.code", f"duplicate code '{code}' (first at {seen[code]})")
            seen.setdefault(code, here)
            if kind and kind not in UNIT_KINDS:
                check.fail(f"{here}.kind", f"unknown kind '{kind}' (one of {', '.join(UNIT_KINDS)})")
            if level and level not in UNIT_LEVELS:
                check.fail(f"{here}.level", f"unknown level '{level}' (one of {', '.join(UNIT_LEVELS)})")
            example = item.get("example", False)
            if not isinstance(example, bool):
                check.fail(f"{here}.example", "expected true or false")
            specs.append(UnitSpec(code, name, kind, level, parent, bool(example), index))
            visit(item.get("children"), f"{here}.children", code)

    visit(data.get("units"), "units", None)
    if not data.get("units"):
        check.fail("units", "is required")
    check.raise_if_failed()
    return specs


# --- plans -------------------------------------------------------------------------------

PLAN_FIELDS = {
    "key",
    "title",
    "doc_number",
    "issuer",
    "issuer_unit",
    "issued",
    "period",
    "source",
    "repairs",
    "notes",
    "phases",
    "indicators",
    "tasks",
}
TASK_FIELDS = {
    "ref",
    "title",
    "description",
    "owner",
    "co_owners",
    "start",
    "due",
    "deliverable",
    "phase",
    "weight",
    "recurrence",
    "notes",
    "children",
}
INDICATOR_FIELDS = {
    "code",
    "name",
    "unit",
    "type",
    "target",
    "levels",
    "task",
    "group",
    "parent",
    "breakdown",
    "classification",
    "numerator",
    "denominator",
}


def parse_plan_file(path: Path, unit_codes: set[str]) -> PlanSpec:
    """Validate one plan file against the known unit codes; raise SeedError on any problem."""
    check = _Checker(path.name)
    data = check.mapping(read_yaml(path), "(file)")
    check.raise_if_failed()
    check.unknown_keys(data, PLAN_FIELDS, "")

    key = check.text(data, "key", "", required=True)
    if key and not PLAN_KEY.match(key):
        check.fail("key", f"'{key}' is not a valid plan key (a-z, 0-9, -)")
    issuer_unit = check.text(data, "issuer_unit", "") or None
    if issuer_unit and issuer_unit not in unit_codes:
        check.fail("issuer_unit", f"unknown unit code '{issuer_unit}'")
    period = data.get("period") or {}
    if period and check.mapping(period, "period") is None:
        period = {}
    period_start = check.date(period, "start", "period")
    period_end = check.date(period, "end", "period")
    if period_start and period_end and period_end < period_start:
        check.fail("period", "ends before it starts")
    repairs = [str(r) for r in check.items(data.get("repairs"), "repairs")]

    phases = _parse_phases(check, data.get("phases"))
    phase_keys = {p.key for p in phases}
    tasks = _parse_tasks(check, data.get("tasks"), "tasks", unit_codes, phase_keys, {})
    if not data.get("tasks"):
        check.fail("tasks", "is required")
    refs = set()
    stack = list(tasks)
    while stack:
        task = stack.pop()
        refs.add(task.ref)
        stack.extend(task.children)
    indicators = _parse_indicators(check, data.get("indicators"), refs)

    check.raise_if_failed()
    return PlanSpec(
        key=key,
        title=check.text(data, "title", "", required=True),
        doc_number=check.text(data, "doc_number", ""),
        issuer=check.text(data, "issuer", ""),
        issuer_unit=issuer_unit,
        issued=check.date(data, "issued", ""),
        period_start=period_start,
        period_end=period_end,
        source=check.text(data, "source", ""),
        repairs=repairs,
        notes=check.text(data, "notes", ""),
        phases=phases,
        indicators=indicators,
        tasks=tasks,
    )


def _parse_phases(check: _Checker, raw: Any) -> list[PhaseSpec]:
    phases = []
    seen = set()
    for index, item in enumerate(check.items(raw, "phases")):
        here = f"phases[{index}]"
        item = check.mapping(item, here)
        if item is None:
            continue
        check.unknown_keys(item, {"key", "name", "start", "end"}, here)
        key = check.text(item, "key", here, required=True)
        if key and not PHASE_KEY.match(key):
            check.fail(f"{here}.key", f"'{key}' is not a valid phase key")
        if key in seen:
            check.fail(f"{here}.key", f"duplicate phase key '{key}'")
        seen.add(key)
        start, end = check.date(item, "start", here), check.date(item, "end", here)
        if start and end and end < start:
            check.fail(here, "ends before it starts")
        phases.append(PhaseSpec(key, check.text(item, "name", here, required=True), start, end))
    return phases


def _parse_owner(check: _Checker, raw: Any, where: str, unit_codes: set[str]):
    """A unit code -> (code, None); a selector {each: {...}} -> (None, Selector)."""
    if isinstance(raw, str):
        code = raw.strip()
        if code not in unit_codes:
            check.fail(where, f"unknown unit code '{code}'")
        return code, None
    if isinstance(raw, dict) and set(raw) == {"each"} and isinstance(raw["each"], dict):
        each = raw["each"]
        check.unknown_keys(each, {"kind", "level", "under"}, f"{where}.each")
        selector = Selector(each.get("kind"), each.get("level"), each.get("under"))
        if selector.kind is None and selector.level is None:
            check.fail(f"{where}.each", "needs a kind or a level")
        if selector.kind is not None and selector.kind not in UNIT_KINDS:
            check.fail(f"{where}.each.kind", f"unknown kind '{selector.kind}'")
        if selector.level is not None and selector.level not in UNIT_LEVELS:
            check.fail(f"{where}.each.level", f"unknown level '{selector.level}'")
        if selector.under is not None and selector.under not in unit_codes:
            check.fail(f"{where}.each.under", f"unknown unit code '{selector.under}'")
        return None, selector
    check.fail(where, f"expected a unit code or {{each: {{kind, level}}}}, got {_type(raw)}")
    return None, None


def _parse_tasks(check, raw, where, unit_codes, phase_keys, seen_refs) -> list[TaskSpec]:
    tasks = []
    for index, item in enumerate(check.items(raw, where)):
        here = f"{where}[{index}]"
        item = check.mapping(item, here)
        if item is None:
            continue
        ref = check.text(item, "ref", here, required=True)
        if ref:
            here = f"{here}(ref {ref})"
        check.unknown_keys(item, TASK_FIELDS, here)
        if ref:
            if "@" in ref:
                check.fail(f"{here}.ref", "'@' is reserved for cascaded tasks")
            if ref in seen_refs:
                check.fail(f"{here}.ref", f"duplicate ref '{ref}' (first at {seen_refs[ref]})")
            seen_refs.setdefault(ref, here)
        task = TaskSpec(ref=ref, title=check.text(item, "title", here, required=True))
        task.description = check.text(item, "description", here)
        task.deliverable = check.text(item, "deliverable", here)
        task.notes = check.text(item, "notes", here)
        if "owner" in item:
            task.owner_code, task.owner_each = _parse_owner(check, item["owner"], f"{here}.owner", unit_codes)
        for c_index, co in enumerate(check.items(item.get("co_owners"), f"{here}.co_owners")):
            code, selector = _parse_owner(check, co, f"{here}.co_owners[{c_index}]", unit_codes)
            if code:
                task.co_owner_codes.append(code)
            if selector:
                task.co_owner_each.append(selector)
        task.start = check.date(item, "start", here)
        task.due = check.date(item, "due", here)
        if task.start and task.due and task.due < task.start:
            check.fail(f"{here}.due", "is before the start date")
        phase = item.get("phase")
        if phase is not None:
            if not isinstance(phase, str) or phase not in phase_keys:
                check.fail(f"{here}.phase", f"unknown phase '{phase}'")
            else:
                task.phase = phase
        weight = item.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            check.fail(f"{here}.weight", "expected a number greater than 0")
        else:
            task.weight = float(weight)
        recurrence = item.get("recurrence")
        if recurrence is not None:
            if not isinstance(recurrence, str):
                check.fail(f"{here}.recurrence", f"expected an RRULE text, got {_type(recurrence)}")
            else:
                try:
                    rrulestr(recurrence, dtstart=None)
                    task.recurrence = recurrence.strip()
                except (ValueError, TypeError) as exc:
                    check.fail(f"{here}.recurrence", f"invalid RRULE '{recurrence}' ({exc})")
        task.children = _parse_tasks(check, item.get("children"), f"{here}.children", unit_codes, phase_keys, seen_refs)
        tasks.append(task)
    return tasks


def _number(check: _Checker, value: Any, where: str) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        check.fail(where, f"expected a number, got {_type(value)}")
        return None
    return float(value)


def _parse_indicators(check: _Checker, raw: Any, refs: set[str]) -> list[IndicatorSpec]:
    result = []
    codes = set()
    items = check.items(raw, "indicators")
    all_codes = {i.get("code") for i in items if isinstance(i, dict)}
    for index, item in enumerate(items):
        here = f"indicators[{index}]"
        item = check.mapping(item, here)
        if item is None:
            continue
        check.unknown_keys(item, INDICATOR_FIELDS, here)
        code = check.text(item, "code", here, required=True)
        if code:
            here = f"{here}(code {code})"
            if not INDICATOR_CODE.match(code):
                check.fail(f"{here}.code", f"'{code}' is not a valid code (A-Z, 0-9, _)")
            if code in codes:
                check.fail(f"{here}.code", f"duplicate indicator code '{code}'")
            codes.add(code)
        kind = check.text(item, "type", here, required=True)
        if kind and kind not in INDICATOR_TYPES:
            check.fail(f"{here}.type", f"unknown type '{kind}' (one of {', '.join(INDICATOR_TYPES)})")
        op = value = maximum = None
        target = item.get("target")
        if target is not None and check.mapping(target, f"{here}.target") is not None:
            op = target.get("op")
            if op not in TARGET_OPS:
                check.fail(f"{here}.target.op", f"unknown comparison '{op}'")
            elif op == "between":
                value = _number(check, target.get("min"), f"{here}.target.min")
                maximum = _number(check, target.get("max"), f"{here}.target.max")
                if value is not None and maximum is not None and maximum < value:
                    check.fail(f"{here}.target", "max is below min")
            else:
                value = _number(check, target.get("value"), f"{here}.target.value")
        levels = check.items(item.get("levels"), f"{here}.levels")
        for level in levels:
            if level not in UNIT_LEVELS:
                check.fail(f"{here}.levels", f"unknown level '{level}'")
        task_ref = check.text(item, "task", here) or None
        if task_ref and task_ref not in refs:
            check.fail(f"{here}.task", f"no task with ref '{task_ref}'")
        linked = {}
        for key in ("parent", "numerator", "denominator"):
            linked[key] = check.text(item, key, here) or None
            if linked[key] and linked[key] not in all_codes:
                check.fail(f"{here}.{key}", f"no indicator with code '{linked[key]}'")
        result.append(
            IndicatorSpec(
                code=code,
                name=check.text(item, "name", here, required=True),
                unit=check.text(item, "unit", here),
                type=kind,
                target_op=op,
                target_value=value,
                target_max=maximum,
                levels=list(levels),
                task_ref=task_ref,
                group=check.text(item, "group", here),
                parent_code=linked["parent"],
                breakdown=check.text(item, "breakdown", here),
                classification=check.text(item, "classification", here),
                numerator=linked["numerator"],
                denominator=linked["denominator"],
            )
        )
    return result
