"""How a scheduled job runs: in an app of its own, and a database error ends it with one line.

The job store keeps only a job's name ("tracker.tasks.escalation:run"), so each job builds its
app. A database error (the server restarting, a network cut, a terminated connection) rolls the
job's transaction back and is logged as one line, without a traceback: the job's state is only
what it committed, and the next run carries on from there (the jobs are idempotent).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobFailed(Exception):
    """A job stopped on a database error (already logged in one line)."""


def database_error_line(exc: BaseException) -> str:
    """The first line of a database error, without the SQL and the link to SQLAlchemy's docs."""
    origin = getattr(exc, "orig", None) or exc
    text = str(origin).strip().splitlines()
    return f"{type(origin).__name__}: {text[0] if text else ''}".strip()


def in_app(name: str, body: Callable[[], T]) -> T:
    """Run `body` in an app context of its own; on a database error: roll back, log, JobFailed."""
    from tracker import create_app
    from tracker.extensions import db

    app = create_app()
    with app.app_context():
        try:
            return body()
        except SQLAlchemyError as exc:
            try:
                db.session.rollback()
            except SQLAlchemyError:
                pass
            log.error("%s: stopped on a database error, the next run carries on: %s", name, database_error_line(exc))
            raise JobFailed(name) from None
        finally:
            _dispose()


def _dispose() -> None:
    """A job's app is used once: its connections are closed, not left to the garbage collector."""
    from tracker.extensions import db

    db.session.remove()
    db.engine.dispose()


def scheduled(name: str, body: Callable[[], object]) -> None:
    """The scheduler's side: a failed job is logged (one line) and does not raise into APScheduler,
    which would log it again with a traceback."""
    try:
        in_app(name, body)
    except JobFailed:
        pass


@contextmanager
def exit_on_database_error(name: str) -> Iterator[None]:
    """The command line's side (`flask escalate`, `flask progress refresh`): a database error
    rolls back, prints one line on stderr and exits with status 1, without a traceback."""
    import click

    from tracker.extensions import db

    try:
        yield
    except SQLAlchemyError as exc:
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass
        click.echo(
            f"{name}: stopped on a database error, the next run carries on: {database_error_line(exc)}", err=True
        )
        raise SystemExit(1) from None
