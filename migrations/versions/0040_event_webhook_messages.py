"""Workflow events posted to the group-chat webhook through the delivery messages (claimed once);
the unused sign_escalations table dropped (签收 reminders are keyed on their notices)

Revision ID: 0040
Revises: 0033
Create Date: 2026-12-04

"""

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notice_events") as batch:
        batch.add_column(sa.Column("webhook_message_id", sa.Integer(), nullable=True))
        batch.create_index("ix_notice_events_webhook_message_id", ["webhook_message_id"])
    op.drop_index("ix_sign_escalations_run_id", table_name="sign_escalations")
    op.drop_table("sign_escalations")


def downgrade():
    op.create_table(
        "sign_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_sign_escalations_task_id_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sign_escalations"),
        sa.UniqueConstraint("task_id", "assigned_at", "rank", name="uq_sign_escalations_task_assigned_rank"),
    )
    op.create_index("ix_sign_escalations_run_id", "sign_escalations", ["run_id"], unique=False)
    with op.batch_alter_table("notice_events") as batch:
        batch.drop_index("ix_notice_events_webhook_message_id")
        batch.drop_column("webhook_message_id")
