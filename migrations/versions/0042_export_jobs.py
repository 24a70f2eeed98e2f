"""Large exports in the background: export_jobs, and the notice that one is ready

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-10

"""

import sqlalchemy as sa
from alembic import op

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_written", sa.Integer(), nullable=False),
        sa.Column("stored_name", sa.String(length=200), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_export_jobs_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_export_jobs"),
    )
    op.create_index("ix_export_jobs_state_created_at", "export_jobs", ["state", "created_at"], unique=False)
    op.create_index("ix_export_jobs_expires_at", "export_jobs", ["expires_at"], unique=False)
    op.create_index("ix_export_jobs_user_id", "export_jobs", ["user_id"], unique=False)
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("export_job_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_notifications_export_job_id_export_jobs", "export_jobs", ["export_job_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_unique_constraint("uq_notifications_export_job_id", ["export_job_id"])


def downgrade():
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("uq_notifications_export_job_id", type_="unique")
        batch.drop_constraint("fk_notifications_export_job_id_export_jobs", type_="foreignkey")
        batch.drop_column("export_job_id")
    op.drop_index("ix_export_jobs_user_id", table_name="export_jobs")
    op.drop_index("ix_export_jobs_expires_at", table_name="export_jobs")
    op.drop_index("ix_export_jobs_state_created_at", table_name="export_jobs")
    op.drop_table("export_jobs")
