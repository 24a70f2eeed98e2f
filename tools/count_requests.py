"""A pytest plugin that counts the requests each test sends through the Flask test client, for
the figures in SECURITY.md: `pytest -p tools.count_requests tests/test_permission_matrix.py`.
Prints, per test function (parameters folded), the requests sent and their answers by class."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

_counts: dict[str, Counter] = defaultdict(Counter)
_current = {"test": None}


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def counted(self, *args, **kwargs):
        response = original(self, *args, **kwargs)
        if _current["test"] is not None:
            code = getattr(response, "status_code", 0)
            _counts[_current["test"]]["requests"] += 1
            _counts[_current["test"]][f"{code // 100}xx"] += 1
        return response

    FlaskClient.open = counted


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _current["test"] = f"{item.path.name}::{item.originalname}"
    yield
    _current["test"] = None


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line("requests sent per test (all parameters):")
    total = Counter()
    for name, counts in sorted(_counts.items()):
        total.update(counts)
        classes = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "requests")
        terminalreporter.write_line(f"  {counts['requests']:6d}  {name}  ({classes})")
    terminalreporter.write_line(f"  {total['requests']:6d}  in all")
