"""Small dialect helpers for the progress aggregates (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Date, Integer, cast, func, literal
from sqlalchemy.sql.elements import ClauseElement

from tracker.extensions import db


def dialect() -> str:
    return db.session.get_bind().dialect.name


def first_path_id(path_column):
    """The id of the root of a materialised path ('/12/40/77/' -> 12), as an integer."""
    if dialect() == "postgresql":
        return cast(func.split_part(path_column, "/", 2), Integer)
    rest = func.substr(path_column, 2)
    return cast(func.substr(rest, 1, func.instr(rest, "/") - 1), Integer)


def days_after(today, date_column):
    """today (a date, or a Date bind parameter) - date_column in days, as an integer expression."""
    day = today if isinstance(today, ClauseElement) else literal(today, Date)
    if dialect() == "postgresql":
        return day - date_column
    return cast(func.julianday(day) - func.julianday(date_column), Integer)
