"""督办: notices of every kind (escalation per task, due date and recipient; leaders' groups;
workflow events), preferences, watchers, 催办, 批示, 签收 and a responsible person per task

Revision ID: 0023
Revises: 0020
Create Date: 2027-01-10

"""

from alembic import op
import sqlalchemy as sa

revision = "0023"
down_revision = "0026"
branch_labels = None
depends_on = None

UNSIGNED = "assigned_at IS NOT NULL AND signed_at IS NULL"


def _task_columns():
    # Plain ALTER TABLE ADD COLUMN (never a batch copy of tasks: SQLite would drop its triggers).
    for name in ("responsible_user_id", "signed_by_id"):
        if op.get_bind().dialect.name == "sqlite":  # ADD COLUMN with its REFERENCES inline
            op.execute(
                f"ALTER TABLE tasks ADD COLUMN {name} INTEGER CONSTRAINT fk_tasks_{name}_users REFERENCES users (id)"
            )
        else:
            op.add_column(
                "tasks",
                sa.Column(name, sa.Integer(), sa.ForeignKey("users.id", name=f"fk_tasks_{name}_users"), nullable=True),
            )
    op.add_column("tasks", sa.Column("contact_name", sa.String(length=100), nullable=False, server_default=""))
    op.add_column("tasks", sa.Column("contact_phone", sa.String(length=40), nullable=False, server_default=""))
    op.add_column("tasks", sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tasks_responsible_user_id", "tasks", ["responsible_user_id"], unique=False)
    op.create_index(
        "ix_tasks_unsigned",
        "tasks",
        ["owner_unit_id", "assigned_at"],
        unique=False,
        postgresql_where=sa.text(UNSIGNED),
        sqlite_where=sa.text(UNSIGNED),
    )


def upgrade():
    _task_columns()
    op.create_table(
        "notice_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("webhook_state", sa.String(length=10), nullable=False),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name="fk_notice_events_actor_id_users", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_notice_events_task_id_tasks", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_events"),
    )
    op.create_index("ix_notice_events_task_id", "notice_events", ["task_id"], unique=False)
    op.create_index("ix_notice_events_webhook_state", "notice_events", ["webhook_state"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="escalation"))
        batch_op.add_column(sa.Column("event_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("item_count", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("catch_up", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column("escalation_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("task_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("uq_notifications_user_id_escalation_id", type_="unique")
    # The notices so far: their due date, their day, and one per (task, due date, recipient):
    # the latest (the highest level the task reached) is kept.
    op.execute(
        "UPDATE notifications SET due_on = (SELECT e.due_on FROM escalations e WHERE e.id = notifications.escalation_id)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE notifications SET day = (created_at AT TIME ZONE 'Asia/Shanghai')::date")
    else:
        op.execute("UPDATE notifications SET day = date(created_at, '+8 hours')")
    op.execute("""
        DELETE FROM notifications WHERE EXISTS (
            SELECT 1 FROM notifications later
            WHERE later.task_id = notifications.task_id AND later.due_on = notifications.due_on
              AND later.user_id = notifications.user_id AND later.id > notifications.id)
    """)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("day", existing_type=sa.Date(), nullable=False)
        batch_op.create_foreign_key(
            "fk_notifications_event_id_notice_events", "notice_events", ["event_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_foreign_key(
            "fk_notifications_unit_id_org_units", "org_units", ["unit_id"], ["id"], ondelete="CASCADE"
        )
        batch_op.create_unique_constraint(
            "uq_notifications_task_due_user_kind", ["task_id", "due_on", "user_id", "kind"]
        )
        batch_op.create_unique_constraint("uq_notifications_user_kind_unit_day", ["user_id", "kind", "unit_id", "day"])
        batch_op.create_unique_constraint("uq_notifications_event_user", ["event_id", "user_id"])
        batch_op.create_index("ix_notifications_user_id_day", ["user_id", "day"], unique=False)

    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_notification_preferences_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "kind", name="pk_notification_preferences"),
    )
    op.create_table(
        "task_watchers",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_watchers_task_id_tasks", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_task_watchers_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "user_id", name="pk_task_watchers"),
    )
    op.create_index("ix_task_watchers_user_id", "task_watchers", ["user_id"], unique=False)
    op.create_table(
        "task_urges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_unit_id"], ["org_units.id"], name="fk_task_urges_owner_unit_id_org_units"),
        sa.ForeignKeyConstraint(["sender_id"], ["users.id"], name="fk_task_urges_sender_id_users", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name="fk_task_urges_task_id_tasks", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_task_urges"),
        sa.UniqueConstraint("task_id", "sender_id", "day", name="uq_task_urges_task_sender_day"),
    )
    op.create_index("ix_task_urges_owner_unit_id", "task_urges", ["owner_unit_id"], unique=False)
    op.create_table(
        "instructions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_instructions_author_id_users"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_instructions_plan_id_plans", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name="fk_instructions_unit_id_org_units"),
        sa.PrimaryKeyConstraint("id", name="pk_instructions"),
    )
    op.create_table(
        "instruction_tasks",
        sa.Column("instruction_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instruction_id"],
            ["instructions.id"],
            name="fk_instruction_tasks_instruction_id_instructions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_instruction_tasks_task_id_tasks", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("instruction_id", "task_id", name="pk_instruction_tasks"),
    )
    op.create_index("ix_instruction_tasks_task_id", "instruction_tasks", ["task_id"], unique=False)
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


def downgrade():
    op.drop_index("ix_sign_escalations_run_id", table_name="sign_escalations")
    op.drop_table("sign_escalations")
    op.drop_index("ix_instruction_tasks_task_id", table_name="instruction_tasks")
    op.drop_table("instruction_tasks")
    op.drop_table("instructions")
    op.drop_index("ix_task_urges_owner_unit_id", table_name="task_urges")
    op.drop_table("task_urges")
    op.drop_index("ix_task_watchers_user_id", table_name="task_watchers")
    op.drop_table("task_watchers")
    op.drop_table("notification_preferences")
    op.execute("DELETE FROM notifications WHERE escalation_id IS NULL OR task_id IS NULL")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_id_day")
        batch_op.drop_constraint("uq_notifications_event_user", type_="unique")
        batch_op.drop_constraint("uq_notifications_user_kind_unit_day", type_="unique")
        batch_op.drop_constraint("uq_notifications_task_due_user_kind", type_="unique")
        batch_op.drop_constraint("fk_notifications_unit_id_org_units", type_="foreignkey")
        batch_op.drop_constraint("fk_notifications_event_id_notice_events", type_="foreignkey")
        batch_op.drop_column("catch_up")
        batch_op.drop_column("item_count")
        batch_op.drop_column("day")
        batch_op.drop_column("due_on")
        batch_op.drop_column("unit_id")
        batch_op.drop_column("event_id")
        batch_op.drop_column("kind")
        batch_op.alter_column("task_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("escalation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint("uq_notifications_user_id_escalation_id", ["user_id", "escalation_id"])
    op.drop_index("ix_notice_events_webhook_state", table_name="notice_events")
    op.drop_index("ix_notice_events_task_id", table_name="notice_events")
    op.drop_table("notice_events")
    op.drop_index("ix_tasks_unsigned", table_name="tasks")
    op.drop_index("ix_tasks_responsible_user_id", table_name="tasks")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_tasks_signed_by_id_users", "tasks", type_="foreignkey")
        op.drop_constraint("fk_tasks_responsible_user_id_users", "tasks", type_="foreignkey")
    for column in ("signed_by_id", "signed_at", "assigned_at", "contact_phone", "contact_name", "responsible_user_id"):
        op.drop_column("tasks", column)
