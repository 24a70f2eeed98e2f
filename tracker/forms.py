"""Form pieces every area shares: the text filter and a form that is only its CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm


def clean_text(value):
    """Text without control characters (PostgreSQL refuses NUL; none belongs in these fields)."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if ch in "\n\t" or (ch >= " " and ch != "\x7f")).strip()


CLEAN = [clean_text]


class EmptyForm(FlaskForm):
    """A button that posts: only the CSRF token."""
