"""The global search's trigram indexes (PostgreSQL) and the audit view's journal indexes

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-12

PostgreSQL: the pg_trgm extension (a trusted extension: the database owner may create it) and a
GIN trigram index on task titles, task descriptions, comments (the journal rows of action
'comment') and evidence file names, which serve `ILIKE '%term%'` (tracker/search/service.py).
SQLite has no such index: the search there is a plain LIKE, and this part does nothing.

Both: (at, id) and (user_id, at) on journal_entries, for the audit view's newest-first pages of
the whole task journal and of one user's changes (tracker/audit/view.py).

The statements are a frozen copy of tracker/models/search_indexes.py (tests/test_search.py
checks that a migrated database has the same indexes as `create_all`).
"""

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = {
    "ix_tasks_title_trgm": "CREATE INDEX IF NOT EXISTS ix_tasks_title_trgm ON tasks USING gin (title gin_trgm_ops)",
    "ix_tasks_description_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_tasks_description_trgm ON tasks USING gin (description gin_trgm_ops)"
    ),
    "ix_journal_entries_comment_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_journal_entries_comment_trgm ON journal_entries "
        "USING gin (comment gin_trgm_ops) WHERE action = 'comment'"
    ),
    "ix_evidence_original_name_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_evidence_original_name_trgm ON evidence USING gin (original_name gin_trgm_ops)"
    ),
}


def upgrade():
    op.create_index("ix_journal_entries_at_id", "journal_entries", ["at", "id"])
    op.create_index("ix_journal_entries_user_id_at", "journal_entries", ["user_id", "at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in TRIGRAM_INDEXES.values():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in reversed(list(TRIGRAM_INDEXES)):
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_journal_entries_user_id_at", table_name="journal_entries")
    op.drop_index("ix_journal_entries_at_id", table_name="journal_entries")
