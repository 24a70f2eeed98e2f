"""progress summary: work items, roll-up per unit subtree, daily counts, dirty owners (triggers)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23

The summary starts empty with no `as_of`: the pages read the tasks until the scheduler (or
`flask progress refresh --rebuild`) builds it. The triggers that mark changed owners are the
ones of tracker/progress/summary.py (CREATE OR REPLACE: a later revision re-installs them).
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

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
    from tracker.models.triggers import install_dirty_triggers

    install_dirty_triggers(op.get_bind())


def downgrade():
    from tracker.models.triggers import drop_triggers

    drop_triggers(op.get_bind())
    for table in ("progress_daily", "progress_rollup", "progress_items", "progress_dirty", "progress_state"):
        op.drop_table(table)
