"""progress marks per task; pages cached by version: progress_state.generation, progress_content, triggers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Tasks now mark themselves (progress_dirty_tasks) rather than their whole (plan, owner) pair, so
that what a page adds for the changes since the last fold grows with the changes, not with the
owners' sizes; a phase's dates still mark pairs (progress_dirty).

The rendered progress pages are cached under a version read in one statement: the summary's
generation (raised by every fold and rebuild), the marks, and the content counter that
triggers on plans, phases, units, escalations and section headings raise
(tracker/progress/pages.py).

The trigger SQL is frozen here as tracker/models/triggers.py held it at this revision: replaying
the revision installs these, whatever the code is now.

Downgrading drops the summary's triggers and sets the summary aside (as_of NULL): the pages
of revision 0010 then read the tasks until its own triggers are installed and it is rebuilt.
"""

from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# -- the triggers as they were at this revision ------------------------------------------------

PG_TRIGGERS = [
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
    "CREATE TRIGGER progress_tasks_ins AFTER INSERT ON tasks BEGIN INSERT INTO progress_dirty_tasks (task_id, marks) SELECT NEW.id, 1 WHERE NEW.id IS NOT NULL ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty_tasks (task_id, marks) SELECT NEW.parent_id, 1 WHERE NEW.parent_id IS NOT NULL ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_tasks_upd AFTER UPDATE ON tasks WHEN OLD.status IS NOT NEW.status OR OLD.progress IS NOT NEW.progress OR OLD.weight IS NOT NEW.weight OR OLD.due_on IS NOT NEW.due_on OR OLD.completed_on IS NOT NEW.completed_on OR OLD.owner_unit_id IS NOT NEW.owner_unit_id OR OLD.phase_id IS NOT NEW.phase_id OR OLD.parent_id IS NOT NEW.parent_id OR OLD.path IS NOT NEW.path OR OLD.plan_id IS NOT NEW.plan_id OR OLD.start_on IS NOT NEW.start_on BEGIN INSERT INTO progress_dirty_tasks (task_id, marks) SELECT NEW.id, 1 WHERE NEW.id IS NOT NULL ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty_tasks (task_id, marks) SELECT OLD.parent_id, 1 WHERE OLD.parent_id IS NOT NULL AND OLD.parent_id IS NOT NEW.parent_id ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty_tasks (task_id, marks) SELECT NEW.parent_id, 1 WHERE NEW.parent_id IS NOT NULL AND OLD.parent_id IS NOT NEW.parent_id ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_tasks_del AFTER DELETE ON tasks BEGIN INSERT INTO progress_dirty_tasks (task_id, marks) SELECT OLD.id, 1 WHERE OLD.id IS NOT NULL ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; INSERT INTO progress_dirty_tasks (task_id, marks) SELECT OLD.parent_id, 1 WHERE OLD.parent_id IS NOT NULL ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_ins AFTER INSERT ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = NEW.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_upd AFTER UPDATE OF start_on, end_on, position ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = NEW.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_phases_del AFTER DELETE ON phases BEGIN INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = OLD.plan_id ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END",
    "CREATE TRIGGER progress_units AFTER UPDATE OF path ON org_units WHEN OLD.path IS NOT NEW.path BEGIN UPDATE progress_state SET as_of = NULL; END",
]

PG_CONTENT_TRIGGERS = [
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
  IF EXISTS (SELECT 1 FROM progress_old o JOIN progress_new n ON n.id = o.id WHERE (o.ref IS DISTINCT FROM n.ref OR o.title IS DISTINCT FROM n.title OR ((o.parent_id IS NULL OR n.parent_id IS NULL) AND (o.position IS DISTINCT FROM n.position OR o.parent_id IS DISTINCT FROM n.parent_id)))) THEN
    INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_content_insert ON plans",
    "CREATE TRIGGER progress_content_insert AFTER INSERT ON plans REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_update ON plans",
    "CREATE TRIGGER progress_content_update AFTER UPDATE ON plans REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_delete ON plans",
    "CREATE TRIGGER progress_content_delete AFTER DELETE ON plans REFERENCING OLD TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_insert ON phases",
    "CREATE TRIGGER progress_content_insert AFTER INSERT ON phases REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_update ON phases",
    "CREATE TRIGGER progress_content_update AFTER UPDATE ON phases REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_delete ON phases",
    "CREATE TRIGGER progress_content_delete AFTER DELETE ON phases REFERENCING OLD TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_insert ON org_units",
    "CREATE TRIGGER progress_content_insert AFTER INSERT ON org_units REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_update ON org_units",
    "CREATE TRIGGER progress_content_update AFTER UPDATE ON org_units REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_delete ON org_units",
    "CREATE TRIGGER progress_content_delete AFTER DELETE ON org_units REFERENCING OLD TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_insert ON escalations",
    "CREATE TRIGGER progress_content_insert AFTER INSERT ON escalations REFERENCING NEW TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_delete ON escalations",
    "CREATE TRIGGER progress_content_delete AFTER DELETE ON escalations REFERENCING OLD TABLE AS progress_rows FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
    "DROP TRIGGER IF EXISTS progress_content_tasks ON tasks",
    "CREATE TRIGGER progress_content_tasks AFTER UPDATE ON tasks REFERENCING OLD TABLE AS progress_old NEW TABLE AS progress_new FOR EACH STATEMENT EXECUTE FUNCTION progress_content_tasks()",
]

SQLITE_CONTENT_TRIGGERS = [
    "DROP TRIGGER IF EXISTS progress_content_plans_insert",
    "CREATE TRIGGER progress_content_plans_insert AFTER INSERT ON plans BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_plans_update",
    "CREATE TRIGGER progress_content_plans_update AFTER UPDATE ON plans BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_plans_delete",
    "CREATE TRIGGER progress_content_plans_delete AFTER DELETE ON plans BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_phases_insert",
    "CREATE TRIGGER progress_content_phases_insert AFTER INSERT ON phases BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_phases_update",
    "CREATE TRIGGER progress_content_phases_update AFTER UPDATE ON phases BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_phases_delete",
    "CREATE TRIGGER progress_content_phases_delete AFTER DELETE ON phases BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_org_units_insert",
    "CREATE TRIGGER progress_content_org_units_insert AFTER INSERT ON org_units BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_org_units_update",
    "CREATE TRIGGER progress_content_org_units_update AFTER UPDATE ON org_units BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_org_units_delete",
    "CREATE TRIGGER progress_content_org_units_delete AFTER DELETE ON org_units BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_escalations_insert",
    "CREATE TRIGGER progress_content_escalations_insert AFTER INSERT ON escalations BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_escalations_delete",
    "CREATE TRIGGER progress_content_escalations_delete AFTER DELETE ON escalations BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
    "DROP TRIGGER IF EXISTS progress_content_tasks",
    "CREATE TRIGGER progress_content_tasks AFTER UPDATE ON tasks WHEN (OLD.ref IS NOT NEW.ref OR OLD.title IS NOT NEW.title OR ((OLD.parent_id IS NULL OR NEW.parent_id IS NULL) AND (OLD.position IS NOT NEW.position OR OLD.parent_id IS NOT NEW.parent_id))) BEGIN INSERT INTO progress_content (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1; END",
]


PG_DROP = [
    *[s for s in PG_CONTENT_TRIGGERS if s.startswith("DROP")],
    "DROP FUNCTION IF EXISTS progress_content_rows()",
    "DROP FUNCTION IF EXISTS progress_content_tasks()",
    "DROP TRIGGER IF EXISTS progress_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_del ON tasks",
    "DROP TRIGGER IF EXISTS progress_phases ON phases",
    "DROP TRIGGER IF EXISTS progress_units ON org_units",
    "DROP FUNCTION IF EXISTS progress_mark_tasks()",
    "DROP FUNCTION IF EXISTS progress_mark_phases()",
    "DROP FUNCTION IF EXISTS progress_units_moved()",
]
SQLITE_DROP = [s for s in SQLITE_CONTENT_TRIGGERS + SQLITE_TRIGGERS if s.startswith("DROP")]


def _run(statements):
    connection = op.get_bind()
    for statement in statements:
        connection.exec_driver_sql(statement)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.add_column("progress_state", sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "progress_content",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.execute("INSERT INTO progress_content (id, version) VALUES (1, 0)")
    op.create_table(
        "progress_dirty_tasks",
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("marks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_progress_dirty_tasks"),
    )
    # tasks now mark themselves, not their (plan, owner) pair
    _run(PG_TRIGGERS + PG_CONTENT_TRIGGERS if _postgresql() else SQLITE_TRIGGERS + SQLITE_CONTENT_TRIGGERS)
    if op.get_bind().dialect.name == "postgresql":
        # every page reads the marks (the version) and every fold empties them: vacuum after a
        # thousand dead rows, not after a fifth of the (near zero) live ones
        for table in ("progress_dirty", "progress_dirty_tasks"):
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)"
            )


def downgrade():
    _run(PG_DROP if _postgresql() else SQLITE_DROP)
    op.execute("UPDATE progress_state SET as_of = NULL")
    op.drop_table("progress_dirty_tasks")
    op.drop_table("progress_content")
    with op.batch_alter_table("progress_state") as batch:
        batch.drop_column("generation")
