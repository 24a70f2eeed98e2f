"""Dashboards off the primary (DATABASE_READ_URL): a progress page rendered afresh reads on the
replica only when the replica has caught up with the version read from the primary; a lagging
or unreachable replica costs nothing but the primary's reads."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from conftest import count_queries
from test_progress import TODAY, plan_tree  # noqa: F401  (the hand-built plan)
from test_progress_cache import aggregates, content, frozen_today, leader, summary  # noqa: F401
from tracker import replica
from tracker.extensions import db
from tracker.progress import pages

URL = "/progress/progress-plan"


@pytest.fixture
def read_url(app, database_url, monkeypatch):
    """A replica engine on the test database: it sees what is committed, not the test's own
    (rolled-back) rows, which is what a replica behind the primary sees."""
    monkeypatch.setitem(app.config, "DATABASE_READ_URL", database_url)
    yield database_url
    made = app.extensions.pop("tracker_replica", None)
    if made is not None:
        made[1].dispose()


@contextmanager
def replica_statements():
    engine = replica.replica_engine()

    class Seen(list):
        @property
        def sql(self):
            return self

    seen = Seen()

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_a_replica_behind_the_version_is_asked_its_version_and_the_page_renders_on_the_primary(
    client, summary, leader, read_url
):  # noqa: F811
    with replica_statements() as on_replica, count_queries() as on_primary:
        page = client.get(URL)
    assert page.status_code == 200
    # the replica has neither the summary of today nor the plan: it is behind
    assert len(on_replica) == 1 and "progress_state" in on_replica[0]
    assert aggregates(on_primary), "the figures came from the primary"
    assert "1.1" in content(page) or "progress-plan" in page.get_data(as_text=True)


def test_a_replica_that_caught_up_serves_the_page_queries(client, summary, leader, read_url, monkeypatch):  # noqa: F811
    primary_version = pages.page_version(TODAY)
    real = pages.page_version

    def caught_up(today, connection=None):  # the replica reports the primary's version
        return primary_version if connection is not None else real(today)

    monkeypatch.setattr(pages, "page_version", caught_up)
    with replica_statements() as on_replica, count_queries() as on_primary:
        page = client.get(URL)
    assert page.status_code == 200
    assert aggregates(on_replica), "the figures were read on the replica"
    assert not aggregates(on_primary)
    # writes never go to the replica, even inside its block
    engine = replica.replica_engine()
    session = db.session()
    with replica.on_replica(engine):
        assert session.get_bind() is engine  # reads
        session._flushing = True
        try:
            assert session.get_bind() is not engine  # a flush writes to the primary
        finally:
            session._flushing = False
    assert session.get_bind() is not engine


def test_a_replica_out_of_reach_costs_a_primary_render(client, summary, leader, app, monkeypatch, tmp_path):  # noqa: F811
    monkeypatch.setitem(
        app.config,
        "DATABASE_READ_URL",
        "postgresql+psycopg://postgres@127.0.0.1:1/none"
        if db.engine.dialect.name == "postgresql"
        else f"sqlite:///{tmp_path}/no/such/folder/replica.db",
    )
    try:
        with count_queries() as on_primary:
            page = client.get(URL)
        assert page.status_code == 200 and aggregates(on_primary)
    finally:
        made = app.extensions.pop("tracker_replica", None)
        if made is not None:
            made[1].dispose()


def test_without_a_read_url_nothing_is_routed(app):
    assert replica.replica_engine() is None
    assert app.config["DATABASE_READ_URL"] == ""
