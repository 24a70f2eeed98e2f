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
