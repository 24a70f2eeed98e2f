"""Dashboards off the primary: the read-only progress pages on a streaming replica.

When `DATABASE_READ_URL` names a PostgreSQL standby, a progress page (matrix, timeline, phases,
ranking, leadership and their exports) that is rendered afresh runs its queries there. The
page's version is always read from the primary first (tracker/progress/pages.py), then the
replica's version is read: only when the replica has caught up with that version does the page
render there, so a lagging replica never serves a page older than its version (it falls back to
the primary, as it does when the replica is out of reach). Writes and flushes always go to the
primary.

Routing is by `Session.get_bind`: inside `on_replica(engine)` the session reads through the
replica's engine (a connection of its own in the session's transaction).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Hashable, Optional, TypeVar

from flask import current_app
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)
T = TypeVar("T")

_reading: ContextVar[Optional[Engine]] = ContextVar("tracker_replica_reading", default=None)


class ReplicaRouting:
    """Session mixin: reads go to the replica engine while `on_replica` is active."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = _reading.get()
        if engine is not None and bind is None and not getattr(self, "_flushing", False):
            return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


class RoutingSession(ReplicaRouting, FlaskSession):
    """Flask-SQLAlchemy's session with replica routing (tracker/extensions.py uses it)."""


@contextmanager
def on_replica(engine: Engine):
    token = _reading.set(engine)
    try:
        yield
    finally:
        _reading.reset(token)


def replica_engine() -> Optional[Engine]:
    """The replica's engine, made once per app; None when no DATABASE_READ_URL is set."""
    url = current_app.config.get("DATABASE_READ_URL")
    if not url:
        return None
    made = current_app.extensions.get("tracker_replica")
    if made is None or made[0] != url:
        from tracker.config import normalise_database_url

        engine = create_engine(
            normalise_database_url(url),
            pool_pre_ping=True,
            **({"connect_args": {"connect_timeout": 2}} if url.startswith("postgres") else {}),
        )
        made = (url, engine)
        current_app.extensions["tracker_replica"] = made
    return made[1]


def build_on_replica(version: Hashable, version_on: Callable[[object], Hashable], build: Callable[[], T]) -> T:
    """`build()` on the replica when its version (`version_on(connection)`) equals `version`,
    the one read from the primary; else, or when the replica is out of reach, on the primary."""
    engine = replica_engine()
    if engine is None:
        return build()
    try:
        with engine.connect() as connection:
            caught_up = version_on(connection) == version
    except DBAPIError as error:
        log.warning("replica out of reach, reading the primary: %s", error.__class__.__name__)
        caught_up = False
    if not caught_up:
        return build()
    with on_replica(engine):
        return build()
