"""merge the branches (cascade, indicators, progress/explanations/security); owner_selector NULL

Revision ID: 0009
Revises: 0003, 0004, 0008
Create Date: 2026-11-23

Tasks stored before this revision could hold the JSON value `null` in owner_selector instead
of SQL NULL (the column did not map None to NULL), which hid them from `owner_selector IS NULL`
queries. They are rewritten to SQL NULL.
"""

from alembic import op

revision = "0009"
down_revision = ("0003", "0004", "0008")
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE tasks SET owner_selector = NULL WHERE owner_selector::text = 'null'")
    else:
        op.execute("UPDATE tasks SET owner_selector = NULL WHERE owner_selector = 'null'")


def downgrade():
    pass  # NULL and JSON null meant the same; nothing to undo
