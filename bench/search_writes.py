"""Benchmark: what the global search's indexes (migration 0044: trigram and bigram GIN indexes on
task titles and descriptions) cost every write of a task, on PostgreSQL.

    .venv/bin/python bench/search_writes.py --database NAME [--updates 500]

Against a built data set (bench/daily.py --keep or bench/search.py --keep: the national set,
~1,000,000 tasks), times `--updates` single-row updates, each in its own transaction as a page's
write is, of two kinds: a leaf percent update (progress, updated_at, version: the indexed
updated_at makes every such update a non-HOT one, so each index of the table takes a new entry)
and a rename (the indexed text itself changes). First with the search indexes, then with them
dropped inside a transaction that is rolled back afterwards (the data set keeps them). Prints
the median and p95 of each, and the indexes' sizes and pending-list settings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench.progress import percentile  # noqa: E402

SEARCH_INDEXES = (
    "ix_tasks_title_trgm",
    "ix_tasks_description_trgm",
    "ix_tasks_title_bigram",
    "ix_tasks_description_bigram",
)
PERCENT = "UPDATE tasks SET progress = %s, updated_at = now(), version = version + 1 WHERE id = %s"
RENAME = "UPDATE tasks SET title = title || %s, updated_at = now(), version = version + 1 WHERE id = %s"


def timed(connection, statement: str, ids: list[int], value) -> list[float]:
    """Each update in a savepoint of its own, released at once (the outer transaction is kept so
    that the second round can run with the indexes dropped and everything rolls back)."""
    times = []
    with connection.cursor() as cursor:
        for task_id in ids:
            started = time.perf_counter()
            cursor.execute("SAVEPOINT one")
            cursor.execute(statement, (value, task_id))
            cursor.execute("RELEASE SAVEPOINT one")
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    with psycopg.connect(f"host={args.host} user=postgres dbname={args.database}") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tasks")
            tasks = cursor.fetchone()[0]
            cursor.execute(
                "SELECT indexname, pg_relation_size(indexname::regclass) FROM pg_indexes WHERE indexname = ANY(%s)",
                (list(SEARCH_INDEXES),),
            )
            sizes = dict(cursor.fetchall())
            if len(sizes) < len(SEARCH_INDEXES):
                sys.exit(f"{args.database}: the search indexes are missing (flask db upgrade heads)")
            cursor.execute(
                "SELECT id FROM tasks t WHERE NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id) "
                "ORDER BY md5(id::text) LIMIT %s",
                (2 * args.updates,),
            )
            ids = [row[0] for row in cursor.fetchall()]
        first, second = ids[: args.updates], ids[args.updates :]
        rows = []
        for label, drop in (("with the search indexes", False), ("without them", True)):
            if drop:
                with connection.cursor() as cursor:
                    for name in SEARCH_INDEXES:
                        cursor.execute(f"DROP INDEX {name}")
            # warm: the rows and the index pages they touch
            timed(connection, PERCENT, first[:20], 0.5)
            percent = timed(connection, PERCENT, first if not drop else second, 0.4)
            rename = timed(connection, RENAME, second if not drop else first, "·")
            rows.append((label, percent, rename))
        connection.rollback()
    print(f"data set: {args.database}, {tasks} tasks; {args.updates} updates of each kind, one row each")
    print("search indexes: " + ", ".join(f"{n} {sizes[n] / 1048576:.0f} MB" for n in SEARCH_INDEXES))
    print(f"{'':26}{'percent update ms':>22}{'rename ms':>22}")
    print(f"{'':26}{'median':>11}{'p95':>11}{'median':>11}{'p95':>11}")
    for label, percent, rename in rows:
        figures = []
        for times in (percent, rename):
            values = sorted(times)
            figures += [1000 * statistics.median(values), 1000 * percentile(values, 0.95)]
        print(f"{label:26}" + "".join(f"{f:11.3f}" for f in figures))


if __name__ == "__main__":
    main()
