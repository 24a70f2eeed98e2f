"""Excel and CSV exports: Chinese headers, a frozen header row, column widths, real dates and
numbers. Rows are streamed (openpyxl write-only mode writes them to a temporary file; CSV is a
generator), so an export's memory does not grow with its length."""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Iterator, Optional

from flask import Response, send_file, stream_with_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from tracker.export_escaping import csv_text, xlsx_text_cell

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class ExportColumn:
    header: str
    width: int = 14
    number_format: Optional[str] = None  # e.g. "0.0", "yyyy-mm-dd", "0"


def _header_cell(sheet, text: str) -> WriteOnlyCell:
    cell = xlsx_text_cell(sheet, text)
    cell.font = Font(bold=True)
    cell.fill = PatternFill("solid", fgColor="DDEBF7")
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    return cell


def xlsx_file(
    title: str, columns: list[ExportColumn], rows: Iterable[Iterable[Any]], preamble: Optional[list[str]] = None
):
    """A temporary file holding the workbook (one sheet); the caller sends and closes it."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    header_row = 1 + len(preamble or [])
    sheet.freeze_panes = f"A{header_row + 1}"
    for line in preamble or []:
        sheet.append([xlsx_text_cell(sheet, line)])
    sheet.append([_header_cell(sheet, c.header) for c in columns])
    for row in rows:
        cells = []
        for column, value in zip(columns, row):
            cell = xlsx_text_cell(sheet, value)
            if column.number_format and value is not None:
                cell.number_format = column.number_format
            cells.append(cell)
        sheet.append(cells)
    handle = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    workbook.save(handle)
    handle.seek(0)
    return handle


def send_xlsx(
    filename: str,
    title: str,
    columns: list[ExportColumn],
    rows: Iterable[Iterable[Any]],
    preamble: Optional[list[str]] = None,
) -> Response:
    handle = xlsx_file(title, columns, rows, preamble)
    return send_file(handle, mimetype=XLSX, as_attachment=True, download_name=filename)


def _csv_value(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return "" if value is None else csv_text(value)


CSV = "text/csv; charset=utf-8"


def csv_lines(columns: list[ExportColumn], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([csv_text(c.header) for c in columns])
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_value(v) for v in row])
        yield buffer.getvalue()


def send_csv(filename: str, columns: list[ExportColumn], rows: Iterable[Iterable[Any]]) -> Response:
    response = Response(stream_with_context(csv_lines(columns, rows)), mimetype=CSV)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response


def send_table(
    fmt: str,
    name: str,
    title: str,
    columns: list[ExportColumn],
    rows_factory: Callable[[], Iterable[Iterable[Any]]],
    preamble: Optional[list[str]] = None,
) -> Response:
    if fmt == "csv":
        return send_csv(f"{name}.csv", columns, rows_factory())
    return send_xlsx(f"{name}.xlsx", title, columns, rows_factory(), preamble)


def table_file(
    fmt: str,
    name: str,
    title: str,
    columns: list[ExportColumn],
    rows: Iterable[Iterable[Any]],
    preamble: Optional[list[str]] = None,
) -> tuple[bytes, str, str]:
    """A small table as a whole file in memory: (bytes, MIME type, file name), for the cache of
    the progress exports (tracker/progress/pages.py); long lists go through send_table."""
    if fmt == "csv":
        return "".join(csv_lines(columns, rows)).encode("utf-8"), CSV, f"{name}.csv"
    with xlsx_file(title, columns, rows, preamble) as handle:
        return handle.read(), XLSX, f"{name}.xlsx"
