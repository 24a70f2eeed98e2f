"""The pinyin initials of each unit's name, for the unit picker (宁夏回族自治区卫生健康委 → nxhzzzqwsjkw)

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-04

`org_units.initials` holds the first letter of each Chinese character's reading (pypinyin), the
letters and digits of the name lower-cased, nothing else; the picker matches it by prefix, on an
index (varchar_pattern_ops on PostgreSQL, as for the paths). The existing units are filled here,
in batches, with the rule frozen below as it stands today (tracker/initials.py keeps it for new
names): a later change of that rule comes with a migration of its own.
"""

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0046"
down_revision = "0045"
branch_labels = None
depends_on = None

INITIALS_MAX = 100
BATCH = 500
_NOT_KEPT = re.compile(r"[^a-z0-9]+")

units = sa.table(
    "org_units", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("initials", sa.String)
)


def name_initials(name, reader) -> str:
    """The initials of `name` (frozen copy of tracker/initials.py as of this revision)."""
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name)
    return _NOT_KEPT.sub("", "".join(reader(text)).lower())[:INITIALS_MAX]


def fill_initials(bind) -> int:
    """Set the initials of every unit from its name; batched updates, returns how many units."""
    from pypinyin import Style, lazy_pinyin

    def reader(text):
        return lazy_pinyin(text, style=Style.FIRST_LETTER)

    rows = bind.execute(sa.select(units.c.id, units.c.name).order_by(units.c.id)).all()
    update = units.update().where(units.c.id == sa.bindparam("unit_id")).values(initials=sa.bindparam("value"))
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        bind.execute(update, [{"unit_id": id_, "value": name_initials(name, reader)} for id_, name in batch])
    return len(rows)


def upgrade():
    op.add_column("org_units", sa.Column("initials", sa.String(length=INITIALS_MAX), nullable=False, server_default=""))
    fill_initials(op.get_bind())
    op.create_index(
        "ix_org_units_initials",
        "org_units",
        ["initials"],
        unique=False,
        postgresql_ops={"initials": "varchar_pattern_ops"},
    )


def downgrade():
    op.drop_index("ix_org_units_initials", table_name="org_units")
    op.drop_column("org_units", "initials")
