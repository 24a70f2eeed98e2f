"""Rendered progress pages, cached under the version of what they show (exact invalidation).

A progress page (matrix, phases, ranking, leadership summary, and their small exports) is a
function of the summary's figures, of what it shows besides them (units, plans, phases, section
headings, escalations), of the day and of the language. The version of the first two is read in
one statement:

- `progress_state`: `as_of` and `generation` (raised by every fold and rebuild);
- `progress_dirty_tasks` and `progress_dirty`: how many tasks and (plan, owner) pairs are
  marked and the sum of their marks; every write that can change a figure raises a mark
  (database triggers), and only a fold or a rebuild, which raise the generation, lowers them;
- `progress_content.version`: raised by triggers on plans, phases, units, escalations and
  section headings.

So two different states of the data never share a version. The version is read *before* the
page's own queries: a page stored under a version is never older than that version (it can only
be newer, when a change commits in between, and then the next reader sees a newer version and
renders again). Pages are cached only while the summary is as of today; otherwise they read
the tasks and are rendered each time. Pages that depend on the user's own scope (a scoped
user's phases page) are not cached.

The store is per process (each gunicorn worker renders a version once), least recently used
first out, bounded in bytes (PROGRESS_CACHE_MB; 0 turns it off).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from typing import Callable, Hashable, Optional

from flask import Response, current_app, make_response, render_template
from flask_babel import get_locale
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import func, select, true

from tracker.extensions import db
from tracker.models import ProgressContent, ProgressDirty, ProgressDirtyTask, ProgressState
from tracker.web import render, wants_fragment


class PageStore:
    """A thread-safe LRU of rendered pages, bounded by the size of what it holds."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[0]

    def put(self, key: Hashable, value, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self._entries[key] = (value, size)
            self.size += size
            while self.size > self.max_bytes:
                _key, (_value, dropped) = self._entries.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def page_store() -> Optional[PageStore]:
    """This process's store for the current app (None when turned off)."""
    megabytes = current_app.config.get("PROGRESS_CACHE_MB", 0)
    if megabytes <= 0:
        return None
    store = current_app.extensions.get("progress_pages")
    if store is None:
        store = current_app.extensions.setdefault("progress_pages", PageStore(int(megabytes * 1024 * 1024)))
    return store


def page_version(today: date) -> Optional[tuple]:
    """The version of everything a progress page shows, in one statement; None when the summary
    is not as of `today` (the pages then read the tasks)."""
    def marked(model):
        return select(func.count().label("rows"), func.coalesce(func.sum(model.marks), 0).label("marks")).subquery()

    tasks, pairs = marked(ProgressDirtyTask), marked(ProgressDirty)
    content = select(func.coalesce(func.max(ProgressContent.version), 0).label("version")).subquery()
    row = db.session.execute(
        select(ProgressState.as_of, ProgressState.generation, tasks.c.rows, tasks.c.marks, pairs.c.rows, pairs.c.marks,
               content.c.version)
        .select_from(ProgressState).join(tasks, true()).join(pairs, true()).join(content, true())
        .where(ProgressState.id == 1)
    ).first()
    if row is None or row[0] != today:
        return None
    return tuple(row)


def _cache_key(name: Hashable, today: date) -> Optional[tuple]:
    """(name, day, language, version), or None when nothing may be cached now."""
    version = page_version(today)
    if version is None:
        return None
    return (name, today, str(get_locale()), version)


def cached_page(template: str, name: Hashable, today: date, context: Callable[[], dict], block: str = "content",
                cacheable: bool = True) -> Response:
    """The page `template` (or only its `block` for an HTMX request), rendered from `context()`
    or taken from the store. `name` says which page it is (its arguments: plan, unit, ...),
    `today` the day its figures are as of;
    everything else that goes into the key is added here. The navigation around the cached
    content (user, badges, CSRF tokens) is rendered for each request."""
    store = page_store() if cacheable else None
    key = _cache_key(name, today) if store is not None else None
    if key is None:
        return render(template, block=block, **context())
    fragment = wants_fragment()
    blocks = (block,) if fragment else ("title", "content")
    key = (template, blocks) + key
    parts = store.get(key)
    if parts is None:
        values = context()
        parts = tuple(render_block(template, part, **values) for part in blocks)
        store.put(key, parts, sum(len(p) for p in parts) * 2)
    if fragment:
        body = parts[0]
    else:
        body = render_template("progress/_cached_page.html", cached_title=Markup(parts[0]),
                               cached_content=Markup(parts[1]))
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def cached_file(name: Hashable, today: date, build: Callable[[], tuple[bytes, str, str]], cacheable: bool = True) -> Response:
    """A small export (bytes, MIME type, file name) built by `build()` or taken from the store."""
    store = page_store() if cacheable else None
    key = _cache_key(name, today) if store is not None else None
    found = store.get(("file",) + key) if key is not None else None
    if found is None:
        found = build()
        if key is not None:
            store.put(("file",) + key, found, len(found[0]))
    data, mimetype, filename = found
    response = Response(data, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response
