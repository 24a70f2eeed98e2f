"""progress: tasks.completed_on (on-time vs late completion), index (plan, phase)

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-23

"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("completed_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_tasks_plan_id_phase_id", ["plan_id", "phase_id"], unique=False)
    # Tasks accepted before this revision: their acceptance day (Asia/Shanghai) from the journal.
    if op.get_bind().dialect.name == "postgresql":
        day = "(MAX(j.at) AT TIME ZONE 'Asia/Shanghai')::date"
    else:
        day = "date(MAX(j.at), '+8 hours')"
    op.execute(f"""
        UPDATE tasks SET completed_on = (
            SELECT {day} FROM journal_entries j
            WHERE j.task_id = tasks.id AND j.action = 'status' AND j.new_value = 'accepted')
        WHERE status = 'accepted'
    """)


def downgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_plan_id_phase_id")
        batch_op.drop_column("completed_on")
