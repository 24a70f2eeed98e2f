"""Rendered progress pages, cached under the version of what they show (exact invalidation).

A progress page (matrix, phases, ranking, leadership summary, and their small exports) is a
function of the summary's figures, of what it shows besides them (units, plans, phases, task
names, escalations), of the day and of the language. The version of the first two is read in
one statement:

- `progress_state`: `as_of`, `generation` (raised by every fold and rebuild) and `folded_at`
  (the time of the last fold or rebuild: after a restore, which sets the summary aside until
  it is rebuilt, the restored history's versions never meet the old one's);
- `progress_dirty_tasks` and `progress_dirty`: how many tasks and (plan, owner) pairs are
  marked and the sum of their marks; every write that can change a figure raises a mark
  (database triggers), and only a fold or a rebuild, which raise the generation, lowers them;
- `progress_content`: the sum of its slots' versions, raised by triggers on plans, phases, units,
  escalations, task names (ref, title) and section headings' places (in slots so that
  concurrent writers do not queue on one row; tracker/models/triggers.py).

So two different states of the data never share a version. The version is read *before* the
page's own queries: a page stored under a version is never older than that version (it can only
be newer, when a change commits in between, and then the next reader sees a newer version and
renders again). Pages are cached only while the summary is as of today; otherwise they read
the tasks and are rendered each time. Pages that depend on the user's own scope (a scoped
user's phases page) are not cached.

Two stores: each process keeps what it rendered or read in memory (least recently used first
out, bounded in bytes: PROGRESS_CACHE_MB; 0 turns caching off); the workers of one machine
share a folder (PROGRESS_CACHE_DIR) with one file per page holding the version it was
rendered for, and a lock per page, so that a version is rendered once, by one worker, while
the others wait for it rather than render it again. The scheduler's progress job, when it
rebuilds the summary for a new day, removes the files of earlier days.

Several machines share Redis instead (REDIS_URL): the same design, a key per page holding the
version it was rendered for, a lock per page (SET NX with a timeout, so a worker that dies while
rendering holds the others up for PROGRESS_LOCK_SECONDS at most), and an expiry
(PROGRESS_CACHE_TTL_HOURS) instead of the sweep. Redis out of reach costs a render, never a page.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
from collections import OrderedDict
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Callable, Hashable, Optional

from flask import Response, current_app, render_template
from flask_babel import get_locale
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import func, select, true

from tracker.extensions import db
from tracker.replica import build_on_replica
from tracker.models import ProgressContent, ProgressDirty, ProgressDirtyTask, ProgressState
from tracker.web import fragment_response, render, wants_fragment


class PageStore:
    """A thread-safe LRU of rendered pages, bounded by the size of what it holds."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
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
            self.size = 0

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


class SharedPages:
    """Rendered pages in a folder shared by the workers of one machine: a file per page (its key
    hashed), holding the version it was rendered for, replaced atomically; a lock file per page."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _folder_of(self, path: Path) -> None:
        """The page's folder, readable by this user only (the pages hold what leaders see)."""
        if not path.parent.is_dir():
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            self.folder.mkdir(mode=0o700, exist_ok=True)
            path.parent.mkdir(mode=0o700, exist_ok=True)

    def _path(self, key: Hashable) -> Path:
        digest = hashlib.sha256(repr(key).encode("utf-8")).hexdigest()
        return self.folder / digest[:2] / digest

    def read(self, key: Hashable, version: Hashable) -> Optional[tuple]:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                stored = json.load(handle)
        except (OSError, ValueError):
            return None
        if stored.get("version") != repr(version):
            return None
        return tuple(base64.b64decode(v["b"]) if "b" in v else v["s"] for v in stored["parts"])

    def write(self, key: Hashable, version: Hashable, parts: tuple) -> None:
        path = self._path(key)
        stored = {
            "version": repr(version),
            "parts": [{"b": base64.b64encode(v).decode("ascii")} if isinstance(v, bytes) else {"s": v} for v in parts],
        }
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self._folder_of(path)
            with os.fdopen(
                os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8"
            ) as handle:
                json.dump(stored, handle, ensure_ascii=False)
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk costs a render, never a page

    def fetch(self, key: Hashable, version: Hashable, build: Callable[[], tuple]) -> tuple:
        """The parts stored for `key` at `version`, or built by this worker while the others
        that want the same page wait for it (a lock on the page's lock file)."""
        found = self.read(key, version)
        if found is not None:
            return found
        path = self._path(key)
        try:
            self._folder_of(path)
            lock = os.fdopen(os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600), "w")
        except OSError:
            return build()
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                found = self.read(key, version)  # rendered by another worker while this one waited
                if found is None:
                    found = build()
                    self.write(key, version, found)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return found

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def sweep(self, older_than: float) -> int:
        """Remove the files not written for `older_than` seconds; returns how many."""
        removed = 0
        limit = time.time() - older_than
        for path in self.folder.glob("*/*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """The app's own files (code, templates, translations), hashed once per process: the shared
    folder outlives a deployment, and no page rendered by the code before it may be served."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".html", ".mo") and path.is_file():
            digest.update(str(path.relative_to(root)).encode("utf-8"))
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class RedisPages:
    """Rendered pages in Redis, shared by the workers of every machine: a key per page (its key
    hashed) holding the version it was rendered for and expiring after `ttl` seconds; a lock key
    per page, taken with SET NX and a timeout, released only by its holder."""

    PREFIX = "tracker:pages:"
    # Delete the lock only if it still holds this worker's token (it may have timed out and
    # been taken by another worker meanwhile).
    RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, client, ttl: int, lock_seconds: float, poll: float = 0.02):
        self.client = client
        self.ttl = ttl
        self.lock_seconds = lock_seconds
        self.poll = poll

    def _key(self, key: Hashable) -> str:
        return self.PREFIX + hashlib.sha256(repr(key).encode("utf-8")).hexdigest()

    def read(self, key: Hashable, version: Hashable) -> Optional[tuple]:
        import redis

        try:
            raw = self.client.get(self._key(key))
        except redis.RedisError:
            return None
        if raw is None:
            return None
        try:
            stored = json.loads(raw)
        except ValueError:
            return None
        if stored.get("version") != repr(version):
            return None
        return tuple(base64.b64decode(v["b"]) if "b" in v else v["s"] for v in stored["parts"])

    def write(self, key: Hashable, version: Hashable, parts: tuple) -> None:
        import redis

        stored = {
            "version": repr(version),
            "parts": [{"b": base64.b64encode(v).decode("ascii")} if isinstance(v, bytes) else {"s": v} for v in parts],
        }
        try:
            self.client.set(self._key(key), json.dumps(stored, ensure_ascii=False), ex=self.ttl)
        except redis.RedisError:
            pass  # a render next time, never a failed page

    def fetch(self, key: Hashable, version: Hashable, build: Callable[[], tuple]) -> tuple:
        """The parts stored for `key` at `version`, or built by this worker while the others
        that want the same page wait for it (on any machine)."""
        import redis

        found = self.read(key, version)
        if found is not None:
            return found
        lock = self._key(key) + ":lock"
        token = f"{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}"
        deadline = time.monotonic() + self.lock_seconds
        try:
            while not self.client.set(lock, token, nx=True, px=int(self.lock_seconds * 1000)):
                if time.monotonic() > deadline:
                    return build()  # the holder is stuck or gone: render rather than wait longer
                time.sleep(self.poll)
                found = self.read(key, version)  # rendered by the holder meanwhile
                if found is not None:
                    return found
        except redis.RedisError:
            return build()
        try:
            found = self.read(key, version)
            if found is None:
                found = build()
                self.write(key, version, found)
            return found
        finally:
            try:
                self.client.eval(self.RELEASE, 1, lock, token)
            except redis.RedisError:
                pass  # the lock expires by itself

    def clear(self) -> None:
        import redis

        try:
            for name in self.client.scan_iter(match=self.PREFIX + "*", count=500):
                self.client.delete(name)
        except redis.RedisError:
            pass

    def sweep(self, older_than: float) -> int:
        """Nothing to do: every page expires by itself after the TTL."""
        return 0


def redis_client():
    """The app's Redis client (REDIS_URL), made once per process; None without REDIS_URL."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("redis")
    if client is None:
        import redis

        timeout = current_app.config.get("REDIS_TIMEOUT", 0.5)
        client = current_app.extensions.setdefault(
            "redis", redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        )
    return client


def shared_pages():
    """Where the workers share rendered pages: Redis when REDIS_URL is set (every machine), else
    the folder PROGRESS_CACHE_DIR (the workers of this machine), else nowhere."""
    client = redis_client()
    if client is not None:
        return RedisPages(
            client,
            ttl=int(current_app.config.get("PROGRESS_CACHE_TTL_HOURS", 48) * 3600),
            lock_seconds=float(current_app.config.get("PROGRESS_LOCK_SECONDS", 10)),
        )
    folder = current_app.config.get("PROGRESS_CACHE_DIR")
    return SharedPages(Path(folder)) if folder else None


def page_version(today: date, connection=None) -> Optional[tuple]:
    """The version of everything a progress page shows, in one statement; None when the summary
    is not as of `today` (the pages then read the tasks). Read through `connection` when given
    (the replica's, tracker/replica.py), else the session (the primary)."""

    def marked(model):
        return select(func.count().label("rows"), func.coalesce(func.sum(model.marks), 0).label("marks")).subquery()

    tasks, pairs = marked(ProgressDirtyTask), marked(ProgressDirty)
    content = select(func.coalesce(func.sum(ProgressContent.version), 0).label("version")).subquery()
    row = (
        (connection if connection is not None else db.session)
        .execute(
            select(
                ProgressState.as_of,
                ProgressState.generation,
                ProgressState.folded_at,
                tasks.c.rows,
                tasks.c.marks,
                pairs.c.rows,
                pairs.c.marks,
                content.c.version,
            )
            .select_from(ProgressState)
            .join(tasks, true())
            .join(pairs, true())
            .join(content, true())
            .where(ProgressState.id == 1)
        )
        .first()
    )
    if row is None or row[0] != today:
        return None
    return tuple(row)


def _cached(name: Hashable, today: date, build: Callable[[], tuple], size: Callable[[tuple], int]) -> Optional[tuple]:
    """What `build()` gives for the page `name` as of `today` in the current language, from this
    worker's store, the shared one, or built; None when nothing may be cached now (caching off,
    or the summary not as of today)."""
    store = page_store()
    if store is None:
        return None
    version = page_version(today)
    if version is None:
        return None
    key = (name, str(get_locale()), code_fingerprint())
    versioned = (key, today, version)
    found = store.get(versioned)
    if found is None:
        shared = shared_pages()

        def build_here() -> tuple:  # on the replica when it has caught up with `version`
            return build_on_replica(version, lambda connection: page_version(today, connection), build)

        found = shared.fetch(key, (today, version), build_here) if shared is not None else build_here()
        store.put(versioned, found, size(found))
    return found


def cached_page(
    template: str,
    name: Hashable,
    today: date,
    context: Callable[[], dict],
    block: str = "content",
    cacheable: bool = True,
) -> Response:
    """The page `template` (or only its `block` for an HTMX request), rendered from `context()`
    or taken from the stores. `name` says which page it is (its arguments: plan, unit, ...),
    `today` the day its figures are as of; everything else that goes into the key is added
    here. The navigation around the cached content (user, badges, CSRF tokens) is rendered for
    each request."""
    fragment = wants_fragment()
    blocks = (block,) if fragment else ("title", "content")

    def build() -> tuple:
        values = context()
        return tuple(render_block(template, part, **values) for part in blocks)

    parts = _cached((template, blocks, name), today, build, lambda p: 2 * sum(len(v) for v in p)) if cacheable else None
    if parts is None:
        return render(template, block=block, **context())
    if fragment:
        body = parts[0]
    else:
        body = render_template(
            "progress/_cached_page.html", cached_title=Markup(parts[0]), cached_content=Markup(parts[1])
        )
    return fragment_response(body)


def cached_file(
    name: Hashable, today: date, build: Callable[[], tuple[bytes, str, str]], cacheable: bool = True
) -> Response:
    """A small export (bytes, MIME type, file name) built by `build()` or taken from the stores."""
    found = _cached(("file", name), today, build, lambda f: len(f[0])) if cacheable else None
    data, mimetype, filename = found if found is not None else build()
    response = Response(data, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response
