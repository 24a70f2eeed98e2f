"""Issue 20 #10: the log is one line per event at the level LOG_LEVEL gives, with the request id;
the daily purge really removes old sign-in failures and idle sessions, and keeps fresh ones."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import func, select

from tracker import logging_setup
from tracker.errors import REQUEST_ID_HEADER, assign_request_id
from tracker.extensions import db
from tracker.models.security import LoginFailure
from tracker.models.sessions import UserSession

NOW = datetime(2026, 12, 10, 0, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (None, logging.INFO),
        ("debug", logging.DEBUG),
        ("WARNING", logging.WARNING),
        (" error ", logging.ERROR),
        ("nonsense", logging.INFO),
    ],
)
def test_the_level_comes_from_log_level(monkeypatch, value, level):
    if value is None:
        monkeypatch.delenv("LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("LOG_LEVEL", value)
    assert logging_setup.level_from_environment() == level


@pytest.fixture
def own_root_logger():
    """configure_logging changes the root logger: give it back as it was."""
    root, scheduler = logging.getLogger(), logging.getLogger("apscheduler")
    handlers, level, scheduler_level = list(root.handlers), root.level, scheduler.level
    # an app made earlier in the run already installed the process's handler (on stderr): start without it
    root.handlers[:] = [h for h in handlers if not getattr(h, logging_setup._MARK, False)]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    scheduler.setLevel(scheduler_level)


def test_each_event_is_one_line_with_the_request_id_at_the_configured_level(app, monkeypatch, own_root_logger):
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    stream = io.StringIO()
    handler = logging_setup.configure_logging(stream)
    assert logging_setup.configure_logging(stream) is handler  # once per process
    log = logging.getLogger("tracker.tasks.test")
    log.debug("not shown at INFO")
    log.info("scheduler: escalation done")
    logging.getLogger("apscheduler.scheduler").info("Running job … (chatter)")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        with app.test_request_context("/plans", headers={REQUEST_ID_HEADER: "nginx-req-0042"}):
            assign_request_id()  # what every request does first
            log.exception("delivery failed")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines  # the INFO line and the error with its traceback folded in
    assert "INFO tracker.tasks.test [-] scheduler: escalation done" in lines[0]
    assert "ERROR tracker.tasks.test [nginx-req-0042] delivery failed" in lines[1]
    assert "delivery failed | Traceback" in lines[1] and "boom | second line" in lines[1]


def _failure(username: str, at: datetime) -> None:
    db.session.add(LoginFailure(username=username, address="10.0.0.1", at=at))


def _session(user, token: str, last_seen: datetime) -> None:
    db.session.add(
        UserSession(token_hash=token.ljust(64, "0"), user_id=user.id, created_at=last_seen, last_seen_at=last_seen)
    )


def test_the_daily_purge_removes_old_failures_and_idle_sessions_and_keeps_fresh_ones(app, make_user, caplog):
    from tracker.tasks import security as purge_job

    user = make_user("reporter", "P11-QC")
    idle = app.permanent_session_lifetime
    _failure("old-name", NOW - timedelta(days=2))
    _failure("old-name", NOW - timedelta(days=1, minutes=5))
    _failure("fresh-name", NOW - timedelta(hours=3))
    _session(user, "a" * 8, NOW - idle - timedelta(hours=1))  # idle past the timeout
    _session(user, "b" * 8, NOW - timedelta(minutes=5))  # in use
    db.session.commit()
    with time_machine.travel(NOW, tick=False), caplog.at_level(logging.INFO, logger="tracker.tasks.security"):
        assert purge_job.purge() == 2
    failures = db.session.scalars(select(LoginFailure.username)).all()
    assert failures == ["fresh-name"]
    kept = db.session.scalars(select(UserSession.token_hash).where(UserSession.user_id == user.id)).all()
    assert kept == ["b" * 8 + "0" * 56]
    assert "2 older than a day removed; 1 idle sessions removed" in caplog.text
    with time_machine.travel(NOW, tick=False):
        assert purge_job.purge() == 0  # a second run finds nothing more
    assert db.session.scalar(select(func.count()).select_from(LoginFailure)) == 1
