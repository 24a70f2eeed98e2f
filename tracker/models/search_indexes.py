"""The trigram indexes of the global search (tracker/search/service.py), PostgreSQL only.

`ILIKE '%term%'` cannot use a B-tree; pg_trgm's GIN operator class serves it: the index holds
the trigrams of each text, a search reads the rows whose text has every trigram of the term and
rechecks them. One index per searched text: task titles, task descriptions, comments (journal
rows of action 'comment': a partial index, so the rest of the journal costs nothing) and the
original names of evidence files.

They are not in the models' metadata (SQLite has no such index, and the migration does nothing
there): `create_all` installs them on PostgreSQL through the hook at the end of tracker/models/tasks.py,
migration 0044 holds its own frozen copy of the same statements, and tests/test_search.py checks
that a migrated database has exactly the indexes these install. Nothing here imports a service.
"""

from __future__ import annotations

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


def install_search_indexes(connection) -> None:
    """pg_trgm and the trigram indexes (PostgreSQL; nothing elsewhere)."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in TRIGRAM_INDEXES.values():
        connection.exec_driver_sql(statement)
