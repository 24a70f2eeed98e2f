"""The content counter in slots (migration 0020): concurrent writers of what the progress pages
show by name do not queue on one row, and the version the pages are cached under (the sum of
the slots) rises with every write whichever slot it raised."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from conftest import requires_postgresql
from tracker.extensions import db
from tracker.models import ProgressContent
from tracker.models.triggers import CONTENT_SLOTS
from tracker.progress.pages import page_version
from tracker.progress.summary import rebuild
from test_progress import TODAY, plan_tree  # noqa: F401


def test_the_version_is_the_sum_of_the_slots(plan_tree):  # noqa: F811
    rebuild(TODAY)
    before = page_version(TODAY)
    # another slot raised once (the fixture's own writes may already have made any slot's row:
    # which one is the transaction id's residue, so pick the slot by what is there)
    slot = db.session.get(ProgressContent, CONTENT_SLOTS)
    if slot is None:
        db.session.add(ProgressContent(id=CONTENT_SLOTS, version=1))
    else:
        slot.version += 1
    db.session.flush()
    after = page_version(TODAY)
    assert after[-1] == before[-1] + 1 and after != before
    db.session.execute(text("UPDATE plans SET title = title || '!' WHERE id = (SELECT min(id) FROM plans)"))
    assert page_version(TODAY)[-1] == after[-1] + 1  # the trigger's raise counts whatever its slot


def test_two_writers_of_names_at_once_do_not_wait_for_each_other(database_url):
    requires_postgresql(database_url, "PostgreSQL's row locks (SQLite has one writer at a time)")
    engine = create_engine(database_url)
    first, second = engine.connect(), engine.connect()
    try:
        first.execute(text("UPDATE plans SET title = title WHERE id = (SELECT min(id) FROM plans)"))
        second.execute(text("SET lock_timeout = '2s'"))
        # with one counter row this waited for `first` to end (and here failed after 2 s)
        try:
            second.execute(text("UPDATE plans SET title = title WHERE id = (SELECT max(id) FROM plans)"))
        except OperationalError as error:  # pragma: no cover  (the regression)
            pytest.fail(f"the second writer waited on the first: {error.orig}")
        slots = [
            c.execute(text("SELECT 1 + mod(txid_current(), :n)::int"), {"n": CONTENT_SLOTS}).scalar()
            for c in (first, second)
        ]
        assert slots[0] != slots[1]
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
        engine.dispose()
