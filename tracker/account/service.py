"""Changes a user makes to their own account, journaled like an admin's (tracker/audit)."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import select

from tracker.audit import journal as audit
from tracker.auth.service import UserError, check_password_policy, end_sessions
from tracker.extensions import db
from tracker.models import NotificationPreference, User
from tracker.models.notify import KINDS, LEADER_GROUP
from tracker.notifications.labels import KIND_LABELS
from tracker.users.service import email_problem, phone_problem


def change_password(user: User, current: str, new: str, repeated: str) -> None:
    """The current password is required; the policy applies; the new one must differ. Every
    session of the account ends (the caller signs this browser in afresh)."""
    if not user.check_password(current or ""):
        raise UserError(_l("The current password is wrong."))
    if new != repeated:
        raise UserError(_l("The two new passwords differ."))
    check_password_policy(new, user.username)
    if user.check_password(new):
        raise UserError(_l("The new password must differ from the current one."))
    user.set_password(new)
    user.must_change_password = False
    end_sessions(user)
    audit.record_user(user, user, "change_password", "password")
    db.session.flush()


def sign_out_other_sessions(user: User, this_session: str | None) -> int:
    """ "Sign out my other sessions": every session of the account but this browser's ends;
    journaled with how many there were. Returns how many ended."""
    ended = end_sessions(user, keep_token=this_session)
    if ended:
        audit.record_user(user, user, "sign_out_others", "sessions", ended, 0)
    db.session.flush()
    return ended


def update_profile(user: User, email: str, phone: str, language: str, languages) -> list[str]:
    """E-mail, telephone and language of one's own account; returns the changed field names."""
    email, phone = (email or "").strip(), (phone or "").strip()
    for problem in (email_problem(email), phone_problem(phone)):
        if problem:
            raise UserError(problem)
    if language and language not in languages:
        raise UserError(_l("Unknown language."))
    changed = []
    for name, new in (("email", email), ("phone", phone), ("language", language or "")):
        old = getattr(user, name)
        if old != new:
            audit.record_user(user, user, "account", name, old, new)
            setattr(user, name, new)
            changed.append(name)
    db.session.flush()
    return changed


# --- notification preferences (通知设置) ---------------------------------------------------------

INBOX, ALSO_EMAIL = "inbox", "email"


def preference_kinds(user: User) -> list[str]:
    """The kinds of notice a user can receive, in the order the settings list them."""
    return [kind for kind in KINDS if kind != LEADER_GROUP or user.role == "leader"]


def email_preferences(user: User) -> dict[str, bool]:
    """kind -> whether notices of that kind also come by e-mail (no row: they do); one statement."""
    stored = dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.email).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )
    return {kind: stored.get(kind, True) for kind in preference_kinds(user)}


def save_email_preferences(user: User, choices: dict[str, str]) -> list[str]:
    """Set, per kind, "inbox" (inbox only) or "email" (also by e-mail); every kind offered must be
    answered with one of the two, else nothing is written. Returns the kinds changed, journaled."""
    kinds = preference_kinds(user)
    unknown = sorted(set(choices) - set(kinds))
    if unknown or any(choices.get(kind) not in (INBOX, ALSO_EMAIL) for kind in kinds):
        raise UserError(_l("Choose, for each kind of notice, inbox only or also by e-mail."))
    current = email_preferences(user)
    rows = {
        p.kind: p
        for p in db.session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    }
    changed = []
    for kind in kinds:
        wanted = choices[kind] == ALSO_EMAIL
        if wanted == current[kind]:
            continue
        if kind in rows:
            rows[kind].email = wanted
        else:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, email=wanted))
        audit.record_user(
            user, user, "notification_preference", "notifications", _said(kind, current[kind]), _said(kind, wanted)
        )
        changed.append(kind)
    db.session.flush()
    return changed


CHOICE_LABELS = {INBOX: _l("Inbox only"), ALSO_EMAIL: _l("Inbox and e-mail")}


def _said(kind: str, email: bool) -> str:
    """ "退回：仅站内" as the journal keeps it (in the default language)."""
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return f"{KIND_LABELS[kind]}: {CHOICE_LABELS[ALSO_EMAIL if email else INBOX]}"
