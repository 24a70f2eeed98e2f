"""The global search's trigram and bigram indexes (PostgreSQL) and the audit view's journal indexes

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-12

PostgreSQL: the pg_trgm extension (a trusted extension: the database owner may create it), the
function search_bigrams(text) and, on task titles, task descriptions, comments (the journal
rows of action 'comment') and evidence file names, a GIN trigram index (terms with three letters
or digits in a row) and a GIN bigram index (shorter terms: most Chinese words), which serve
`LIKE '%term%'` (tracker/search/service.py, tracker/models/search_indexes.py). SQLite has no
such index: the search there is a plain LIKE, and this part does nothing.

Both: (at, id) and (user_id, at) on journal_entries, for the audit view's newest-first pages of
the whole task journal and of one user's changes (tracker/audit/view.py).

The statements are a frozen copy of tracker/models/search_indexes.py (tests/test_search.py
checks that a migrated database has the same indexes and function as `create_all`).
"""

from alembic import op

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

BIGRAM_FUNCTION = """
CREATE OR REPLACE FUNCTION search_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ARRAY(SELECT DISTINCT substr(lower(value), i, 2) FROM generate_series(1, char_length(value) - 1) AS i)
$$
"""

_COMMENTS = "WHERE action = 'comment'"

SEARCH_INDEXES = {
    "ix_tasks_title_trgm": "CREATE INDEX IF NOT EXISTS ix_tasks_title_trgm ON tasks USING gin (title gin_trgm_ops)",
    "ix_tasks_description_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_tasks_description_trgm ON tasks USING gin (description gin_trgm_ops)"
    ),
    "ix_journal_entries_comment_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_journal_entries_comment_trgm ON journal_entries "
        f"USING gin (comment gin_trgm_ops) {_COMMENTS}"
    ),
    "ix_evidence_original_name_trgm": (
        "CREATE INDEX IF NOT EXISTS ix_evidence_original_name_trgm ON evidence USING gin (original_name gin_trgm_ops)"
    ),
    "ix_tasks_title_bigram": (
        "CREATE INDEX IF NOT EXISTS ix_tasks_title_bigram ON tasks USING gin (search_bigrams(title))"
    ),
    "ix_tasks_description_bigram": (
        "CREATE INDEX IF NOT EXISTS ix_tasks_description_bigram ON tasks USING gin (search_bigrams(description))"
    ),
    "ix_journal_entries_comment_bigram": (
        "CREATE INDEX IF NOT EXISTS ix_journal_entries_comment_bigram ON journal_entries "
        f"USING gin (search_bigrams(comment)) {_COMMENTS}"
    ),
    "ix_evidence_original_name_bigram": (
        "CREATE INDEX IF NOT EXISTS ix_evidence_original_name_bigram ON evidence "
        "USING gin (search_bigrams(original_name))"
    ),
}


def upgrade():
    op.create_index("ix_journal_entries_at_id", "journal_entries", ["at", "id"])
    op.create_index("ix_journal_entries_user_id_at", "journal_entries", ["user_id", "at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(BIGRAM_FUNCTION)
    for statement in SEARCH_INDEXES.values():
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in reversed(list(SEARCH_INDEXES)):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute("DROP FUNCTION IF EXISTS search_bigrams(text)")
    op.drop_index("ix_journal_entries_user_id_at", table_name="journal_entries")
    op.drop_index("ix_journal_entries_at_id", table_name="journal_entries")
