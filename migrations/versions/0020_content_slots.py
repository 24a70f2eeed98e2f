"""the content counter in slots: concurrent writers no longer queue on one row

Revision ID: 0020
Revises: 0012
Create Date: 2026-12-03

Every change to what the progress pages show by name (plans, phases, units, escalations, task
names, headings' places) raised one row, `progress_content` id 1, so every such write on every
web machine waited for the one before it to commit. The two PostgreSQL functions now raise the
slot of their transaction id (1 + txid % 16): concurrent transactions mostly touch different rows.
The version the pages are cached under is the sum of the slots (tracker/progress/pages.py), which
every raise increases. SQLite keeps one slot (one writer at a time).

Downgrading folds the slots into row 1 (their sum, so the version never goes back) and restores
0012's functions. The SQL is frozen here.
"""

from alembic import op

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None

PG_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION progress_content_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM progress_rows) THEN
    INSERT INTO progress_content (id, version) VALUES (1 + mod(txid_current(), 16)::int, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION progress_content_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT id, ref, title, parent_id IS NULL, CASE WHEN parent_id IS NULL THEN position END FROM progress_new EXCEPT SELECT id, ref, title, parent_id IS NULL, CASE WHEN parent_id IS NULL THEN position END FROM progress_old) THEN
    INSERT INTO progress_content (id, version) VALUES (1 + mod(txid_current(), 16)::int, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
]

# as migration 0012 left them
PG_FUNCTIONS_0012 = [
    """
CREATE OR REPLACE FUNCTION progress_content_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM progress_rows) THEN
    INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION progress_content_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT id, ref, title, parent_id IS NULL, CASE WHEN parent_id IS NULL THEN position END FROM progress_new EXCEPT SELECT id, ref, title, parent_id IS NULL, CASE WHEN parent_id IS NULL THEN position END FROM progress_old) THEN
    INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
]


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        for statement in PG_FUNCTIONS:
            connection.exec_driver_sql(statement)


def downgrade():
    connection = op.get_bind()
    connection.exec_driver_sql(
        "INSERT INTO progress_content (id, version) SELECT 1, COALESCE(SUM(version), 0) FROM progress_content WHERE true "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version"
    )
    connection.exec_driver_sql("DELETE FROM progress_content WHERE id <> 1")
    if connection.dialect.name == "postgresql":
        for statement in PG_FUNCTIONS_0012:
            connection.exec_driver_sql(statement)
