"""progress summary: work items, roll-up per unit subtree, daily counts, dirty owners (triggers)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

The summary starts empty with no `as_of`: the pages read the tasks until the scheduler (or
`flask progress refresh --rebuild`) builds it. The triggers that mark changed owners are the
ones tracker/progress/summary.py held at this revision, frozen here (CREATE OR REPLACE: a later
revision re-installs its own): replaying this revision installs these, whatever the code is now.
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# -- the triggers as they were at this revision (they mark (plan, owner) pairs) ----------------

PG_TRIGGERS = [
    """
CREATE OR REPLACE FUNCTION progress_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO progress_dirty (plan_id, owner_unit_id, marks)
    SELECT plan_id, owner_unit_id, 1 FROM (
      SELECT n.plan_id, COALESCE(n.owner_unit_id, 0) AS owner_unit_id FROM progress_new n
      UNION SELECT p.plan_id, COALESCE(p.owner_unit_id, 0) FROM progress_new n JOIN tasks p ON p.id = n.parent_id
    ) s
    ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = progress_dirty.marks + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO progress_dirty (plan_id, owner_unit_id, marks)
    SELECT plan_id, owner_unit_id, 1 FROM (
      SELECT o.plan_id, COALESCE(o.owner_unit_id, 0) AS owner_unit_id FROM progress_old o
      UNION SELECT p.plan_id, COALESCE(p.owner_unit_id, 0) FROM progress_old o JOIN tasks p ON p.id = o.parent_id
    ) s
    ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = progress_dirty.marks + 1;
  ELSE
    INSERT INTO progress_dirty (plan_id, owner_unit_id, marks)
    SELECT plan_id, owner_unit_id, 1 FROM (
      SELECT o.plan_id, COALESCE(o.owner_unit_id, 0) AS owner_unit_id
        FROM progress_old o JOIN progress_new n ON n.id = o.id
       WHERE (o.status, o.progress, o.weight, o.due_on, o.completed_on, o.owner_unit_id, o.phase_id, o.parent_id, o.path, o.plan_id) IS DISTINCT FROM (n.status, n.progress, n.weight, n.due_on, n.completed_on, n.owner_unit_id, n.phase_id, n.parent_id, n.path, n.plan_id)
      UNION SELECT n.plan_id, COALESCE(n.owner_unit_id, 0)
        FROM progress_old o JOIN progress_new n ON n.id = o.id
       WHERE (o.status, o.progress, o.weight, o.due_on, o.completed_on, o.owner_unit_id, o.phase_id, o.parent_id, o.path, o.plan_id) IS DISTINCT FROM (n.status, n.progress, n.weight, n.due_on, n.completed_on, n.owner_unit_id, n.phase_id, n.parent_id, n.path, n.plan_id)
      UNION SELECT p.plan_id, COALESCE(p.owner_unit_id, 0)
        FROM progress_old o JOIN progress_new n ON n.id = o.id JOIN tasks p ON p.id IN (o.parent_id, n.parent_id)
       WHERE o.parent_id IS DISTINCT FROM n.parent_id
    ) s
    ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = progress_dirty.marks + 1;
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_del ON tasks",
    "CREATE TRIGGER progress_tasks_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS progress_new FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
    "CREATE TRIGGER progress_tasks_upd AFTER UPDATE ON tasks REFERENCING OLD TABLE AS progress_old NEW TABLE AS progress_new FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
    "CREATE TRIGGER progress_tasks_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS progress_old FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
    """
CREATE OR REPLACE FUNCTION progress_mark_phases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO progress_dirty (plan_id, owner_unit_id, marks)
  SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks
   WHERE phase_id IS NULL AND plan_id IN (COALESCE(NEW.plan_id, OLD.plan_id), COALESCE(OLD.plan_id, NEW.plan_id))
  ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = progress_dirty.marks + 1;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_phases ON phases",
    "CREATE TRIGGER progress_phases AFTER INSERT OR DELETE OR UPDATE OF start_on, end_on, position ON phases FOR EACH ROW EXECUTE FUNCTION progress_mark_phases()",
    """
CREATE OR REPLACE FUNCTION progress_units_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE progress_state SET as_of = NULL;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_units ON org_units",
    "CREATE TRIGGER progress_units AFTER UPDATE OF path ON org_units FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION progress_units_moved()",
]

SQLITE_TRIGGERS = [
    "DROP TRIGGER IF EXISTS progress_tasks_ins",
    "DROP TRIGGER IF EXISTS progress_tasks_upd",
    "DROP TRIGGER IF EXISTS progress_tasks_del",
    "DROP TRIGGER IF EXISTS progress_phases_ins",
    "DROP TRIGGER IF EXISTS progress_phases_upd",
    "DROP TRIGGER IF EXISTS progress_phases_del",
    "DROP TRIGGER IF EXISTS progress_units",
    "CREATE TRIGGER progress_tasks_ins AFTER INSERT ON tasks BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) VALUES (NEW.plan_id, COALESCE(NEW.owner_unit_id, 0), 1) ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE id = NEW.parent_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_tasks_upd AFTER UPDATE ON tasks WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress OR OLD.weight IS NOT NEW.weight OR OLD.due_on IS NOT NEW.due_on OR OLD.completed_on IS NOT NEW.completed_on OR OLD.owner_unit_id IS NOT NEW.owner_unit_id OR OLD.phase_id IS NOT NEW.phase_id OR OLD.parent_id IS NOT NEW.parent_id OR OLD.path IS NOT NEW.path OR OLD.plan_id IS NOT NEW.plan_id BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) VALUES (OLD.plan_id, COALESCE(OLD.owner_unit_id, 0), 1) ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) VALUES (NEW.plan_id, COALESCE(NEW.owner_unit_id, 0), 1) ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE id = OLD.parent_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE id = NEW.parent_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_tasks_del AFTER DELETE ON tasks BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) VALUES (OLD.plan_id, COALESCE(OLD.owner_unit_id, 0), 1) ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE id = OLD.parent_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_ins AFTER INSERT ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = NEW.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_upd AFTER UPDATE OF start_on, end_on, position ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = NEW.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_del AFTER DELETE ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = OLD.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_units AFTER UPDATE OF path ON org_units WHEN OLD.path IS NOT NEW.path BEGIN UPDATE progress_state SET as_of = NULL; END",
]


PG_DROP = [
    "DROP TRIGGER IF EXISTS progress_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_del ON tasks",
    "DROP TRIGGER IF EXISTS progress_phases ON phases",
    "DROP TRIGGER IF EXISTS progress_units ON org_units",
    "DROP FUNCTION IF EXISTS progress_mark_tasks()",
    "DROP FUNCTION IF EXISTS progress_mark_phases()",
    "DROP FUNCTION IF EXISTS progress_units_moved()",
]


def _run(statements):
    connection = op.get_bind()
    for statement in statements:
        connection.exec_driver_sql(statement)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


FIGURES = ("items", "done", "on_time", "late", "overdue", "due_so_far", "overdue_days", "done_recent")


def upgrade():
    op.create_table(
        "progress_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "progress_dirty",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "owner_unit_id", name="pk_progress_dirty"),
    )
    op.create_table(
        "progress_items",
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("completed_on", sa.Date(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_progress_items"),
    )
    op.create_index("ix_progress_items_plan_owner", "progress_items", ["plan_id", "owner_unit_id"])
    op.create_table(
        "progress_rollup",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in FIGURES],
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("weighted", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "unit_id", "section_id", "phase_id", name="pk_progress_rollup"),
    )
    op.create_index("ix_progress_rollup_unit", "progress_rollup", ["unit_id"])
    op.create_table(
        "progress_daily",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("phase_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("plan_id", "unit_id", "phase_id", "day", name="pk_progress_daily"),
    )
    _run(PG_TRIGGERS if _postgresql() else SQLITE_TRIGGERS)


def downgrade():
    _run(PG_DROP if _postgresql() else [s for s in SQLITE_TRIGGERS if s.startswith("DROP")])
    for table in ("progress_daily", "progress_rollup", "progress_items", "progress_dirty", "progress_state"):
        op.drop_table(table)
