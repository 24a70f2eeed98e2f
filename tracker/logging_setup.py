"""Logging for the web workers, the scheduler and the commands: one line per event.

`LOG_LEVEL` (default INFO) sets the level of the app's loggers; APScheduler's own chatter ("Running
job …" every minute) stays at WARNING unless LOG_LEVEL is DEBUG. Every record carries the request
id (`-` outside a request, tracker/errors.py), and a record's traceback is folded into its line
(` | ` between the lines), so a log collector sees each event as one line:

    2026-12-10 08:00:01,234 ERROR tracker [3f2a9c1e5b7d4a60] 500 GET /plans: unhandled RuntimeError | Traceback …

Configured by create_app() once per process (not in tests, whose runner captures logs itself).
"""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_MARK = "_tracker_handler"


class OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


def install_request_ids() -> None:
    """Every log record gets `request_id` (whichever handler formats it, the test runner's too)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_tracker_request_ids", False):
        return

    def factory(*args, **kwargs):
        record = current(*args, **kwargs)
        from tracker.errors import current_request_id

        try:
            record.request_id = current_request_id()
        except RuntimeError:  # no app or request context
            record.request_id = "-"
        return record

    factory._tracker_request_ids = True
    logging.setLogRecordFactory(factory)


def level_from_environment(default: str = "INFO") -> int:
    name = (os.environ.get("LOG_LEVEL") or default).strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def configure_logging(stream=None) -> logging.Handler:
    """One stderr handler on the root logger with the one-line format (once per process)."""
    install_request_ids()
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, _MARK, False):
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(OneLineFormatter(FORMAT))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    level = level_from_environment()
    root.setLevel(level)
    logging.getLogger("apscheduler").setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    return handler
