"""The progress summary's triggers (tracker/progress/summary.py reads the tables they mark).

Below the models: `tracker/models/progress.py` installs them on `create_all` (tests, a fresh
SQLite file); each migration holds its own frozen copy of the SQL it installs, and
tests/test_migrations.py checks that a migrated database has exactly the triggers these install.
Nothing here imports a service.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------

_CHANGED = (
    "status",
    "progress",
    "weight",
    "due_on",
    "completed_on",
    "owner_unit_id",
    "phase_id",
    "parent_id",
    "path",
    "plan_id",
    "start_on",
)  # start_on: the timeline's spans

_MARK_TASKS = (
    "INSERT INTO progress_dirty_tasks (task_id, marks) SELECT id, 1 FROM ({rows}) s "
    "ON CONFLICT (task_id) DO UPDATE SET marks = progress_dirty_tasks.marks + 1;"
)


# An UPDATE's changed rows are found with EXCEPT over the two transition tables, never with a
# join of them: a set operation is planned as a hash or a sort of each side (O(rows changed)
# whatever the estimates), where a join of two tuplestores without statistics may become a
# nested loop, O(rows²) (10,000 rows took 7 s). EXCEPT compares like IS NOT DISTINCT FROM.
# The rows whose tracked columns changed, and the old and new parents of those that moved
# (a parent no longer there marks nothing: the fold reads the tasks by id).
def _except(columns: str, first: str, second: str) -> str:
    return f"SELECT {columns} FROM {first} EXCEPT SELECT {columns} FROM {second}"


_CHANGED_ROWS = (
    f"SELECT id FROM ({_except('id, ' + ', '.join(_CHANGED), 'progress_new', 'progress_old')}) changed "
    f"UNION SELECT parent_id FROM ({_except('id, parent_id', 'progress_new', 'progress_old')}) moved_to "
    "WHERE parent_id IS NOT NULL "
    f"UNION SELECT parent_id FROM ({_except('id, parent_id', 'progress_old', 'progress_new')}) moved_from "
    "WHERE parent_id IS NOT NULL"
)

_PG_DDL = [
    f"""
CREATE OR REPLACE FUNCTION progress_mark_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_MARK_TASKS.format(rows="SELECT n.id FROM progress_new n UNION SELECT n.parent_id FROM progress_new n WHERE n.parent_id IS NOT NULL")}
  ELSIF TG_OP = 'DELETE' THEN
    {_MARK_TASKS.format(rows="SELECT o.id FROM progress_old o UNION SELECT o.parent_id FROM progress_old o WHERE o.parent_id IS NOT NULL")}
  ELSE
    {_MARK_TASKS.format(rows=_CHANGED_ROWS)}
  END IF;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_tasks_ins ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_upd ON tasks",
    "DROP TRIGGER IF EXISTS progress_tasks_del ON tasks",
    "CREATE TRIGGER progress_tasks_ins AFTER INSERT ON tasks REFERENCING NEW TABLE AS progress_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
    "CREATE TRIGGER progress_tasks_upd AFTER UPDATE ON tasks REFERENCING OLD TABLE AS progress_old NEW TABLE AS progress_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
    "CREATE TRIGGER progress_tasks_del AFTER DELETE ON tasks REFERENCING OLD TABLE AS progress_old "
    "FOR EACH STATEMENT EXECUTE FUNCTION progress_mark_tasks()",
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
    "CREATE TRIGGER progress_phases AFTER INSERT OR DELETE OR UPDATE OF start_on, end_on, position ON phases "
    "FOR EACH ROW EXECUTE FUNCTION progress_mark_phases()",
    """
CREATE OR REPLACE FUNCTION progress_units_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE progress_state SET as_of = NULL;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS progress_units ON org_units",
    "CREATE TRIGGER progress_units AFTER UPDATE OF path ON org_units "
    "FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION progress_units_moved()",
]


def _sqlite_mark(task: str, when: str = "") -> str:
    return (
        f"INSERT INTO progress_dirty_tasks (task_id, marks) SELECT {task}, 1 WHERE {task} IS NOT NULL{when} "
        "ON CONFLICT (task_id) DO UPDATE SET marks = marks + 1;"
    )


_SQLITE_DDL = [
    "DROP TRIGGER IF EXISTS progress_tasks_ins",
    "DROP TRIGGER IF EXISTS progress_tasks_upd",
    "DROP TRIGGER IF EXISTS progress_tasks_del",
    "DROP TRIGGER IF EXISTS progress_phases_ins",
    "DROP TRIGGER IF EXISTS progress_phases_upd",
    "DROP TRIGGER IF EXISTS progress_phases_del",
    "DROP TRIGGER IF EXISTS progress_units",
    f"CREATE TRIGGER progress_tasks_ins AFTER INSERT ON tasks BEGIN "
    f"{_sqlite_mark('NEW.id')} {_sqlite_mark('NEW.parent_id')} END",
    "CREATE TRIGGER progress_tasks_upd AFTER UPDATE ON tasks WHEN "
    + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _CHANGED)
    + f" BEGIN {_sqlite_mark('NEW.id')} {_sqlite_mark('OLD.parent_id', ' AND OLD.parent_id IS NOT NEW.parent_id')} "
    f"{_sqlite_mark('NEW.parent_id', ' AND OLD.parent_id IS NOT NEW.parent_id')} END",
    f"CREATE TRIGGER progress_tasks_del AFTER DELETE ON tasks BEGIN "
    f"{_sqlite_mark('OLD.id')} {_sqlite_mark('OLD.parent_id')} END",
    *[
        f"CREATE TRIGGER progress_phases_{name} AFTER {event} ON phases BEGIN "
        "INSERT INTO progress_dirty (plan_id, owner_unit_id, marks) "
        f"SELECT DISTINCT plan_id, COALESCE(owner_unit_id, 0), 1 FROM tasks WHERE phase_id IS NULL AND plan_id = {row}.plan_id "
        "ON CONFLICT (plan_id, owner_unit_id) DO UPDATE SET marks = marks + 1; END"
        for name, event, row in (
            ("ins", "INSERT", "NEW"),
            ("upd", "UPDATE OF start_on, end_on, position", "NEW"),
            ("del", "DELETE", "OLD"),
        )
    ],
    "CREATE TRIGGER progress_units AFTER UPDATE OF path ON org_units WHEN OLD.path IS NOT NEW.path "
    "BEGIN UPDATE progress_state SET as_of = NULL; END",
]


# What the progress pages show besides the figures: any change to it raises progress_content,
# which is part of the version the rendered pages are cached under (tracker/progress/pages.py).
# Statement-level on PostgreSQL, and only when the statement touched a row (the escalation pass
# inserts nothing on most runs); of tasks, what is shown by name: any task's ref or title (the
# timeline lists overdue items), a section heading's (root task's) position and parent.
_CONTENT_TABLES = (
    ("plans", ("INSERT", "UPDATE", "DELETE")),
    ("phases", ("INSERT", "UPDATE", "DELETE")),
    ("org_units", ("INSERT", "UPDATE", "DELETE")),
    ("escalations", ("INSERT", "DELETE")),
)
# The counter is kept in slots (rows): on PostgreSQL a transaction raises the slot of its own
# transaction id, so concurrent writers (on any number of web machines) seldom wait on one
# another's row; the version is the sum of the slots, which every raise increases. SQLite has
# one writer at a time: one slot.
CONTENT_SLOTS = 16
_BUMP_PG = (
    f"INSERT INTO progress_content (id, version) VALUES (1 + mod(txid_current(), {CONTENT_SLOTS})::int, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;"
)
_BUMP = (
    "INSERT INTO progress_content (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = progress_content.version + 1;"
)

# What of a task is shown, as columns (PostgreSQL compares them with EXCEPT, see _CHANGED_ROWS):
# its ref and title, and a heading's place (whether it is one, and its position among them);
# the same rule as _shown_changed.
_SHOWN = "id, ref, title, parent_id IS NULL, CASE WHEN parent_id IS NULL THEN position END"


def _shown_changed(old: str, new: str, differs: str) -> str:
    named = " OR ".join(f"{old}.{c} {differs} {new}.{c}" for c in ("ref", "title"))
    placed = " OR ".join(f"{old}.{c} {differs} {new}.{c}" for c in ("position", "parent_id"))
    return f"({named} OR (({old}.parent_id IS NULL OR {new}.parent_id IS NULL) AND ({placed})))"


_CONTENT_PG = [
    f"""
CREATE OR REPLACE FUNCTION progress_content_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM progress_rows) THEN
    {_BUMP_PG}
  END IF;
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION progress_content_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS ({_except(_SHOWN, "progress_new", "progress_old")}) THEN
    {_BUMP_PG}
  END IF;
  RETURN NULL;
END $$""",
    *[
        statement
        for table, events in _CONTENT_TABLES
        for event in events
        for statement in (
            f"DROP TRIGGER IF EXISTS progress_content_{event.lower()} ON {table}",
            f"CREATE TRIGGER progress_content_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {'OLD' if event == 'DELETE' else 'NEW'} TABLE AS progress_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION progress_content_rows()",
        )
    ],
    "DROP TRIGGER IF EXISTS progress_content_tasks ON tasks",
    "CREATE TRIGGER progress_content_tasks AFTER UPDATE ON tasks REFERENCING OLD TABLE AS progress_old "
    "NEW TABLE AS progress_new FOR EACH STATEMENT EXECUTE FUNCTION progress_content_tasks()",
]

_CONTENT_SQLITE = [
    *[
        statement
        for table, events in _CONTENT_TABLES
        for event in events
        for statement in (
            f"DROP TRIGGER IF EXISTS progress_content_{table}_{event.lower()}",
            f"CREATE TRIGGER progress_content_{table}_{event.lower()} AFTER {event} ON {table} BEGIN {_BUMP} END",
        )
    ],
    "DROP TRIGGER IF EXISTS progress_content_tasks",
    f"CREATE TRIGGER progress_content_tasks AFTER UPDATE ON tasks WHEN {_shown_changed('OLD', 'NEW', 'IS NOT')} "
    f"BEGIN {_BUMP} END",
]


def install_dirty_triggers(connection) -> None:
    """Create (or replace) the triggers that mark changed tasks and pairs (as migration 0012 left them)."""
    statements = _PG_DDL if connection.dialect.name == "postgresql" else _SQLITE_DDL
    for statement in statements:
        connection.exec_driver_sql(statement)


def install_content_triggers(connection) -> None:
    """Create (or replace) the triggers that raise progress_content (as migration 0012 left them)."""
    statements = _CONTENT_PG if connection.dialect.name == "postgresql" else _CONTENT_SQLITE
    for statement in statements:
        connection.exec_driver_sql(statement)


def install_triggers(connection) -> None:
    """All the summary's triggers; used by `create_all` (tests, a fresh SQLite file)."""
    install_dirty_triggers(connection)
    install_content_triggers(connection)


def drop_content_triggers(connection) -> None:
    for statement in _CONTENT_PG if connection.dialect.name == "postgresql" else _CONTENT_SQLITE:
        if statement.startswith("DROP"):
            connection.exec_driver_sql(statement)
    if connection.dialect.name == "postgresql":
        for function in ("progress_content_rows", "progress_content_tasks"):
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")


def drop_triggers(connection) -> None:
    drop_content_triggers(connection)
    if connection.dialect.name == "postgresql":
        for statement in (
            "DROP TRIGGER IF EXISTS progress_tasks_ins ON tasks",
            "DROP TRIGGER IF EXISTS progress_tasks_upd ON tasks",
            "DROP TRIGGER IF EXISTS progress_tasks_del ON tasks",
            "DROP TRIGGER IF EXISTS progress_phases ON phases",
            "DROP TRIGGER IF EXISTS progress_units ON org_units",
            "DROP FUNCTION IF EXISTS progress_mark_tasks()",
            "DROP FUNCTION IF EXISTS progress_mark_phases()",
            "DROP FUNCTION IF EXISTS progress_units_moved()",
        ):
            connection.exec_driver_sql(statement)
    else:
        for statement in _SQLITE_DDL:
            if statement.startswith("DROP"):
                connection.exec_driver_sql(statement)
