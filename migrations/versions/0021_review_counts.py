"""maintained figures for the navigation badge: submitted tasks per owner unit (marks, folded)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03

"Awaiting my review" (part of the badge on every page, and of my work) counted the submitted
tasks under a coordinator's unit from `tasks`, a scan for national and provincial coordinators and
admins. Now:
- `review_marks` (insert-only): triggers on `tasks` add, in the writer's transaction, the change
  of each owner unit's submitted tasks (+n / -n; unit 0: no owner) per statement (PostgreSQL: statement-level with
  transition tables compared by EXCEPT ALL, O(rows changed); SQLite: row-level);
- `review_counts`: per owner unit, the submitted tasks as of the last fold (the scheduler folds
  every minute), filled here from the tasks.
A reader sums both over the units it reviews. The SQL is frozen here; tracker/models/work.py
holds the same for `create_all`, and tests/test_migrations.py checks they agree.
"""

from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0027"
branch_labels = None
depends_on = None

PG_DDL = [
    """
CREATE OR REPLACE FUNCTION review_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, count(*) FROM (SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_new WHERE status = 'submitted') s GROUP BY owner_unit_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, -count(*) FROM (SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_old WHERE status = 'submitted') s GROUP BY owner_unit_id;
  ELSE
    INSERT INTO review_marks (unit_id, delta) SELECT owner_unit_id, sum(delta) FROM (SELECT owner_unit_id, 1 AS delta FROM (SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_new WHERE status = 'submitted' EXCEPT ALL SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_old WHERE status = 'submitted') came UNION ALL SELECT owner_unit_id, -1 FROM (SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_old WHERE status = 'submitted' EXCEPT ALL SELECT id, COALESCE(owner_unit_id, 0) AS owner_unit_id FROM review_new WHERE status = 'submitted') went) d GROUP BY owner_unit_id HAVING sum(delta) <> 0;
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS review_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS review_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS review_tasks_del ON tasks",
    "CREATE TRIGGER review_tasks_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS review_new FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
    "CREATE TRIGGER review_tasks_upd AFTER UPDATE ON tasks REFERENCING OLD TABLE AS review_old NEW TABLE AS review_new FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
    "CREATE TRIGGER review_tasks_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS review_old FOR EACH STATEMENT EXECUTE FUNCTION review_mark_tasks()",
]

SQLITE_DDL = [
    "DROP TRIGGER IF EXISTS review_tasks_ins",
    "DROP TRIGGER IF EXISTS review_tasks_upd",
    "DROP TRIGGER IF EXISTS review_tasks_del",
    "CREATE TRIGGER review_tasks_ins AFTER INSERT ON tasks BEGIN INSERT INTO review_marks (unit_id, delta) SELECT COALESCE(NEW.owner_unit_id, 0), 1 WHERE NEW.status = 'submitted'; END",
    "CREATE TRIGGER review_tasks_upd AFTER UPDATE OF status, owner_unit_id ON tasks WHEN OLD.status IS NOT NEW.status OR OLD.owner_unit_id IS NOT NEW.owner_unit_id BEGIN INSERT INTO review_marks (unit_id, delta) SELECT COALESCE(OLD.owner_unit_id, 0), -1 WHERE OLD.status = 'submitted'; INSERT INTO review_marks (unit_id, delta) SELECT COALESCE(NEW.owner_unit_id, 0), 1 WHERE NEW.status = 'submitted'; END",
    "CREATE TRIGGER review_tasks_del AFTER DELETE ON tasks BEGIN INSERT INTO review_marks (unit_id, delta) SELECT COALESCE(OLD.owner_unit_id, 0), -1 WHERE OLD.status = 'submitted'; END",
]


def upgrade():
    op.create_table(
        "review_counts",
        sa.Column("unit_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id"),
    )
    op.create_table(
        "review_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_marks_unit_id", "review_marks", ["unit_id"])
    connection = op.get_bind()
    for statement in PG_DDL if connection.dialect.name == "postgresql" else SQLITE_DDL:
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(
        "INSERT INTO review_counts (unit_id, submitted) SELECT COALESCE(owner_unit_id, 0), count(*) FROM tasks "
        "WHERE status = 'submitted' GROUP BY COALESCE(owner_unit_id, 0)"
    )


def downgrade():
    connection = op.get_bind()
    for statement in PG_DDL if connection.dialect.name == "postgresql" else SQLITE_DDL:
        if statement.startswith("DROP"):
            connection.exec_driver_sql(statement)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS review_mark_tasks()")
    op.drop_index("ix_review_marks_unit_id", table_name="review_marks")
    op.drop_table("review_marks")
    op.drop_table("review_counts")
