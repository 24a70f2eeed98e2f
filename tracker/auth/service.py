"""Users: creation, authentication, and the demo accounts of the demo set-up."""

from __future__ import annotations

import secrets
from typing import Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.auth.sessions import end_user_sessions
from tracker.extensions import db
from tracker.models import OrgUnit, User
from tracker.models.org import ROLES

MIN_PASSWORD_LENGTH = 8

# Demo accounts: only created by `flask demo users` (the README's run command), never in production.
DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    ("admin", "系统管理员", "admin", "NHC"),
    ("leader", "委领导", "leader", "NHC"),
    ("nhc_coord", "国家卫生健康委医政司 督办员", "coordinator", "NHC"),
    ("ncc_coord", "国家癌症中心 督办员", "coordinator", "NCC"),
    ("ncc_qc", "国家肿瘤质控中心 填报员", "reporter", "NCC-QC"),
    ("breast_rep", "乳腺癌质控专家委员会 填报员", "reporter", "NCC-BREAST"),
    ("bj_coord", "北京市卫生健康委 督办员", "coordinator", "P11"),
    ("bj_qc", "北京市肿瘤质控中心 填报员", "reporter", "P11-QC"),
    ("sh_qc", "上海市肿瘤质控中心 填报员", "reporter", "P31-QC"),
    ("nx_coord", "宁夏回族自治区卫生健康委 督办员", "coordinator", "P64"),
    ("wz_coord", "吴忠市卫生和计划生育局 督办员", "coordinator", "WZ"),
    ("lt_rep", "利通区卫生计生局 填报员", "reporter", "WZ-LT"),
    ("lt_hosp", "利通区人民医院 填报员", "reporter", "WZ-LT-H"),
]


class UserError(ValueError):
    """Refused user data; the message is for the person who gave it."""


def unit_by_code(code: str) -> Optional[OrgUnit]:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def root_unit() -> Optional[OrgUnit]:
    return db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.position, OrgUnit.id))


def create_user(
    username: str, password: str, role: str, unit_code: str, display_name: str = "", email: str = ""
) -> User:
    username = username.strip()
    if not username:
        raise UserError(_l("A user name is required."))
    if role not in ROLES:
        raise UserError(_l("Unknown role '%(role)s' (one of %(roles)s).", role=role, roles=", ".join(ROLES)))
    unit = unit_by_code(unit_code)
    if unit is None:
        raise UserError(_l("Unknown unit code '%(code)s'.", code=unit_code))
    check_password_policy(password, username)
    if db.session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise UserError(_l("The user name '%(name)s' is taken.", name=username))
    email = email.strip()
    if email and ("@" not in email or " " in email or len(email) > 200):
        raise UserError(_l("'%(email)s' is not an e-mail address.", email=email))
    user = User(username=username, display_name=display_name or username, role=role, unit=unit, email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def check_password_policy(password: str, username: str = "") -> None:
    """At least 8 characters, with letters and digits, not containing the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(_l("The password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if len(password) > 200:
        raise UserError(_l("The password may have at most 200 characters."))
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise UserError(_l("The password needs both letters and digits."))
    if username and username.strip().lower() in password.lower():
        raise UserError(_l("The password must not contain the user name."))


def end_sessions(user: User, keep_token: Optional[str] = None) -> int:
    """End every signed-in session of `user` (its records in `user_sessions`; tracker/auth/sessions.py),
    except the one whose id is `keep_token` when given; how many ended. Called when an account is
    disabled, its password is changed or reset, and by "sign out everywhere". Flushes."""
    return end_user_sessions(user, keep_token)


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    """A hash of a random password, made once per process with the same method and cost as real ones."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def authenticate(username: str, password: str) -> Optional[User]:
    """The active user with this name and password, else None.

    Every attempt hashes the password once, whether the name exists, is disabled or not: an
    unknown name costs as long as a wrong password, so names cannot be told apart by timing."""
    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def ensure_demo_users() -> int:
    """Create the demo accounts that do not exist yet; return how many were created."""
    existing = set(db.session.scalars(select(User.username)))
    created = 0
    for username, name, role, unit_code in DEMO_USERS:
        if username not in existing:
            create_user(username, DEMO_PASSWORD, role, unit_code, name)
            created += 1
    return created
