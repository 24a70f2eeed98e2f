"""Tables read from a spreadsheet (.xlsx) or CSV for the imports of accounts and units, and the
template sheets to fill in: columns found by their heading (Chinese or English), each problem
named by row and column."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from dataclasses import dataclass, field
from flask_babel import gettext as _
from openpyxl import Workbook, load_workbook

from tracker.office_archive import ArchiveRefused, check_office_archive
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5000


class SheetRefused(ValueError):
    """The file cannot be read as a table, or its rows have problems: every one is listed."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Column:
    key: str
    heading: str  # the template's heading
    aliases: tuple[str, ...] = ()  # other headings that name it (lower case)
    required: bool = False


@dataclass
class Table:
    columns: dict[str, int]  # key -> 1-based column number in the file
    headings: dict[str, str]  # key -> the heading as the file has it
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, values)

    def where(self, row: int, key: str) -> str:
        number = self.columns.get(key)
        letter = get_column_letter(number) if number else "?"
        return _("Row %(row)d, column %(col)s (%(name)s)", row=row, col=letter, name=self.headings.get(key, key))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a code or phone number typed as a number
    return str(value).strip()


def _raw_rows(filename: str, data: bytes) -> list[list[str]]:
    name = (filename or "").lower()
    if name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise SheetRefused([_("The CSV file is neither UTF-8 nor GB18030 text.")])
        return [[_cell_text(v) for v in row] for row in csv.reader(io.StringIO(text))]
    if name.endswith(".xlsx"):
        try:
            check_office_archive(data)  # before openpyxl inflates anything
        except ArchiveRefused as refused:
            raise SheetRefused([str(refused)]) from None
        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            raise SheetRefused([_("This file is not an Excel workbook (.xlsx).")]) from None
        try:
            sheet = workbook.worksheets[0]
            return [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    raise SheetRefused([_("Upload an Excel workbook (.xlsx) or a CSV file (.csv).")])


def read_table(filename: str, data: bytes, columns: list[Column]) -> Table:
    """The rows of the first sheet under a heading row naming the columns; blank rows skipped."""
    if len(data) > MAX_BYTES:
        raise SheetRefused([_("The file is larger than %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024))])
    raw = _raw_rows(filename, data)
    start = next((i for i, row in enumerate(raw) if any(row)), None)
    if start is None:
        raise SheetRefused([_("The file is empty.")])
    header = raw[start]
    names = {}
    for column in columns:
        for alias in (column.heading.lower(), column.key.lower(), *column.aliases):
            names.setdefault(alias, column.key)
    found: dict[str, int] = {}
    shown: dict[str, str] = {}
    for number, heading in enumerate(header, start=1):
        key = names.get(heading.strip().lower().rstrip("*").strip())
        if key and key not in found:
            found[key], shown[key] = number, heading.strip()
    missing = [c.heading for c in columns if c.required and c.key not in found]
    if missing:
        raise SheetRefused(
            [_("Row %(row)d: the heading row lacks the columns %(cols)s.", row=start + 1, cols="、".join(missing))]
        )
    for column in columns:
        shown.setdefault(column.key, column.heading)
    table = Table(found, shown)
    for index in range(start + 1, len(raw)):
        row = raw[index]
        if not any(row):
            continue
        values = {key: (row[number - 1] if number - 1 < len(row) else "") for key, number in found.items()}
        table.rows.append((index + 1, values))
        if len(table.rows) > MAX_ROWS:
            raise SheetRefused([_("At most %(n)d rows at a time.", n=MAX_ROWS)])
    if not table.rows:
        raise SheetRefused([_("The file has a heading row but no rows under it.")])
    return table


def template_workbook(title: str, columns: list[Column], examples: list[list[str]], notes: list[str]):
    """An .xlsx with the heading row (required columns marked *), example rows and a notes sheet;
    returned as a rewound file object."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title[:31]
    for number, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=number, value=column.heading + (" *" if column.required else ""))
        cell.font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(number)].width = 24
    for row in examples:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    info = workbook.create_sheet(_("Notes")[:31])
    for line in notes:
        info.append([line])
    info.column_dimensions["A"].width = 100
    handle = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
    workbook.save(handle)
    handle.seek(0)
    return handle
