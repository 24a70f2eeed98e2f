"""API webhooks delivered by the existing deliverer: a webhook post is a `delivery_messages` row
(channel `hook`, its webhook named), its items the `api_webhook_deliveries` rows (one per event
and webhook) pointing to it; each webhook remembers up to which journal entry and escalation it
has taken events (so events from before its registration are never sent)

Revision ID: 0033
Revises: 0023 (re-chained by the lead at merge; needs 0025's and 0027's tables: depends_on)
Create Date: 2026-12-04

"""

from alembic import op
import sqlalchemy as sa

revision = "0033"
down_revision = "0035"
branch_labels = None
depends_on = ("0025", "0027")


def upgrade():
    with op.batch_alter_table("api_webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("journal_after", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("escalation_after", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("api_webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_api_webhook_deliveries_message_id", ["message_id"], unique=False)
    with op.batch_alter_table("delivery_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_id", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("delivery_messages", schema=None) as batch_op:
        batch_op.drop_column("webhook_id")
    with op.batch_alter_table("api_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_api_webhook_deliveries_message_id")
        batch_op.drop_column("message_id")
    with op.batch_alter_table("api_webhooks", schema=None) as batch_op:
        batch_op.drop_column("escalation_after")
        batch_op.drop_column("journal_after")
