"""indicators: reporting periods, forms per unit per period, values

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-24

"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reporting_periods",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("unit_kind", sa.String(length=20), nullable=True),
        sa.Column("under_unit_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_reporting_periods_created_by_id_users")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_reporting_periods_plan_id_plans")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_reporting_periods_task_id_tasks")),
        sa.ForeignKeyConstraint(
            ["under_unit_id"], ["org_units.id"], name=op.f("fk_reporting_periods_under_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_periods")),
        sa.UniqueConstraint(
            "plan_id",
            "kind",
            "year",
            "number",
            "level",
            name=op.f("uq_reporting_periods_plan_id_kind_year_number_level"),
        ),
    )
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reporting_periods_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "indicator_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("first_submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["reporting_periods.id"],
            name=op.f("fk_indicator_forms_period_id_reporting_periods"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"], name=op.f("fk_indicator_forms_reviewed_by_id_users")),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_indicator_forms_submitted_by_id_users")
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_indicator_forms_task_id_tasks")),
        sa.ForeignKeyConstraint(["unit_id"], ["org_units.id"], name=op.f("fk_indicator_forms_unit_id_org_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_forms")),
        sa.UniqueConstraint("period_id", "unit_id", name=op.f("uq_indicator_forms_period_id_unit_id")),
        sa.UniqueConstraint("task_id", name=op.f("uq_indicator_forms_task_id")),
    )
    with op.batch_alter_table("indicator_forms", schema=None) as batch_op:
        batch_op.create_index("ix_indicator_forms_period_id_status", ["period_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_indicator_forms_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "indicator_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["indicator_definitions.id"],
            name=op.f("fk_indicator_values_definition_id_indicator_definitions"),
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["indicator_forms.id"],
            name=op.f("fk_indicator_values_form_id_indicator_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_values")),
        sa.UniqueConstraint("form_id", "definition_id", name=op.f("uq_indicator_values_form_id_definition_id")),
    )
    with op.batch_alter_table("indicator_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indicator_values_definition_id"), ["definition_id"], unique=False)


def downgrade():
    with op.batch_alter_table("indicator_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_values_definition_id"))
    op.drop_table("indicator_values")
    with op.batch_alter_table("indicator_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_forms_unit_id"))
        batch_op.drop_index("ix_indicator_forms_period_id_status")
    op.drop_table("indicator_forms")
    with op.batch_alter_table("reporting_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reporting_periods_plan_id"))
    op.drop_table("reporting_periods")
