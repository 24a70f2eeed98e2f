"""triggers on tasks linear in the rows changed; indexes for the badge, my work and the overdue list

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

The statement-level triggers on `tasks` found an UPDATE's changed rows by joining its two
transition tables (`progress_old o JOIN progress_new n ON n.id = o.id`). Transition tables have
no statistics, and PostgreSQL 15 planned the content trigger's `EXISTS` over that join as a
nested loop: a statement updating n rows cost O(n²) (2,500 rows 0.45 s, 10,000 rows 7.1 s), so
`flask demo generate --scale national` and every bulk update crawled. The functions now compare
the two tables with EXCEPT, which PostgreSQL plans as a hash or a sort of each side, never as a
join: O(rows changed) whatever the planner estimates. The triggers themselves (events, tables)
are unchanged; SQLite's are row-level and stay as they are.

Indexes:
- ix_tasks_owner_status_due (owner_unit_id, status, due_on): one unit's overdue, returned and
  submitted tasks, counted from the index (the navigation badge, my work).
- ix_tasks_overdue_due (due_on, id) over the tasks in a state that can be overdue: the overdue
  list "most late first" read in index order with keyset pagination, no sort of every row.

The SQL is frozen here; tracker/models/triggers.py holds the same text for `create_all`, and
tests/test_migrations.py checks that the two agree.
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OVERDUE_STATUSES = ("not_started", "in_progress", "returned", "blocked")

PG_FUNCTIONS = [
    """
CREATE OR REPLACE FUNCTION progress_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT n.id FROM progress_new n UNION SELECT n.parent_id FROM progress_new n WHERE n.parent_id IS NOT NULL) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT o.id FROM progress_old o UNION SELECT o.parent_id FROM progress_old o WHERE o.parent_id IS NOT NULL) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
  ELSE
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT id FROM (SELECT id, status, progress, weight, due_on, completed_on, owner_unit_id, phase_id, parent_id, path, plan_id, start_on FROM progress_new EXCEPT SELECT id, status, progress, weight, due_on, completed_on, owner_unit_id, phase_id, parent_id, path, plan_id, start_on FROM progress_old) changed UNION SELECT parent_id FROM (SELECT id, parent_id FROM progress_new EXCEPT SELECT id, parent_id FROM progress_old) moved_to WHERE parent_id IS NOT NULL UNION SELECT parent_id FROM (SELECT id, parent_id FROM progress_old EXCEPT SELECT id, parent_id FROM progress_new) moved_from WHERE parent_id IS NOT NULL) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
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

# as revision 0011 left them (for downgrade)
PG_FUNCTIONS_0011 = [
    """
CREATE OR REPLACE FUNCTION progress_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT n.id FROM progress_new n UNION SELECT n.parent_id FROM progress_new n WHERE n.parent_id IS NOT NULL) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT o.id FROM progress_old o UNION SELECT o.parent_id FROM progress_old o WHERE o.parent_id IS NOT NULL) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
  ELSE
    INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM (SELECT n.id FROM progress_old o JOIN progress_new n ON n.id = o.id WHERE (o.status, o.progress, o.weight, o.due_on, o.completed_on, o.owner_unit_id, o.phase_id, o.parent_id, o.path, o.plan_id, o.start_on) IS DISTINCT FROM (n.status, n.progress, n.weight, n.due_on, n.completed_on, n.owner_unit_id, n.phase_id, n.parent_id, n.path, n.plan_id, n.start_on) UNION SELECT p.id FROM progress_old o JOIN progress_new n ON n.id = o.id JOIN tasks p ON p.id IN (o.parent_id, n.parent_id) WHERE o.parent_id IS DISTINCT FROM n.parent_id) s ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE OR REPLACE FUNCTION progress_content_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM progress_old o JOIN progress_new n ON n.id = o.id WHERE (o.ref IS DISTINCT FROM n.ref OR o.title IS DISTINCT FROM n.title OR ((o.parent_id IS NULL OR n.parent_id IS NULL) AND (o.position IS DISTINCT FROM n.position OR o.parent_id IS DISTINCT FROM n.parent_id)))) THEN
    INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
]


def _run(statements):
    connection = op.get_bind()
    for statement in statements:
        connection.exec_driver_sql(statement)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _overdue_states():
    return sa.text("status IN (" + ", ".join(f"'{s}'" for s in OVERDUE_STATUSES) + ")")


def upgrade():
    if _postgresql():
        _run(PG_FUNCTIONS)
    op.create_index("ix_tasks_owner_status_due", "tasks", ["owner_unit_id", "status", "due_on"])
    op.create_index(
        "ix_tasks_overdue_due",
        "tasks",
        ["due_on", "id"],
        postgresql_where=_overdue_states(),
        sqlite_where=_overdue_states(),
    )


def downgrade():
    op.drop_index("ix_tasks_overdue_due", table_name="tasks")
    op.drop_index("ix_tasks_owner_status_due", table_name="tasks")
    if _postgresql():
        _run(PG_FUNCTIONS_0011)
