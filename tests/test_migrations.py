"""`flask db upgrade` builds the schema on an empty database, and it matches the models."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import inspect

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db


@pytest.fixture
def empty_database_url(scratch_database_url):
    return scratch_database_url


def _not_a_trigram_index(obj, name, type_, reflected, compare_to) -> bool:
    """The search's trigram and bigram indexes live outside the models (PostgreSQL only; compared
    with what create_all installs in tests/test_search.py)."""
    from tracker.models.search_indexes import SEARCH_INDEXES

    return not (type_ == "index" and name in SEARCH_INDEXES)


def test_upgrade_builds_the_schema_the_models_describe(empty_database_url):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="heads")
        engine = db.engine
        tables = set(inspect(engine).get_table_names())
        assert {
            "org_units",
            "users",
            "plans",
            "phases",
            "tasks",
            "task_co_owners",
            "journal_entries",
            "evidence",
            "indicator_definitions",
            "alembic_version",
        } <= tables
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _not_a_trigram_index}),
                db.metadata,
            )
        assert diff == []
        db.session.remove()
        engine.dispose()


def _installed_triggers(connection) -> set[tuple]:
    """Every trigger of the database with the source of what it runs."""
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT t.tgname, pg_get_triggerdef(t.oid), p.proname, p.prosrc FROM pg_trigger t "
            "JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal"
        )
    else:
        rows = connection.exec_driver_sql("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    return {tuple(row) for row in rows}


def test_a_migrated_database_has_the_triggers_the_code_installs(app, scratch_database_url):
    """The migrations freeze their SQL; tracker/models/triggers.py (create_all) must install the
    same triggers as the latest migration."""
    with db.engine.connect() as conn:
        created = _installed_triggers(conn)
    migrated_app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with migrated_app.app_context():
        upgrade(revision="heads")
        with db.engine.connect() as conn:
            migrated = _installed_triggers(conn)
        db.session.remove()
        db.engine.dispose()
    assert len(created) >= 10
    assert migrated == created


def test_no_migration_imports_the_application():
    """Replaying an old migration must install what it installed then, not today's code."""
    import ast
    from pathlib import Path

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    for path in sorted(versions.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "tracker" or n.startswith("tracker.") for n in names), path.name
