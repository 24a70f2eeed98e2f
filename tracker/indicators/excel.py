"""Excel in the layout of seed 004's annex (提升医疗质量工作信息汇总表): a title, the reporting
unit and period, then one row per indicator with its group in a merged cell down the left, the
"其中" breakdowns beside their total, a units column, the value and, for per-disease rows, the
ICD code. The last column holds the indicator code so a filled-in file can be read back.

Export writes with openpyxl's write-only mode (rows streamed, merges recorded). Import reads a
filled form cell by cell; every problem is reported with its sheet, row and column, and nothing
is stored unless the whole file is right.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from tracker.export_escaping import xlsx_text_cell
from tracker.office_archive import ArchiveRefused, check_office_archive

from tracker.indicators.validation import FormValues, Layout, check_form, item_name, target_text, value_name
from tracker.models import IndicatorForm

MAX_IMPORT_BYTES = 5 * 1024 * 1024
FIRST_ROW = 4  # rows 1-3: title, unit and period, column headings
COLUMNS = "ABCDEFG"  # group, indicator, breakdown, unit, value, item, code
VALUE_COL, ITEM_COL, CODE_COL = 5, 6, 7
THIN = Side(style="thin", color="888888")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="DDE4F0")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)


class ImportRefused(ValueError):
    """The file was refused; `problems` are the messages, each naming sheet, row and column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def form_sheet_title() -> str:
    return _("Form")


def form_sheet_titles() -> set[str]:
    """The form sheet's name in every language of the app (a file exported in one reads in all)."""
    names = set()
    for locale in current_app.config["LANGUAGES"]:
        with force_locale(locale):
            names.add(form_sheet_title())
    return names


def headings() -> list[str]:
    return [
        _("Category"),
        _("Indicator"),
        _("Of which"),
        _("Unit"),
        _("Value"),
        _("Disease / technique (code)"),
        _("Code"),
    ]


def form_marker(form: IndicatorForm) -> str:
    """Names the form a file belongs to (cell G2): unit code, period key and level."""
    return f"form:{form.unit.code}:{form.period.key}:{form.period.level}"


def _cell(ws, value, bold=False, fill=None, align=WRAP, color=None, size=None):
    cell = xlsx_text_cell(ws, value)  # text as text, never a formula (tracker/export_escaping.py)
    cell.border = BORDER
    cell.alignment = align
    if bold or color or size:
        cell.font = Font(bold=bold, color=color, size=size)
    if fill:
        cell.fill = fill
    return cell


def _save(workbook: Workbook):
    """The workbook in a temporary file (spooled to disk when large), rewound for sending."""
    handle = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    workbook.save(handle)
    handle.seek(0)
    return handle


def _total_spans(fields) -> dict[str, tuple[int, int]]:
    """A total directly followed by all its breakdown rows: (first, last) index of its span."""
    spans = {}
    for first, item in enumerate(fields):
        count = len(item.children)
        if count and [f.code for f in fields[first + 1 : first + 1 + count]] == [c.code for c in item.children]:
            spans[item.code] = (first, first + count)
    return spans


def export_form(form: IndicatorForm, layout: Layout, values: FormValues, period_label: str):
    """A unit's form as .xlsx (a file object): empty cells for what is not filled in yet."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(form_sheet_title())
    for index, width in enumerate((18, 44, 26, 8, 14, 22, 28), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    plan = form.period.plan
    ws.append([_cell(ws, plan.title, bold=True, align=CENTER, size=14)] + [_cell(ws, None) for _i in range(6)])
    ws.merged_cells.add("A1:G1")
    line = _(
        "Reporting unit: %(unit)s (seal)    Period: %(period)s    Due: %(due)s",
        unit=form.unit.name,
        period=period_label,
        due=form.period.due_on.isoformat(),
    )
    ws.append([_cell(ws, line)] + [_cell(ws, None) for _i in range(5)] + [_cell(ws, form_marker(form), color="999999")])
    ws.merged_cells.add("A2:F2")
    ws.append([_cell(ws, h, bold=True, fill=HEAD_FILL, align=CENTER) for h in headings()])
    row = FIRST_ROW
    for group in layout.groups:
        group_start = row
        spans = _total_spans(group.fields)
        covered = {
            code for first, last in spans.values() for code in (f.code for f in group.fields[first + 1 : last + 1])
        }
        for index, item in enumerate(group.fields):
            definition = item.definition
            is_child = item.parent is not None
            value = values.display(item.code) if item.type == "text" else values.numbers.get(item.code)
            note = _("(calculated)") if item.derived else values.items.get(item.code, "")
            if item.code in covered:
                name_cell = None  # under the merged cell of its total
            else:
                name_cell = item.parent.definition.name if is_child else definition.name
            ws.append(
                [
                    _cell(ws, group.name if index == 0 else None, bold=True, align=CENTER),
                    _cell(ws, name_cell),
                    _cell(ws, (definition.breakdown or definition.name) if is_child else None),
                    _cell(ws, definition.unit, align=CENTER),
                    _cell(ws, value, fill=PatternFill("solid", fgColor="F2F2F2") if item.derived else None),
                    _cell(ws, note),
                    _cell(ws, item.code, color="999999"),
                ]
            )
            row += 1
        if row - 1 > group_start:
            ws.merged_cells.add(f"A{group_start}:A{row - 1}")
        for first, last in spans.values():
            ws.merged_cells.add(f"B{group_start + first}:B{group_start + last}")
    return _save(workbook)


@dataclass
class ReadForm:
    raw: dict[str, object] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # code -> row number
    problems: list[str] = field(default_factory=list)


def _where(sheet: str, row: int, column: int) -> str:
    return _(
        "Sheet '%(sheet)s', row %(row)d, column %(col)s (%(name)s)",
        sheet=sheet,
        row=row,
        col=get_column_letter(column),
        name=headings()[column - 1],
    )


def read_form(form: IndicatorForm, layout: Layout, stream, existing: dict[str, object]) -> dict[str, object]:
    """Read a filled form; return the submitted values (v-CODE / i-CODE) merged over `existing`.

    Raises ImportRefused with every problem found; checks each cell with the form's rules.
    """
    data = stream.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportRefused([_("The file is larger than %(mb)d MB.", mb=MAX_IMPORT_BYTES // (1024 * 1024))])
    try:
        check_office_archive(data)  # before openpyxl inflates anything
    except ArchiveRefused as exc:
        raise ImportRefused([str(exc)]) from exc
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportRefused([_("This file is not an Excel workbook (.xlsx).")]) from None
    try:
        return _read(workbook, form, layout, existing)
    finally:
        workbook.close()


def _read(workbook, form: IndicatorForm, layout: Layout, existing: dict[str, object]) -> dict[str, object]:
    titles = form_sheet_titles()
    problems = []
    sheets = [ws for ws in workbook.worksheets if ws.title in titles]
    for ws in workbook.worksheets:
        if ws.title not in titles:
            problems.append(
                _(
                    "Unknown sheet '%(sheet)s': the workbook must hold only the sheet '%(expected)s'.",
                    sheet=ws.title,
                    expected=form_sheet_title(),
                )
            )
    if not sheets:
        problems.append(_("The sheet '%(expected)s' is missing.", expected=form_sheet_title()))
    if problems:
        raise ImportRefused(problems)
    ws = sheets[0]
    sheet = ws.title
    result = ReadForm(raw=dict(existing))
    for number, cells in enumerate(ws.iter_rows(min_row=1, max_col=len(COLUMNS), values_only=True), start=1):
        cells = list(cells) + [None] * (len(COLUMNS) - len(cells))
        if number == 2:
            marker = cells[CODE_COL - 1]
            if marker != form_marker(form):
                result.problems.append(
                    _(
                        "%(where)s: this file is not the form of %(unit)s for %(period)s.",
                        where=_where(sheet, 2, CODE_COL),
                        unit=form.unit.name,
                        period=form.period.key,
                    )
                )
            continue
        if number < FIRST_ROW:
            continue
        code = cells[CODE_COL - 1]
        value, item = cells[VALUE_COL - 1], cells[ITEM_COL - 1]
        if code is None or str(code).strip() == "":
            if value not in (None, ""):
                result.problems.append(
                    _("%(where)s: a value in a row without an indicator code.", where=_where(sheet, number, VALUE_COL))
                )
            continue
        code = str(code).strip()
        field_ = layout.by_code.get(code)
        if field_ is None:
            result.problems.append(
                _(
                    "%(where)s: unknown indicator code '%(code)s'.",
                    where=_where(sheet, number, CODE_COL),
                    code=code[:60],
                )
            )
            continue
        if code in result.rows:
            result.problems.append(
                _(
                    "%(where)s: the indicator %(code)s appears twice (first in row %(row)d).",
                    where=_where(sheet, number, CODE_COL),
                    code=code,
                    row=result.rows[code],
                )
            )
            continue
        result.rows[code] = number
        if field_.derived:
            continue
        result.raw[value_name(code)] = "" if value is None else value
        if field_.has_item:
            result.raw[item_name(code)] = "" if item is None else item
    if result.problems:
        raise ImportRefused(result.problems)
    checked = check_form(layout, result.raw)
    located = []
    for key, message in checked.errors.items():
        code = key.split(":", 1)[1] if key.startswith("item:") else key
        column = ITEM_COL if key.startswith("item:") else VALUE_COL
        row = result.rows.get(code)
        where = _where(sheet, row, column) if row else _("Sheet '%(sheet)s'", sheet=sheet)
        located.append((row or 0, column, f"{where}: {message}"))
    if located:
        raise ImportRefused([message for _row, _col, message in sorted(located)])
    return result.raw


def import_form(form: IndicatorForm, user, stream) -> FormValues:
    """Read a filled form and save it as a draft; refused whole (ImportRefused) on any problem."""
    from tracker.indicators import service

    service.check_may_edit(form, user)
    layout = service.layout_for(form.period)
    raw = read_form(form, layout, stream, service.as_raw(service.form_values(form)))
    return service.save_form(form, user, raw)


def export_aggregate(table, period_label: str):
    """The aggregate table as .xlsx: indicators down, the child units and the total across."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(_("Aggregate"))
    width = 4 + len(table.columns) + 1
    for index, size in enumerate([18, 44, 8, 14] + [14] * (len(table.columns) + 1), start=1):
        ws.column_dimensions[get_column_letter(index)].width = size
    last = get_column_letter(width)
    ws.append(
        [_cell(ws, table.period.plan.title, bold=True, align=CENTER, size=14)]
        + [_cell(ws, None) for _i in range(width - 1)]
    )
    ws.merged_cells.add(f"A1:{last}1")
    basis = _("approved forms only") if table.approved_only else _("submitted and approved forms")
    line = _(
        "%(unit)s and the units under it    Period: %(period)s    Forms counted: %(n)d (%(basis)s)",
        unit=table.unit.name,
        period=period_label,
        n=table.total_forms,
        basis=basis,
    )
    ws.append([_cell(ws, line)] + [_cell(ws, None) for _i in range(width - 1)])
    ws.merged_cells.add(f"A2:{last}2")
    ws.append(
        [
            _cell(ws, h, bold=True, fill=HEAD_FILL, align=CENTER)
            for h in [_("Category"), _("Indicator"), _("Unit"), _("Target")]
            + [c.name for c in table.columns]
            + [_("Total")]
        ]
    )
    row = FIRST_ROW
    for group in table.layout.groups:
        start = row
        for index, agg in enumerate(table.rows_of(group)):
            definition = agg.field.definition
            name = definition.name if agg.field.parent is None else f"　{definition.name}"
            ws.append(
                [
                    _cell(ws, group.name if index == 0 else None, bold=True, align=CENTER),
                    _cell(ws, name),
                    _cell(ws, definition.unit, align=CENTER),
                    _cell(ws, target_text(definition)),
                ]
                + [_value_cell(ws, c) for c in agg.cells]
                + [_value_cell(ws, agg.total, bold=True)]
            )
            row += 1
        if row - 1 > start:
            ws.merged_cells.add(f"A{start}:A{row - 1}")
    return _save(workbook)


def _value_cell(ws, cell, bold=False):
    if not cell.summed:
        return _cell(ws, "—", align=CENTER, color="999999")
    color = {True: "198754", False: "DC3545"}.get(cell.meets)
    value = cell.value if cell.value is not None else (cell.text or None)
    return _cell(ws, value, bold=bold, color=color)
