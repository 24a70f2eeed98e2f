"""Text in exports stays text: no cell of an .xlsx or .csv we write is ever a formula.

A task title, a note or an imported scheme row beginning with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return would otherwise run as a formula in the spreadsheet of whoever opens the
export (OWASP "CSV Injection"). Every export goes through these two helpers:

- .xlsx: each text cell gets openpyxl's string data type (``s``), so it is stored as a string
  and shown as typed, whatever its first character (``xlsx_text_cell``);
- .csv: a text field beginning with one of those characters (after any leading spaces; the
  full-width forms too) is prefixed with a single quote, as OWASP advises, and quoted by the
  csv module as needed (``csv_text``).

Numbers and dates stay numbers and dates. Word documents (the circular) hold no formulas: their
tables are runs of text.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def starts_like_a_formula(text: str) -> bool:
    return text.lstrip(" ").startswith(FORMULA_STARTS)


def csv_text(value: Any) -> Any:
    """A CSV field: text that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and starts_like_a_formula(value):
        return "'" + value
    return value


def as_text(cell):
    """Mark a cell holding text as a string (never a formula); other values unchanged."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def xlsx_text_cell(sheet, value: Any) -> WriteOnlyCell:
    """A write-only cell whose text, if any, is stored as a string."""
    return as_text(WriteOnlyCell(sheet, value=value))
