"""progress pages cached by version: progress_state.generation, progress_content and its triggers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

The rendered progress pages are cached under a version read in one statement: the summary's
generation (raised by every fold and rebuild), the dirty marks, and the content counter that
triggers on plans, phases, units, escalations and section headings raise
(tracker/progress/pages.py).
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
    from tracker.progress.summary import install_content_triggers

    install_content_triggers(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        # every page reads progress_dirty (the version) and every fold empties it: vacuum it
        # after a thousand dead rows, not after a fifth of its (near zero) live ones
        op.execute("ALTER TABLE progress_dirty SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)")


def downgrade():
    from tracker.progress.summary import drop_content_triggers

    drop_content_triggers(op.get_bind())
    op.drop_table("progress_content")
    with op.batch_alter_table("progress_state") as batch:
        batch.drop_column("generation")
