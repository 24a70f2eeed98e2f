"""The indexes of the global search (tracker/search/service.py), PostgreSQL only.

`LIKE '%term%'` cannot use a B-tree. Two kinds of GIN index serve it, one of each per searched
text (task titles, task descriptions, comments, i.e. journal rows of action 'comment' in a
partial index so the rest of the journal costs nothing, and the original names of evidence
files):

- trigram (pg_trgm's `gin_trgm_ops`): the rows whose text holds every trigram of the term, then
  rechecked. It serves a term with a run of three or more letters or digits;
- bigram (`search_bigrams(text)`, the distinct two-character pieces of the lower-cased text, in
  an array): `search_bigrams(title) @> search_bigrams(term)`, then rechecked with LIKE. Chinese
  words are mostly two characters (质控, 院感, 护理), which hold no trigram: pg_trgm would read
  the whole index for them (its "match everything" mode) and a million rows would take seconds.
  pg_bigm does this as an extension; it is not in Debian's packages, this needs nothing.

They are not in the models' metadata (SQLite has no such index, and the migration does nothing
there): `create_all` installs them on PostgreSQL through the hook at the end of
tracker/models/tasks.py, migration 0044 holds its own frozen copy of the same statements, and
tests/test_search.py checks that a migrated database has exactly the indexes these install.
Nothing here imports a service.
"""

from __future__ import annotations

# IMMUTABLE so an index may hold it: lower() of the database's own ctype; the array of distinct
# two-character pieces ('' and one character: empty).
BIGRAM_FUNCTION = """
CREATE OR REPLACE FUNCTION search_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT ARRAY(SELECT DISTINCT substr(lower(value), i, 2) FROM generate_series(1, char_length(value) - 1) AS i)
$$
"""

_COMMENTS = "WHERE action = 'comment'"

TRIGRAM_INDEXES = {
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
}

BIGRAM_INDEXES = {
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

SEARCH_INDEXES = {**TRIGRAM_INDEXES, **BIGRAM_INDEXES}


def install_search_indexes(connection) -> None:
    """pg_trgm, the bigram function and the search's indexes (PostgreSQL; nothing elsewhere)."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    connection.exec_driver_sql(BIGRAM_FUNCTION)
    for statement in SEARCH_INDEXES.values():
        connection.exec_driver_sql(statement)
