"""explanations: overdue explanations with a committed date

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

"""

from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "overdue_explanations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("committed_on", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_overdue_explanations_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_overdue_explanations_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_explanations")),
        sa.UniqueConstraint("task_id", "due_on", name=op.f("uq_overdue_explanations_task_id_due_on")),
    )
    with op.batch_alter_table("overdue_explanations", schema=None) as batch_op:
        batch_op.create_index("ix_overdue_explanations_state_committed_on", ["state", "committed_on"], unique=False)


def downgrade():
    with op.batch_alter_table("overdue_explanations", schema=None) as batch_op:
        batch_op.drop_index("ix_overdue_explanations_state_committed_on")
    op.drop_table("overdue_explanations")
