"""The overdue index carries the owner unit and selector (PostgreSQL INCLUDE): the overdue lists'
bounded counts read the index alone

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-04

`ix_tasks_overdue_due` (due_on, id) over the tasks in a state that can be overdue served the
overdue lists' order, but /overdue also requires an owner unit and the task list's overdue
filter leaves out cascade templates (`owner_selector IS NULL`), which only the table row had: at
national scale their bounded counts (10,001 rows) fetched every row from the heap (75 ms) or the
planner scanned the table (50 ms). With both columns included, each count is an index-only scan
(2-5 ms) for every role that sees the whole country. SQLite has no INCLUDE: its index stays.
"""

from alembic import op

revision = "0045"
down_revision = "0044"
branch_labels = None
depends_on = None

OVERDUE_STATES = "status IN ('not_started', 'in_progress', 'returned', 'blocked')"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    if not _postgresql():
        return
    op.execute("DROP INDEX IF EXISTS ix_tasks_overdue_due")
    op.execute(
        "CREATE INDEX ix_tasks_overdue_due ON tasks (due_on, id) INCLUDE (owner_unit_id, owner_selector) "
        f"WHERE {OVERDUE_STATES}"
    )


def downgrade():
    if not _postgresql():
        return
    op.execute("DROP INDEX IF EXISTS ix_tasks_overdue_due")
    op.execute(f"CREATE INDEX ix_tasks_overdue_due ON tasks (due_on, id) WHERE {OVERDUE_STATES}")
