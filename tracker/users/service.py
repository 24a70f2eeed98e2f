"""Accounts managed in the web: who may manage whom, create, edit, disable and re-enable,
reset a password, and the list of accounts.

An admin manages every account. A coordinator manages the coordinators and reporters of their
own unit and the units under it, and gives only those two roles: never an admin or a leader (a
leader sees everything), never an account outside the subtree. Every change is journaled
(tracker/audit/journal.py) in the caller's transaction; services flush, the route commits.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from typing import Optional

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import delete, func, or_, select, update
from werkzeug.security import generate_password_hash

from tracker.audit import journal as audit
from tracker.auth.service import UserError, end_sessions
from tracker.extensions import db
from tracker.models import Notification, OrgUnit, User
from tracker.models.notify import NONE, PENDING
from tracker.models.org import ROLES
from tracker.pagination import Page
from tracker.pagination import paginate as paginate_rows

ROLE_LABELS = {
    "admin": _l("administrator"),
    "coordinator": _l("coordinator"),
    "reporter": _l("reporter"),
    "leader": _l("leader"),
}
MANAGERS = ("admin", "coordinator")
COORDINATOR_GIVES = ("coordinator", "reporter")

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,79}$")
PHONE = re.compile(r"^[0-9+\-() ]{5,40}$")


class NotAllowed(Exception):
    """The actor may not do this to this account (403), or may not see it (404: `hidden`)."""

    def __init__(self, message, hidden: bool = False):
        super().__init__(message)
        self.hidden = hidden


# --- who manages whom ---------------------------------------------------------------------------


def may_manage_users(actor: User) -> bool:
    return actor.role in MANAGERS


def assignable_roles(actor: User) -> tuple[str, ...]:
    if actor.role == "admin":
        return ROLES
    if actor.role == "coordinator":
        return COORDINATOR_GIVES
    return ()


def within_reach(actor: User, unit: OrgUnit) -> bool:
    """Is `unit` the actor's unit or under it (everything for an admin)?"""
    return actor.role == "admin" or unit.is_within(actor.unit)


def can_see_account(actor: User, target: User) -> bool:
    return may_manage_users(actor) and within_reach(actor, target.unit)


def can_manage(actor: User, target: User) -> bool:
    return can_see_account(actor, target) and target.role in assignable_roles(actor)


def require_manage(actor: User, target: User) -> None:
    if not can_see_account(actor, target):
        raise NotAllowed(_l("You may not see this account."), hidden=True)
    if not can_manage(actor, target):
        raise NotAllowed(_l("You may not change this account."))


def units_for(actor: User):
    """A SELECT of the units the actor may put accounts in (not retired), in tree order."""
    query = select(OrgUnit).where(OrgUnit.retired_at.is_(None)).order_by(OrgUnit.path)
    if actor.role != "admin":
        query = query.where(OrgUnit.path.like(f"{actor.unit.path}%"))
    return query


# --- checks shared by the forms and the import ----------------------------------------------


def username_problem(username: str) -> Optional[str]:
    if not username:
        return _l("A user name is required.")
    if not USERNAME.match(username):
        return _l("A user name has 2 to 80 letters, digits or . _ @ - and starts with a letter or digit.")
    return None


def email_problem(email: str) -> Optional[str]:
    if email and (len(email) > 200 or " " in email or not re.match(r"^[^@]+@[^@]+\.[^@]+$", email)):
        return _l("'%(email)s' is not an e-mail address.", email=email)
    return None


def phone_problem(phone: str) -> Optional[str]:
    if phone and (not PHONE.match(phone) or sum(c.isdigit() for c in phone) < 5):
        return _l("'%(phone)s' is not a telephone number.", phone=phone)
    return None


def role_problem(actor: User, role: str) -> Optional[str]:
    if role not in ROLES:
        return _l("Unknown role '%(role)s' (one of %(roles)s).", role=role, roles=", ".join(ROLES))
    if role not in assignable_roles(actor):
        return _l("You may not give the role '%(role)s'.", role=ROLE_LABELS[role])
    return None


def unit_problem(actor: User, unit: Optional[OrgUnit]) -> Optional[str]:
    if unit is None:
        return _l("Choose a unit.")
    if unit.is_retired:
        return _l("The unit '%(name)s' is retired.", name=unit.name)
    if not within_reach(actor, unit):
        return _l("The unit '%(name)s' is not your unit or under it.", name=unit.name)
    return None


def username_taken(username: str) -> bool:
    return bool(
        db.session.scalar(select(func.count()).select_from(User).where(func.lower(User.username) == username.lower()))
    )


# --- temporary passwords ------------------------------------------------------------------------

_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def temporary_password() -> str:
    """12 random letters and digits (≈70 bits), with both kinds."""
    while True:
        word = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        if any(c.isdigit() for c in word) and any(c.isalpha() for c in word):
            return word


def give_temporary_password(user: User) -> str:
    """A new random password the user must change at the next sign-in; returned once, never stored.

    It is hashed with one round of PBKDF2 rather than the slow default: a random 70-bit secret
    needs no key stretching (the slow hash protects guessable passwords), and an import of 300
    accounts must not take a minute. The password the user then chooses gets the default hash."""
    word = temporary_password()
    user.password_hash = generate_password_hash(word, method="pbkdf2:sha256:1")
    user.must_change_password = True
    return word


# --- changes ------------------------------------------------------------------------------------


@dataclass
class AccountValues:
    display_name: str
    unit: Optional[OrgUnit]
    role: str
    email: str = ""
    phone: str = ""


def _check_values(actor: User, values: AccountValues) -> None:
    for problem in (
        role_problem(actor, values.role),
        unit_problem(actor, values.unit),
        email_problem(values.email),
        phone_problem(values.phone),
    ):
        if problem:
            raise UserError(problem)
    if len(values.display_name) > 120:
        raise UserError(_l("A display name may have at most 120 characters."))


def create_account(actor: User, username: str, values: AccountValues) -> tuple[User, str]:
    """A new account with a temporary password (returned, to be handed to the person once)."""
    if not may_manage_users(actor):
        raise NotAllowed(_l("You may not manage accounts."))
    username = (username or "").strip()
    problem = username_problem(username)
    if problem:
        raise UserError(problem)
    _check_values(actor, values)
    if username_taken(username):
        raise UserError(_l("The user name '%(name)s' is taken.", name=username))
    user = User(
        username=username,
        display_name=values.display_name or username,
        role=values.role,
        unit=values.unit,
        email=values.email,
        phone=values.phone,
        active=True,
    )
    word = give_temporary_password(user)
    db.session.add(user)
    db.session.flush()
    audit.record_user(actor, user, "create", comment=f"{values.role} · {values.unit.code}")
    return user, word


def edit_account(actor: User, target: User, values: AccountValues, comment: str = "") -> list[str]:
    """Change the account's name, unit, role and contacts; returns the changed field names."""
    require_manage(actor, target)
    _check_values(actor, values)
    if target.id == actor.id and values.role != target.role:
        raise UserError(_l("You cannot change your own role."))
    changed = []
    wanted = {
        "display_name": values.display_name or target.username,
        "unit_id": values.unit.id,
        "role": values.role,
        "email": values.email,
        "phone": values.phone,
    }
    for name, new in wanted.items():
        old = getattr(target, name)
        if old != new:
            shown_old, shown_new = old, new
            if name == "unit_id":
                shown_old, shown_new = target.unit.name, values.unit.name
            audit.record_user(actor, target, "edit", name, shown_old, shown_new, comment)
            setattr(target, name, new)
            changed.append(name)
    if "unit_id" in changed:
        target.unit = values.unit
    if "unit_id" in changed or "role" in changed:  # what they follow was chosen from what they saw
        from tracker.models import TaskWatcher

        db.session.execute(delete(TaskWatcher).where(TaskWatcher.user_id == target.id))
    db.session.flush()
    return changed


def set_active(actor: User, target: User, active: bool, comment: str = "") -> bool:
    """Disable or re-enable an account; returns whether anything changed. A disabled account
    keeps its history, cannot sign in, its sessions end, and it gets no notices (its mail
    waiting to be sent is dropped; the escalation pass skips it)."""
    require_manage(actor, target)
    if target.id == actor.id and not active:
        raise UserError(_l("You cannot disable your own account."))
    if target.active == active:
        return False
    target.active = active
    audit.record_user(actor, target, "enable" if active else "disable", "active", not active, active, comment)
    if not active:
        end_sessions(target)
        db.session.execute(
            update(Notification)
            .where(Notification.user_id == target.id, Notification.email_state == PENDING)
            .values(email_state=NONE)
            .execution_options(synchronize_session=False)
        )
    db.session.flush()
    return True


def reset_password(actor: User, target: User) -> str:
    """A new temporary password (returned once); the user must change it at the next sign-in."""
    require_manage(actor, target)
    if target.id == actor.id:
        raise UserError(_l("Change your own password on your account page."))
    word = give_temporary_password(target)
    end_sessions(target)
    audit.record_user(actor, target, "reset_password", "password")
    db.session.flush()
    return word


def sign_out_everywhere(actor: User, target: User, comment: str = "") -> int:
    """An administrator's "sign out everywhere": every session of the account ends (journaled
    with how many there were); returns how many. One's own: "sign out my other sessions" on the
    account page, which keeps this browser's."""
    require_manage(actor, target)
    if target.id == actor.id:
        raise UserError(_l("Sign out your other sessions on your account page."))
    ended = end_sessions(target)
    audit.record_user(actor, target, "sign_out_everywhere", "sessions", ended, 0, comment)
    db.session.flush()
    return ended


# --- the list -----------------------------------------------------------------------------------


@dataclass
class AccountFilters:
    q: str = ""
    unit: Optional[OrgUnit] = None
    role: str = ""
    state: str = ""  # "", "active", "disabled"


def accounts_query(actor: User, filters: AccountFilters):
    query = select(User).join(OrgUnit, OrgUnit.id == User.unit_id)
    if actor.role != "admin":
        query = query.where(OrgUnit.path.like(f"{actor.unit.path}%"))
    if filters.unit is not None:
        query = query.where(OrgUnit.path.like(f"{filters.unit.path}%"))
    if filters.q:
        pattern = f"%{filters.q.lower()}%"
        query = query.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.display_name).like(pattern),
                func.lower(User.email).like(pattern),
                User.phone.like(pattern),
            )
        )
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.state == "active":
        query = query.where(User.active.is_(True))
    elif filters.state == "disabled":
        query = query.where(User.active.is_(False))
    return query


def accounts_page(actor: User, filters: AccountFilters, page: int, per_page: int) -> Page:
    """One page of the accounts, in tree order of their units: two statements."""
    return paginate_rows(accounts_query(actor, filters), page, per_page, OrgUnit.path, User.username, User.id)


def account_for(actor: User, user_id: int) -> Optional[User]:
    """The account if the actor may see it, else None (404)."""
    user = db.session.get(User, user_id)
    if user is None or not can_see_account(actor, user):
        return None
    return user
