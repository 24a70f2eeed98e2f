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

Downgrading drops the summary's triggers and sets the summary aside (as_of NULL): the pages
of revision 0010 then read the tasks until its own triggers are installed and it is rebuilt.
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


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
    from tracker.models.triggers import install_content_triggers, install_dirty_triggers

    install_dirty_triggers(op.get_bind())  # tasks now mark themselves, not their (plan, owner) pair
    install_content_triggers(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        # every page reads the marks (the version) and every fold empties them: vacuum after a
        # thousand dead rows, not after a fifth of the (near zero) live ones
        for table in ("progress_dirty", "progress_dirty_tasks"):
            op.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)")


def downgrade():
    from tracker.models.triggers import drop_triggers

    drop_triggers(op.get_bind())
    op.execute("UPDATE progress_state SET as_of = NULL")
    op.drop_table("progress_dirty_tasks")
    op.drop_table("progress_content")
    with op.batch_alter_table("progress_state") as batch:
        batch.drop_column("generation")
