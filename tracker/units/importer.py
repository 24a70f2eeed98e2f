"""Units imported from a sheet: every row checked against the catalogue and the rest of the file
first; all problems named by row and column; nothing stored unless the whole file is right.

A row's parent is a unit of the catalogue (by code or full name) or a unit of an earlier row
of the same file (by its code), so a whole prefecture with its counties and hospitals comes in
one file, parents above their children.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker.audit import journal as audit
from tracker.extensions import db
from tracker.models import OrgUnit, User
from tracker.models.org import UNIT_KINDS, UNIT_LEVELS
from tracker.sheets import Column, SheetRefused, read_table, template_workbook
from tracker.units.service import (
    UNIT_KIND_LABELS,
    UNIT_LEVEL_LABELS,
    WEB,
    NotAllowed,
    code_problem,
    may_manage_units,
    name_problem,
)
from tracker.users.importer import find_unit


def columns() -> list[Column]:
    return [
        Column("code", _("Code"), ("代码", "单位代码", "编码", "code", "unit code"), required=True),
        Column("name", _("Full name"), ("名称", "单位名称", "全称", "name", "full name"), required=True),
        Column("kind", _("Kind"), ("类型", "单位类型", "kind", "type"), required=True),
        Column("level", _("Level"), ("级别", "层级", "level"), required=True),
        Column(
            "parent",
            _("Parent unit (code or full name)"),
            ("上级单位", "上级", "上级单位代码", "parent", "parent unit", "parent code"),
            required=True,
        ),
    ]


def _words(labels: dict, codes: tuple, extra: dict) -> dict[str, str]:
    """A kind or level given by its code or its label in either language."""
    words = {code: code for code in codes}
    for locale in ("zh_CN", "en"):
        with force_locale(locale):
            words.update({str(label).lower(): code for code, label in labels.items()})
    words.update(extra)
    return words


KIND_WORDS = {
    "卫健委": "commission",
    "卫生健康委": "commission",
    "行政部门": "commission",
    "质控中心": "qc_center",
    "专家委员会": "committee",
    "医院": "institution",
    "医疗机构": "institution",
}
LEVEL_WORDS = {
    "国家": "national",
    "国家级": "national",
    "省": "provincial",
    "省级": "provincial",
    "地市": "prefecture",
    "地市级": "prefecture",
    "市级": "prefecture",
    "县": "county",
    "县级": "county",
    "区县": "county",
    "机构": "institution",
}


@dataclass
class CheckedUnit:
    row: int
    code: str
    name: str
    kind: str
    level: str
    parent: Optional[OrgUnit]  # a unit of the catalogue, or None: `parent_code` is a row above
    parent_code: str


def check_units(actor: User, filename: str, data: bytes) -> list[CheckedUnit]:
    """The rows as units to create, or SheetRefused naming every problem."""
    if not may_manage_units(actor):
        raise NotAllowed()
    table = read_table(filename, data, columns())
    by_code, by_name = {}, {}
    for unit in db.session.scalars(select(OrgUnit)):
        by_code[unit.code.upper()] = unit
        by_name.setdefault(unit.name, []).append(unit)
    kinds = _words(UNIT_KIND_LABELS, UNIT_KINDS, KIND_WORDS)
    levels = _words(UNIT_LEVEL_LABELS, UNIT_LEVELS, LEVEL_WORDS)
    in_file: dict[str, int] = {}  # code -> row
    names_in_file: dict[str, list[str]] = {}
    rows_by_code: dict[str, int] = {}  # code -> the first row that has it
    for row, values in table.rows:
        if values.get("code", "").strip():
            rows_by_code.setdefault(values["code"].strip().upper(), row)
    problems: list[str] = []
    checked: list[CheckedUnit] = []

    def problem(row: int, key: str, message) -> None:
        problems.append(f"{table.where(row, key)}: {message}")

    for row, values in table.rows:
        ok = True
        code = values.get("code", "").strip().upper()
        message = code_problem(code)
        if message is None and code in by_code:
            message = _("The code '%(code)s' is taken.", code=code)
        if message is None and code in in_file:
            message = _("The code '%(code)s' is also on row %(row)d.", code=code, row=in_file[code])
        if message:
            problem(row, "code", message)
            ok = False
        name = values.get("name", "").strip()
        message = name_problem(name)
        if message:
            problem(row, "name", message)
            ok = False
        kind = kinds.get(values.get("kind", "").strip().lower())
        if kind is None:
            given = values.get("kind", "").strip()
            problem(
                row,
                "kind",
                _(
                    "Unknown kind '%(kind)s' (one of %(kinds)s).",
                    kind=given,
                    kinds="、".join(map(str, UNIT_KIND_LABELS.values())),
                )
                if given
                else _("A kind is required."),
            )
            ok = False
        level = levels.get(values.get("level", "").strip().lower())
        if level is None:
            given = values.get("level", "").strip()
            problem(
                row,
                "level",
                _(
                    "Unknown level '%(level)s' (one of %(levels)s).",
                    level=given,
                    levels="、".join(map(str, UNIT_LEVEL_LABELS.values())),
                )
                if given
                else _("A level is required."),
            )
            ok = False
        given = values.get("parent", "").strip()
        parent, parent_code = None, ""
        on_row = rows_by_code.get(given.upper())
        if given and given.upper() == code:
            problem(row, "parent", _("A unit cannot be its own parent."))
            ok = False
        elif given.upper() in in_file:
            parent_code = given.upper()
        elif given in names_in_file and given not in by_name:
            if len(names_in_file[given]) > 1:
                problem(row, "parent", _("Several rows above are named '%(name)s': give the code.", name=given))
                ok = False
            else:
                parent_code = names_in_file[given][0]
        elif on_row is not None and on_row > row and given.upper() not in by_code:
            problem(
                row,
                "parent",
                _(
                    "The parent '%(code)s' is on row %(row)d, below this one: put parents above their children.",
                    code=given.upper(),
                    row=on_row,
                ),
            )
            ok = False
        else:
            parent, message = find_unit(given, by_code, by_name)
            if message is None and parent is not None and parent.is_retired:
                message = _("The unit '%(name)s' is retired.", name=parent.name)
            if message:
                problem(row, "parent", message)
                ok = False
        if code and code not in in_file:
            in_file[code] = row
        if name:
            names_in_file.setdefault(name, []).append(code)
        if ok:
            checked.append(CheckedUnit(row, code, name, kind, level, parent, parent_code))
    if problems:
        raise SheetRefused(problems)
    return checked


def import_units(actor: User, filename: str, data: bytes) -> list[OrgUnit]:
    """Create every unit of the file (or none), parents first; each journaled with its row. A
    fixed number of statements whatever the number of rows (the inserts and updates are
    batched)."""
    checked = check_units(actor, filename, data)
    parent_ids = {item.parent.id for item in checked if item.parent is not None}
    positions = (
        dict(
            db.session.execute(
                select(OrgUnit.parent_id, func.max(OrgUnit.position))
                .where(OrgUnit.parent_id.in_(parent_ids))
                .group_by(OrgUnit.parent_id)
            ).all()
        )
        if parent_ids
        else {}
    )
    made: dict[str, OrgUnit] = {}
    order: dict[str, int] = {}  # next position under a parent, by the parent's code
    units = []
    for item in checked:
        parent = item.parent if item.parent is not None else made[item.parent_code]
        key = parent.code
        if key not in order:
            last = positions.get(parent.id) if item.parent is not None else None
            order[key] = (last if last is not None else -1) + 1
        unit = OrgUnit(
            code=item.code,
            name=item.name,
            kind=item.kind,
            level=item.level,
            parent=parent,
            position=order[key],
            example=False,
            origin=WEB,
            path="",
        )
        order[key] += 1
        made[item.code] = unit
        units.append(unit)
    db.session.add_all(units)
    db.session.flush()
    for unit in units:  # in file order: a parent's path is set before its children's
        unit.path = f"{unit.parent.path}{unit.id}/"
    for unit, item in zip(units, checked):
        audit.record_unit(
            actor, unit, "create", comment=_("imported from %(file)s, row %(row)d", file=filename[:100], row=item.row)
        )
    db.session.flush()
    return units


def units_template():
    notes = [
        _("One unit per row under the heading row; columns marked * are required."),
        _("Code: capital letters, digits and '-', unique (e.g. P64-WZ-H07)."),
        _("Kind: health commission, QC centre, expert committee or medical institution."),
        _("Level: national, provincial, prefecture-level, county-level or institution level."),
        _(
            "Parent unit: the code or full name of a unit of the catalogue, or the code of a unit on a row above in this file."
        ),
        _("The whole file is checked first: if any row has a problem, nothing is stored."),
    ]
    with force_locale("zh_CN"):
        kind, level = str(UNIT_KIND_LABELS["institution"]), str(UNIT_LEVEL_LABELS["institution"])
        county = str(UNIT_LEVEL_LABELS["county"])
        commission = str(UNIT_KIND_LABELS["commission"])
    examples = [
        ["WZ-LT-H2", "利通区第二人民医院", kind, level, "WZ-LT"],
        ["WZ-NEW", "吴忠市某新设区卫生健康局", commission, county, "吴忠市卫生和计划生育局"],
        ["WZ-NEW-H", "吴忠市某新设区人民医院", kind, level, "WZ-NEW"],
    ]
    return template_workbook(_("Units"), columns(), examples, notes)
