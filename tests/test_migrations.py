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


def test_upgrade_builds_the_schema_the_models_describe(empty_database_url):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="heads")
        engine = db.engine
        tables = set(inspect(engine).get_table_names())
        assert {"org_units", "users", "plans", "phases", "tasks", "task_co_owners", "journal_entries",
                "evidence", "indicator_definitions", "alembic_version"} <= tables
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == []
        db.session.remove()
        engine.dispose()
