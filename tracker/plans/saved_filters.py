"""Saved filters of the task list and of the overdue list: a user names the list's current
filters and comes back to them. Each user sees, applies and deletes only their own. What is
stored is the list's query string reduced to the filter form's own arguments; it is validated by
that form (TaskFilterForm, OverdueFilterForm) when saved, and applied through the list, which
validates it again like any request. The overdue list's start with `list=overdue` (the table has
no column for the list: no migration); a name is unique per user across both lists."""

from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qsl, urlencode

from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from tracker.auth.scope import can_view_unit
from tracker.extensions import db
from tracker.models import SavedFilter, User
from tracker.web import PAGE_SIZES

# the task list's arguments a saved filter keeps (not the page number)
KEYS = ("q", "status", "owner", "plan", "phase", "responsible", "overdue", "due_from", "due_to", "sort", "per_page")
# the overdue list's (tracker/notifications/forms.py OverdueFilterForm)
OVERDUE_KEYS = ("unit", "plan", "phase", "status", "responsible", "late", "escalated", "sort", "per_page")
LIST_KEYS = {"tasks": KEYS, "overdue": OVERDUE_KEYS}
LIST_MARK = "list"  # the stored query's first argument for a list other than the task list
NAME_MAX = 60
QUERY_MAX = 1000
MAX_PER_USER = 30


class SavedFilterError(ValueError):
    """A refused save; `field` names the form field the message belongs next to."""

    def __init__(self, field: str, message):
        self.field = field
        super().__init__(message)


def filter_query(args, list_name: str = "tasks") -> str:
    """The list's arguments a saved filter keeps, in a fixed order, empty ones left out (the
    overdue list's after `list=overdue`; nothing at all when none is kept)."""
    pairs = []
    for key in LIST_KEYS.get(list_name, KEYS):
        for value in args.getlist(key) if hasattr(args, "getlist") else [args.get(key)]:
            value = (value or "").strip()
            if value:
                pairs.append((key, value))
    if pairs and list_name != "tasks":
        pairs.insert(0, (LIST_MARK, list_name))
    return urlencode(pairs)


def list_of(query: str) -> str:
    """Which list a stored query belongs to."""
    first = (query or "").split("&", 1)[0]
    return first.split("=", 1)[1] if first.startswith(f"{LIST_MARK}=") else "tasks"


def list_arguments(query: str) -> str:
    """A stored query as the list's own address takes it (without the list's mark)."""
    if list_of(query) == "tasks":
        return query
    return query.split("&", 1)[1] if "&" in query else ""


def query_errors(query: str, list_name: str = "tasks", user: Optional[User] = None) -> list[str]:
    """What the list's filter form says of `query` ([] when it is valid); each list's form
    takes its choices from what `user` sees."""
    args = MultiDict(parse_qsl(list_arguments(query), keep_blank_values=True))
    if list_name == "overdue":
        from tracker.notifications.overdue_form import overdue_form
        from tracker.timeutil import local_today

        form, _plan = overdue_form(args, user, local_today())
        if form.validate() and form.unit.unit is not None and not can_view_unit(user, form.unit.unit):
            return [f"{form.unit.label.text}: {_l('Not found, or not yours to see.')}"]
    else:
        from tracker.plans.list_filters import task_filter_form

        form, _plan = task_filter_form(args, user)
    errors = (
        []
        if form.validate()
        else [f"{getattr(form, n).label.text}: {' '.join(map(str, e))}" for n, e in form.errors.items()]
    )
    size = args.get("per_page")
    if size and (not size.isdigit() or int(size) not in PAGE_SIZES):
        errors.append(str(_l("Per page")) + ": " + str(_l("Not a valid choice.")))
    return errors


def saved_filters_of(user: User, list_name: str = "tasks") -> list[SavedFilter]:
    """The user's saved filters of one list by name (one statement, at most MAX_PER_USER rows)."""
    marked = SavedFilter.query.like(f"{LIST_MARK}=%")
    of_list = ~marked if list_name == "tasks" else SavedFilter.query.like(f"{LIST_MARK}={list_name}&%")
    return list(
        db.session.scalars(
            select(SavedFilter)
            .where(SavedFilter.user_id == user.id, of_list)
            .order_by(SavedFilter.name)
            .limit(MAX_PER_USER)
        )
    )


def saved_filter_of(user: User, filter_id: int) -> Optional[SavedFilter]:
    """The saved filter, if it is the user's own (None for anyone else's: it does not exist for them)."""
    found = db.session.get(SavedFilter, filter_id)
    return found if found is not None and found.user_id == user.id else None


def save_filter(user: User, name: str, query: str, list_name: str = "tasks") -> SavedFilter:
    """Save the list's filters under `name` (a filter of the same name on this list is
    replaced; one of that name on the other list refuses it); flushed."""
    name = " ".join((name or "").split())
    if not name:
        raise SavedFilterError("name", _l("Give the filter a name."))
    if len(name) > NAME_MAX:
        raise SavedFilterError("name", _l("A filter name may have at most %(n)d characters.", n=NAME_MAX))
    query = filter_query(MultiDict(parse_qsl(query or "", keep_blank_values=True)), list_name)
    if not query:
        raise SavedFilterError("name", _l("Choose some filters or an order first: there is nothing to save."))
    if len(query) > QUERY_MAX:
        raise SavedFilterError("name", _l("These filters are too long to save."))
    errors = query_errors(query, list_name, user)
    if errors:
        raise SavedFilterError("name", _l("The filters have errors: %(errors)s", errors="; ".join(errors)))
    existing = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == user.id, SavedFilter.name == name))
    if existing is not None and list_of(existing.query) != list_name:
        raise SavedFilterError("name", _l("You have a filter of this name on another list: choose another name."))
    if existing is not None:
        existing.query = query
        db.session.flush()
        return existing
    count = db.session.scalar(select(func.count()).where(SavedFilter.user_id == user.id)) or 0
    if count >= MAX_PER_USER:
        raise SavedFilterError("name", _l("You have %(n)d saved filters already: delete one first.", n=MAX_PER_USER))
    saved = SavedFilter(user_id=user.id, name=name, query=query)
    db.session.add(saved)
    db.session.flush()
    return saved


def delete_filter(user: User, filter_id: int) -> bool:
    """Delete one's own saved filter; False when there is none of that id for this user."""
    found = saved_filter_of(user, filter_id)
    if found is None:
        return False
    db.session.delete(found)
    db.session.flush()
    return True
