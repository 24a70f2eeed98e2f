"""Scheduled jobs and job commands end on a database error with one line, never a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from tracker.tasks import jobs


def database_down():
    raise OperationalError(
        "SELECT 1",
        {},
        Exception(
            'connection to server at "127.0.0.1", port 5432 failed: Connection refused\n\tIs the server running?'
        ),
    )


def test_a_scheduled_job_logs_one_line_on_a_database_error_and_does_not_raise(app, monkeypatch, caplog):
    monkeypatch.setattr("tracker.create_app", lambda: app)
    monkeypatch.setattr(jobs, "_dispose", lambda: None)
    with caplog.at_level(logging.INFO, logger="tracker.tasks.jobs"):
        jobs.scheduled("escalation", database_down)  # returns: APScheduler would log a traceback
    [record] = [r for r in caplog.records if r.name == "tracker.tasks.jobs"]
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert record.getMessage() == (
        "escalation: stopped on a database error, the next run carries on: "
        'Exception: connection to server at "127.0.0.1", port 5432 failed: Connection refused'
    )


@pytest.mark.parametrize("command", [["escalate", "--now", "2024-04-23T08:00"], ["progress", "refresh"]])
def test_a_job_command_exits_1_with_one_line_on_a_database_error(runner, monkeypatch, command):
    monkeypatch.setattr("tracker.tasks.escalation.escalate", lambda *a, **k: database_down())
    monkeypatch.setattr("tracker.progress.summary.refresh", lambda *a, **k: database_down())
    result = runner.invoke(args=command)
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "stopped on a database error" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, OperationalError)
