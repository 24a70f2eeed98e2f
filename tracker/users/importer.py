"""Accounts imported from a sheet: every row checked against the database and the rest of the
file first; all problems named by row and column; nothing stored unless the whole file is right.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker.audit import journal as audit
from tracker.extensions import db
from tracker.models import OrgUnit, User
from tracker.models.org import ROLES
from tracker.sheets import Column, SheetRefused, read_table, template_workbook
from tracker.users.service import (
    ROLE_LABELS,
    NotAllowed,
    email_problem,
    give_temporary_password,
    may_manage_users,
    phone_problem,
    role_problem,
    unit_problem,
    username_problem,
)


def columns() -> list[Column]:
    return [
        Column("username", _("User name"), ("用户名", "账号", "login", "user name"), required=True),
        Column("display_name", _("Display name"), ("姓名", "显示名", "name", "display name"), required=True),
        Column(
            "unit", _("Unit (code or full name)"), ("单位", "单位代码", "单位名称", "unit", "unit code"), required=True
        ),
        Column("role", _("Role"), ("角色", "role"), required=True),
        Column("email", _("E-mail"), ("邮箱", "电子邮箱", "email", "e-mail", "mail")),
        Column("phone", _("Telephone"), ("电话", "手机", "联系电话", "phone", "telephone", "mobile")),
    ]


def _role_words() -> dict[str, str]:
    """A role given by its code or its label in either language."""
    from flask_babel import force_locale

    words = {role: role for role in ROLES}
    for locale in ("zh_CN", "en"):
        with force_locale(locale):
            words.update({str(label).lower(): role for role, label in ROLE_LABELS.items()})
    words.update(
        {"管理员": "admin", "协调员": "coordinator", "督办": "coordinator", "填报": "reporter", "委领导": "leader"}
    )
    return words


@dataclass
class CheckedAccount:
    row: int
    username: str
    display_name: str
    unit: OrgUnit
    role: str
    email: str
    phone: str


def _unit_index() -> tuple[dict[str, OrgUnit], dict[str, list[OrgUnit]]]:
    by_code, by_name = {}, {}
    for unit in db.session.scalars(select(OrgUnit)):
        by_code[unit.code.upper()] = unit
        by_name.setdefault(unit.name, []).append(unit)
    return by_code, by_name


def find_unit(given: str, by_code: dict, by_name: dict):
    """(unit, None) for a code or a full name that names one unit, else (None, the problem)."""
    if not given:
        return None, _("A unit is required.")
    unit = by_code.get(given.upper())
    if unit is not None:
        return unit, None
    named = by_name.get(given, [])
    if len(named) > 1:
        return None, _(
            "Several units are named '%(name)s': give the code (%(codes)s).",
            name=given,
            codes=", ".join(u.code for u in named[:5]),
        )
    if named:
        return named[0], None
    return None, _("Unknown unit '%(unit)s' (neither a code nor a full name).", unit=given)


def check_accounts(actor: User, filename: str, data: bytes) -> list[CheckedAccount]:
    """The rows as accounts to create, or SheetRefused naming every problem."""
    if not may_manage_users(actor):
        raise NotAllowed(_("You may not manage accounts."))
    table = read_table(filename, data, columns())
    by_code, by_name = _unit_index()
    roles = _role_words()
    taken = {name.lower() for name in db.session.scalars(select(func.lower(User.username)))}
    seen: dict[str, int] = {}
    problems: list[str] = []
    accounts: list[CheckedAccount] = []

    def problem(row: int, key: str, message) -> None:
        problems.append(f"{table.where(row, key)}: {message}")

    for row, values in table.rows:
        username = values.get("username", "")
        ok = True
        message = username_problem(username)
        if message is None and username.lower() in taken:
            message = _("The user name '%(name)s' is taken.", name=username)
        if message is None and username.lower() in seen:
            message = _("The user name '%(name)s' is also on row %(row)d.", name=username, row=seen[username.lower()])
        if message:
            problem(row, "username", message)
            ok = False
        seen.setdefault(username.lower(), row)
        display_name = values.get("display_name", "")
        if not display_name:
            problem(row, "display_name", _("A display name is required."))
            ok = False
        elif len(display_name) > 120:
            problem(row, "display_name", _("A display name may have at most 120 characters."))
            ok = False
        given = values.get("unit", "")
        unit, message = find_unit(given, by_code, by_name)
        if unit is not None:
            message = unit_problem(actor, unit)
        if message:
            problem(row, "unit", message)
            ok = False
        role = roles.get(values.get("role", "").strip().lower(), values.get("role", "").strip())
        message = role_problem(actor, role) if role else _("A role is required.")
        if message:
            problem(row, "role", message)
            ok = False
        email, phone = values.get("email", ""), values.get("phone", "")
        for key, message in (("email", email_problem(email)), ("phone", phone_problem(phone))):
            if message:
                problem(row, key, message)
                ok = False
        if ok:
            accounts.append(CheckedAccount(row, username, display_name, unit, role, email, phone))
    if problems:
        raise SheetRefused(problems)
    return accounts


def import_accounts(actor: User, filename: str, data: bytes) -> list[tuple[User, str]]:
    """Create every account of the file (or none); each with a temporary password, returned once."""
    checked = check_accounts(actor, filename, data)
    created = []
    for item in checked:
        user = User(
            username=item.username,
            display_name=item.display_name,
            role=item.role,
            unit=item.unit,
            email=item.email,
            phone=item.phone,
            active=True,
        )
        created.append((user, give_temporary_password(user)))
    db.session.add_all([user for user, _word in created])
    db.session.flush()
    for (user, _word), item in zip(created, checked):
        audit.record_user(
            actor, user, "create", comment=_("imported from %(file)s, row %(row)d", file=filename[:100], row=item.row)
        )
    db.session.flush()
    return created


def accounts_template():
    notes = [
        _("One account per row under the heading row; columns marked * are required."),
        _("Unit: the unit's code (e.g. P11-QC) or its full name as in the catalogue."),
        _("Role: admin, coordinator, reporter or leader (or their Chinese names: 系统管理员, 督办员, 填报员, 领导)."),
        _(
            "Each account gets a temporary password, shown once after the import; it must be changed at the first sign-in."
        ),
        _("The whole file is checked first: if any row has a problem, nothing is stored."),
    ]
    examples = [["bj_hosp01", "北京市某医院 填报员", "P11-QC", "reporter", "someone@example.cn", "010-12345678"]]
    return template_workbook(_("Accounts"), columns(), examples, notes)
