"""The summary's triggers on tasks: they mark exactly the rows a statement changed and raise the
content counter exactly when a shown field changed, for one row or thousands; on PostgreSQL their
cost grows with the rows changed whatever the planner does (no join of the transition tables)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from conftest import requires_postgresql
from tracker.extensions import db
from tracker.models import ProgressContent, ProgressDirtyTask, Task
from tracker.models import triggers

ROOT = Path(__file__).resolve().parent.parent
ROWS = 300


def content_version() -> int:
    return db.session.scalar(select(func.coalesce(func.sum(ProgressContent.version), 0)))


def marked() -> set[int]:
    return set(db.session.scalars(select(ProgressDirtyTask.task_id)))


def clear_marks() -> None:
    db.session.execute(delete(ProgressDirtyTask))


@pytest.fixture
def bulk_plan(make_task):
    """Two headings and ROWS leaves under the first, inserted in one statement."""
    first = make_task("P11", plan_key="bulk-plan", ref="一", position=1)
    second = make_task("P11", plan_key="bulk-plan", ref="二", position=2)
    plan_id = first.plan_id
    db.session.execute(
        insert(Task),
        [
            {
                "plan_id": plan_id,
                "parent_id": first.id,
                "ref": f"一.{i}",
                "title": f"措施{i}",
                "owner_unit_id": first.owner_unit_id,
                "depth": 1,
                "position": i,
                "path": "",
            }
            for i in range(ROWS)
        ],
    )
    db.session.execute(
        update(Task).where(Task.parent_id == first.id).values(path=first.path + func.cast(Task.id, db.String) + "/")
    )
    db.session.commit()
    clear_marks()
    leaves = list(db.session.scalars(select(Task.id).where(Task.parent_id == first.id).order_by(Task.id)))
    return first, second, leaves


def test_a_bulk_update_of_figures_marks_every_row_and_leaves_the_content_alone(bulk_plan):
    first, _second, leaves = bulk_plan
    before = content_version()
    db.session.execute(update(Task).where(Task.id.in_(leaves)).values(status="in_progress", progress=40.0))
    assert marked() == set(leaves)
    assert content_version() == before


def test_a_bulk_update_of_what_no_summary_reads_marks_nothing(bulk_plan):
    _first, _second, leaves = bulk_plan
    before = content_version()
    db.session.execute(update(Task).where(Task.id.in_(leaves)).values(description="只改说明", notes="备注"))
    assert marked() == set()
    assert content_version() == before


def test_one_renamed_row_among_many_raises_the_content_once(bulk_plan):
    _first, _second, leaves = bulk_plan
    before = content_version()
    renamed = leaves[ROWS // 2]
    db.session.execute(update(Task).where(Task.id.in_(leaves)).values(title=Task.title, ref=Task.ref))
    assert content_version() == before  # the same titles written back: nothing shown changed
    db.session.execute(
        text("UPDATE tasks SET title = CASE WHEN id = :id THEN '新名称' ELSE title END WHERE parent_id = :parent"),
        {"id": renamed, "parent": _first.id},
    )
    assert content_version() == before + 1
    db.session.execute(
        text("UPDATE tasks SET ref = CASE WHEN id = :id THEN '一.新' ELSE ref END WHERE parent_id = :parent"),
        {"id": renamed, "parent": _first.id},
    )
    assert content_version() == before + 2


def test_only_a_headings_place_is_shown(bulk_plan):
    first, second, leaves = bulk_plan
    before = content_version()
    db.session.execute(update(Task).where(Task.id.in_(leaves)).values(position=Task.position + 1))
    assert content_version() == before  # a measure's position is on no progress page
    db.session.execute(update(Task).where(Task.id.in_([first.id, second.id])).values(position=Task.position + 10))
    after = content_version()
    assert after > before  # once per statement on PostgreSQL, per row on SQLite
    db.session.execute(update(Task).where(Task.id == second.id).values(parent_id=first.id))
    assert content_version() == after + 1  # a heading became a measure


def test_moved_rows_mark_their_old_and_new_parents(bulk_plan):
    first, second, leaves = bulk_plan
    moved = leaves[:5]
    db.session.execute(update(Task).where(Task.id.in_(moved)).values(parent_id=second.id))
    assert marked() == set(moved) | {first.id, second.id}


def test_inserts_and_deletes_mark_the_rows_and_their_parents(bulk_plan):
    first, _second, leaves = bulk_plan
    db.session.execute(delete(Task).where(Task.id.in_(leaves[:3])))
    assert marked() == set(leaves[:3]) | {first.id}


# --- PostgreSQL: the plans of the trigger functions ------------------------------------------


def _trigger_functions() -> dict[str, str]:
    """The source of every function a statement-level trigger on tasks runs."""
    rows = db.session.execute(
        text(
            "SELECT DISTINCT p.proname, p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = 'tasks'::regclass AND NOT t.tgisinternal AND (t.tgtype & 1) = 0"
        )
    )  # bit 0: FOR EACH ROW
    return dict(rows.all())


def test_no_trigger_function_on_tasks_joins_the_transition_tables(database_url):
    requires_postgresql(database_url, "PostgreSQL's statement-level triggers")
    functions = _trigger_functions()
    assert {"progress_mark_tasks", "progress_content_tasks"} <= set(functions)
    for name, source in functions.items():
        body = " ".join(source.split())
        for old, new in (("progress_old", "progress_new"), ("progress_new", "progress_old")):
            assert f"{old} o JOIN {new}" not in body and f"JOIN {new} n ON" not in body, name


def _joins_over_both(node: dict) -> list[str]:
    """The join nodes of a JSON plan with transition tables (named tuplestores) on both sides."""
    found = []
    if "Join" in node.get("Node Type", "") or node.get("Node Type") == "Nested Loop":
        if json.dumps(node.get("Plans", [])).count('"Named Tuplestore Scan"') >= 2:
            found.append(node["Node Type"])
    for child in node.get("Plans", []):
        found += _joins_over_both(child)
    return found


def _trigger_plans(statement: str, params: dict) -> list[dict]:
    """The plans of the statements the triggers ran for `statement`, with hash and merge joins
    off (a planner that would join the transition tables can only nest loops then)."""
    raw = db.session.connection().connection.driver_connection
    plans: list[dict] = []

    def collect(diagnostic):
        message = diagnostic.message_primary or ""
        if "plan:" in message:
            plans.append(json.loads(message.split("plan:", 1)[1]))

    db.session.execute(text("LOAD 'auto_explain'"))
    for setting in (
        "auto_explain.log_min_duration = 0",
        "auto_explain.log_nested_statements = on",
        "auto_explain.log_format = 'json'",
        "client_min_messages = log",
        "enable_hashjoin = off",
        "enable_mergejoin = off",
    ):
        db.session.execute(text(f"SET LOCAL {setting}"))
    raw.add_notice_handler(collect)
    try:
        db.session.execute(text(statement), params)
    finally:
        raw.remove_notice_handler(collect)
        db.session.execute(text("SET LOCAL client_min_messages = notice"))
        db.session.execute(text("SET LOCAL auto_explain.log_min_duration = -1"))
    return [p for p in plans if "progress_old" in p["Query Text"] or "progress_new" in p["Query Text"]]


UPDATES = [
    ("UPDATE tasks SET status = 'in_progress', progress = progress + 1 WHERE parent_id = :parent", "figures"),
    ("UPDATE tasks SET title = title || '' WHERE parent_id = :parent", "names written back"),
    ("UPDATE tasks SET description = 'x' WHERE parent_id = :parent", "nothing tracked"),
]


@pytest.mark.parametrize("statement,what", UPDATES)
def test_the_triggers_read_the_transition_tables_without_joining_them(database_url, bulk_plan, statement, what):
    requires_postgresql(database_url, "PostgreSQL's statement-level triggers")
    first, _second, _leaves = bulk_plan
    plans = _trigger_plans(statement, {"parent": first.id})
    assert len(plans) >= 2, what  # the marks and the content check ran and were seen
    assert [join for plan in plans for join in _joins_over_both(plan["Plan"])] == [], what


def test_the_plan_check_catches_the_join_of_revision_0011(database_url, bulk_plan):
    """The check above is not vacuous: with 0011's functions it finds the nested loop."""
    requires_postgresql(database_url, "PostgreSQL's statement-level triggers")
    spec = importlib.util.spec_from_file_location("m0012", ROOT / "migrations" / "versions" / "0012_linear_triggers.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for statement in migration.PG_FUNCTIONS_0011:
        db.session.execute(text(statement))  # rolled back with the test
    first, _second, _leaves = bulk_plan
    plans = _trigger_plans(UPDATES[2][0], {"parent": first.id})
    assert "Nested Loop" in [join for plan in plans for join in _joins_over_both(plan["Plan"])]


def test_the_runtime_triggers_are_the_latest_migrations(database_url):
    """tracker/models/triggers.py (create_all) installs the function bodies migration 0012 froze."""
    spec = importlib.util.spec_from_file_location("m0012", ROOT / "migrations" / "versions" / "0012_linear_triggers.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.PG_FUNCTIONS[0] == triggers._PG_DDL[0]
    # the content functions as 0020 (the counter in slots) left them
    spec = importlib.util.spec_from_file_location("m0020", ROOT / "migrations" / "versions" / "0020_content_slots.py")
    slots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(slots)
    assert slots.PG_FUNCTIONS == [triggers._CONTENT_PG[0], triggers._CONTENT_PG[1]]
    assert slots.PG_FUNCTIONS_0012[1] == migration.PG_FUNCTIONS[1]
