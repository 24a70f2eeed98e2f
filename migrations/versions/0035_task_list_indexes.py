"""Indexes that serve the task lists' orders: by due date (none last) and by last change

Revision ID: 0035
Revises: 0023
Create Date: 2026-12-03

"""

from alembic import op

revision = "0035"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_tasks_due_on_id", "tasks", ["due_on", "id"])
    op.create_index("ix_tasks_updated_at_id", "tasks", ["updated_at", "id"])


def downgrade():
    op.drop_index("ix_tasks_updated_at_id", table_name="tasks")
    op.drop_index("ix_tasks_due_on_id", table_name="tasks")
