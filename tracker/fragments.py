"""Rendered fragments kept for reuse: a bounded, per-process LRU of HTML by key.

A fragment is kept under a key that holds every value it shows (and the locale, the app, the
script root), so a hit is the same HTML a fresh render would give; nothing is ever invalidated,
a changed value is a new key and the old entry ages out. Used for the signed-in navigation bar
(tracker/layout/navigation.py) and the rows of the overdue list (tracker/notifications/overdue_rows.py),
the parts of the pages people reload all day that cost most to render.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable


class FragmentCache:
    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = str(render())
        with self._lock:
            self._items[key] = made
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


KEPT = FragmentCache(2048)  # a select of 200 people ≈ 10 KB: ≤ 20 MB a worker


def kept(key, caller=None):
    """A template's `{% call kept(key) %}…{% endcall %}`: the block rendered once for `key` (which
    must hold every value the block shows) and reused; the locale, the app and the script root are
    added to it here."""
    from flask import current_app, request
    from flask_babel import get_locale
    from markupsafe import Markup

    full = (id(current_app._get_current_object()), request.script_root, str(get_locale()), key)
    return Markup(KEPT.get(full, caller))


def field_key(field) -> tuple:
    """What a form field's HTML depends on: name, id, label, data, choices (with the selected
    one), errors and render keywords."""
    choices = None
    if hasattr(field, "iter_choices"):
        choices = tuple((str(c[0]), str(c[1]), bool(c[2]), repr(c[3:])) for c in field.iter_choices())
    return (
        type(field).__name__,
        field.name,
        field.id,
        str(field.label.text),
        repr(field.data),
        choices,
        tuple(str(e) for e in field.errors),
        repr(sorted((field.render_kw or {}).items())),
    )
