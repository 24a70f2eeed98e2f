"""cascade: cascades and their children, occurrences of recurring duties, provincial schemes,
calendar tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cascades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_task_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdraw_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_cascades_created_by_id_users")),
        sa.ForeignKeyConstraint(["template_task_id"], ["tasks.id"], name=op.f("fk_cascades_template_task_id_tasks")),
        sa.ForeignKeyConstraint(["withdrawn_by_id"], ["users.id"], name=op.f("fk_cascades_withdrawn_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cascades")),
    )
    with op.batch_alter_table("cascades", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cascades_template_task_id"), ["template_task_id"], unique=False)

    op.create_table(
        "cascade_children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cascade_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("due_overridden", sa.Boolean(), nullable=False),
        sa.Column("deliverable_overridden", sa.Boolean(), nullable=False),
        sa.Column("recurrence_overridden", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["cascade_id"], ["cascades.id"], name=op.f("fk_cascade_children_cascade_id_cascades")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_cascade_children_task_id_tasks")),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_cascade_children_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cascade_children")),
        sa.UniqueConstraint("task_id", name=op.f("uq_cascade_children_task_id")),
    )
    with op.batch_alter_table("cascade_children", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cascade_children_cascade_id"), ["cascade_id"], unique=False)

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty_task_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["duty_task_id"], ["tasks.id"], name=op.f("fk_occurrences_duty_task_id_tasks")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_occurrences_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
        sa.UniqueConstraint("duty_task_id", "due_on", name=op.f("uq_occurrences_duty_task_id_due_on")),
        sa.UniqueConstraint("task_id", name=op.f("uq_occurrences_task_id")),
    )

    op.create_table(
        "scheme_requirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_plan_id", sa.Integer(), nullable=False),
        sa.Column("template_task_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["national_plan_id"], ["plans.id"], name=op.f("fk_scheme_requirements_national_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(
            ["template_task_id"], ["tasks.id"], name=op.f("fk_scheme_requirements_template_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheme_requirements")),
        sa.UniqueConstraint("national_plan_id", name=op.f("uq_scheme_requirements_national_plan_id")),
    )

    op.create_table(
        "provincial_schemes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("fulfils_task_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=True),
        sa.Column("stored_name", sa.String(length=80), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("mime_type", sa.String(length=120), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_provincial_schemes_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(["filed_by_id"], ["users.id"], name=op.f("fk_provincial_schemes_filed_by_id_users")),
        sa.ForeignKeyConstraint(
            ["fulfils_task_id"], ["tasks.id"], name=op.f("fk_provincial_schemes_fulfils_task_id_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["national_plan_id"], ["plans.id"], name=op.f("fk_provincial_schemes_national_plan_id_plans")
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_provincial_schemes_plan_id_plans")),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_provincial_schemes_reviewed_by_id_users")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_provincial_schemes_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provincial_schemes")),
        sa.UniqueConstraint("national_plan_id", "unit_id", name=op.f("uq_provincial_schemes_national_plan_id_unit_id")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_provincial_schemes_plan_id")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_provincial_schemes_stored_name")),
    )
    with op.batch_alter_table("provincial_schemes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provincial_schemes_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "scheme_task_links",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("national_task_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["national_task_id"], ["tasks.id"], name=op.f("fk_scheme_task_links_national_task_id_tasks")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_scheme_task_links_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_scheme_task_links")),
    )
    with op.batch_alter_table("scheme_task_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scheme_task_links_national_task_id"), ["national_task_id"], unique=False)

    op.create_table(
        "calendar_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_calendar_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_tokens_token_hash")),
    )
    with op.batch_alter_table("calendar_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_tokens_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("calendar_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_tokens_user_id"))
    op.drop_table("calendar_tokens")
    with op.batch_alter_table("scheme_task_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheme_task_links_national_task_id"))
    op.drop_table("scheme_task_links")
    with op.batch_alter_table("provincial_schemes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provincial_schemes_unit_id"))
    op.drop_table("provincial_schemes")
    op.drop_table("scheme_requirements")
    op.drop_table("occurrences")
    with op.batch_alter_table("cascade_children", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cascade_children_cascade_id"))
    op.drop_table("cascade_children")
    with op.batch_alter_table("cascades", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cascades_template_task_id"))
    op.drop_table("cascades")
