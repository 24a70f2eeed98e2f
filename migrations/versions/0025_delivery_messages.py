"""delivery messages: e-mail digests and webhook posts claimed by one deliverer, sent under a stable key

Revision ID: 0025
Revises: 0020
Create Date: 2026-12-10

Delivery read the pending notifications and escalations without claiming them, so parallel
passes sent the same digests and webhook items. Now a deliverer first composes the pending items
into `delivery_messages` rows (one digest per user, webhook posts of 20 items), each item pointing
to its message (`notifications.email_message_id`, `escalations.webhook_message_id`), then claims
one message at a time (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: a token and the state
`sending`) and sends it under its key, which is derived from its items' ids.

The two item columns carry no foreign key (SQLite cannot add one to a table without rebuilding it
and its triggers); messages are never deleted. The SQL is frozen here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0020"
branch_labels = None
depends_on = None

ITEM_COLUMNS = (("notifications", "email_message_id"), ("escalations", "webhook_message_id"))


def upgrade():
    op.create_table(
        "delivery_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_delivery_messages_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_messages"),
        sa.UniqueConstraint("key", name="uq_delivery_messages_key"),
    )
    op.create_index("ix_delivery_messages_channel_state", "delivery_messages", ["channel", "state"], unique=False)
    for table, column in ITEM_COLUMNS:
        # a plain column (no foreign key): SQLite would have to rebuild the table and its triggers
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade():
    for table, column in ITEM_COLUMNS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_column(table, column)
    op.drop_index("ix_delivery_messages_channel_state", table_name="delivery_messages")
    op.drop_table("delivery_messages")
