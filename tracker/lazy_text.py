"""Lazy translated strings that are safe in templates.

Flask-Babel's `lazy_gettext` returns a LazyString whose `__html__` hands the translated text to
Jinja as already-safe markup. A message that interpolates what a user typed
(`_l("No unit found: %(text)s", text=...)`) then reaches the page unescaped when a form shows it
as a field error. Every module imports `_l` from here instead: the same lazy string, except that
in a template it is escaped like any other text. (tests/test_hostile_input.py holds the rule.)"""

from __future__ import annotations

from flask_babel import gettext
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape


class SafeLazyString(LazyString):
    """A LazyString that Jinja escapes: the message and what it interpolates are text, not HTML."""

    def __html__(self) -> Markup:
        return escape(str(self))


def lazy_gettext(string: str, **variables) -> SafeLazyString:
    return SafeLazyString(gettext, string, **variables)
