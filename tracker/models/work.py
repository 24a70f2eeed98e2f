"""Maintained figures for the navigation badge and "my work": submitted tasks per owner unit.

"Awaiting my review" is the submitted tasks owned by the units strictly under a coordinator's
(every submitted task for an admin): for a national coordinator that is every province's. Counting
them from `tasks` on every page cost a scan; instead:

- `review_marks`: one row per (statement, owner unit) whose submitted tasks came or went, with the
  change (+n / -n), inserted by triggers on `tasks` in the writer's own transaction (ORM writes
  and bulk statements alike; insert-only, so concurrent writers never wait on one another);
- `review_counts`: per owner unit, the submitted tasks as of the last fold (unit 0: the tasks
  without an owner, which only an admin reviews).

A reader sums both over the units it reviews (a few hundred rows at most, one statement), so the
figure is exact at every moment whatever the fold lag. The scheduler's progress job folds the
marks into the counts every minute (tracker/plans/work_counts.py); `flask progress refresh
--rebuild` recomputes the counts from the tasks. The other parts of the badge (one's own unit's
overdue and returned tasks) are counted from the index (owner_unit_id, status, due_on).

Migration 0021 freezes the same SQL; tests/test_migrations.py checks they agree.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, event
from sqlalchemy.orm import Mapped, mapped_column

from tracker.extensions import db


class ReviewCount(db.Model):
    __tablename__ = "review_counts"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    submitted: Mapped[int] = mapped_column(Integer, default=0)


class ReviewMark(db.Model):
    __tablename__ = "review_marks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    delta: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_review_marks_unit_id", "unit_id"),)


# -- triggers --------------------------------------------------------------------------------
# PostgreSQL: statement-level with transition tables; an UPDATE's submitted rows that came or
# went are found with EXCEPT ALL over the two tables (a hash or sort of each side, never a join:
# O(rows changed), see tracker/models/triggers.py). SQLite: row-level.

_SUBMITTED = "SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM {t} WHERE status = 'submitted'"

PG_DDL = [
    f"""
CREATE OR REPLACE FUNCTION review_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, count(*) FROM ({_SUBMITTED.format(t="review_new")}) s GROUP BY owner_unit_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, -count(*) FROM ({_SUBMITTED.format(t="review_old")}) s GROUP BY owner_unit_id;
  ELSE
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, sum(delta) FROM (SELECT owner_unit_id, 1 AS delta FROM ({_SUBMITTED.format(t="review_new")} EXCEPT ALL {_SUBMITTED.format(t="review_old")}) came UNION ALL SELECT owner_unit_id, -1 FROM ({_SUBMITTED.format(t="review_old")} EXCEPT ALL {_SUBMITTED.format(t="review_new")}) went) d GROUP BY owner_unit_id HAVING sum(delta) <> 0;
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS review_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS review_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS review_tasks_del ON tasks",
    "CREATE TRIGGER review_tasks_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS review_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
    "CREATE TRIGGER review_tasks_upd AFTER UPDATE ON tasks REFERENCING OLD TABLE AS review_old NEW TABLE AS review_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
    "CREATE TRIGGER review_tasks_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS review_old "
    "FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
]


def _sqlite_mark(row: str, delta: int) -> str:
    return (
        f"INSERT INTO review_marks (unit_id, delta) SELECT COALESCE({row}.owner_unit_id, 0), {delta} "
        f"WHERE {row}.status = 'submitted';"
    )


SQLITE_DDL = [
    "DROP TRIGGER IF EXISTS review_tasks_ins",
    "DROP TRIGGER IF EXISTS review_tasks_upd",
    "DROP TRIGGER IF EXISTS review_tasks_del",
    f"CREATE TRIGGER review_tasks_ins AFTER INSERT ON tasks BEGIN {_sqlite_mark('NEW', 1)} END",
    "CREATE TRIGGER review_tasks_upd AFTER UPDATE OF status, owner_unit_id ON tasks "
    "WHEN OLD.status IS NOT NEW.status OR OLD.owner_unit_id IS NOT NEW.owner_unit_id "
    f"BEGIN {_sqlite_mark('OLD', -1)} {_sqlite_mark('NEW', 1)} END",
    f"CREATE TRIGGER review_tasks_del AFTER DELETE ON tasks BEGIN {_sqlite_mark('OLD', -1)} END",
]


def install_review_triggers(connection) -> None:
    for statement in PG_DDL if connection.dialect.name == "postgresql" else SQLITE_DDL:
        connection.exec_driver_sql(statement)


@event.listens_for(db.metadata, "after_create")
def _install_review_triggers(target, connection, **kw):  # create_all (tests, a fresh SQLite file)
    install_review_triggers(connection)
