"""The org-unit tree and the users who belong to its units."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.extensions import db
from tracker.initials import INITIALS_MAX, name_initials
from tracker.models.base import UTCDateTime, utcnow

UNIT_KINDS = ("commission", "qc_center", "committee", "institution")
UNIT_LEVELS = ("national", "provincial", "prefecture", "county", "institution")
ROLES = ("admin", "coordinator", "reporter", "leader")


def _initials_of_the_row(context) -> str:
    """A Core insert's default for `initials`: those of the row's name (the units sheet, the
    demo generator and the tests' bulk inserts write rows as dicts; each row gets its own)."""
    return name_initials(context.get_current_parameters().get("name"))


class OrgUnit(db.Model):
    """A unit of the health administration: commission, QC centre, committee or institution.

    `path` is the materialised path of ids (`/1/7/42/`): "this unit and everything under it"
    is `path LIKE '/1/7/%'` on an index.
    """

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("org_units.id"))
    # the pinyin initials of the name (宁夏回族自治区卫生健康委 → nxhzzzqwsjkw), which the unit
    # picker matches by prefix (tracker/pickers/units.py): set with the name, never by hand
    initials: Mapped[str] = mapped_column(String(INITIALS_MAX), default=_initials_of_the_row, server_default="")
    path: Mapped[str] = mapped_column(String(400), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    example: Mapped[bool] = mapped_column(Boolean, default=False)
    # "seed": from seed_plans/units.yaml (a reload keeps it in step); "web": added or changed in
    # the web, which a reload never overwrites (tracker/units/service.py)
    origin: Mapped[str] = mapped_column(String(10), default="seed")
    # a retired unit keeps its history but takes no new users, tasks or cascades
    retired_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    parent: Mapped[Optional["OrgUnit"]] = relationship(remote_side=[id])

    __table_args__ = (
        Index("ix_org_units_path", "path", postgresql_ops={"path": "varchar_pattern_ops"}),
        Index("ix_org_units_initials", "initials", postgresql_ops={"initials": "varchar_pattern_ops"}),
        Index("ix_org_units_kind_level", "kind", "level"),
        Index("ix_org_units_parent_id", "parent_id"),
    )

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.name}>"

    @validates("name")
    def _keep_the_initials(self, key: str, name: str) -> str:
        """Every ORM write of a name (a new unit, a rename in the web, the seed loader) sets its
        initials with it."""
        self.initials = name_initials(name)
        return name

    def is_within(self, other: "OrgUnit") -> bool:
        """True when this unit is `other` or lies under it."""
        return self.path.startswith(other.path)

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    phone: Mapped[str] = mapped_column(String(40), default="")
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # set by a reset or a new account's temporary password: the next sign-in asks for a new one
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(10), default="")  # "" = the site default

    unit: Mapped[OrgUnit] = relationship(lazy="joined")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def sees_everything(self) -> bool:
        return self.role in ("admin", "leader")

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"
