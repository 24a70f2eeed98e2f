"""The navigation: a few menus grouped by what people do, each item shown only to the roles that
may open its page (a link to a page that would answer 403 is never drawn)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Optional

from flask import current_app, render_template, request, url_for
from markupsafe import Markup
from tracker.fragments import FragmentCache
from tracker.lazy_text import lazy_gettext as _l
from flask_login import current_user

ALL = ("admin", "coordinator", "reporter", "leader")
PLANNERS = ("admin", "coordinator")


@dataclass(frozen=True)
class Item:
    endpoint: str
    label: object
    roles: tuple = ALL
    also_active: tuple = ()  # other endpoints (sub-pages) under which this item is the current one


@dataclass(frozen=True)
class Menu:
    key: str
    label: object
    items: tuple


MENUS = (
    Menu(
        "work",
        _l("My work"),
        (
            Item("plans.my_work_page", _l("My work")),
            Item("notifications.inbox", _l("Notifications")),
            Item("calendar.calendar_settings", _l("Calendar feed")),
        ),
    ),
    Menu(
        "plans",
        _l("Plans and tasks"),
        (
            Item("plans.plan_list", _l("Plans"), also_active=("plans.plan_detail",)),
            Item("plans.task_list", _l("Tasks"), also_active=("plans.task_page", "plans.task_edit")),
            Item(
                "cascade.hub",
                _l("Cascades and schemes"),
                also_active=("cascade.cascade_detail", "schemes.scheme_page", "schemes.scheme_overview"),
            ),
            Item(
                "indicators.index",
                _l("Indicators"),
                also_active=("indicators.period_page", "indicators.form_page", "indicators.aggregate_page"),
            ),
            Item("plans.plan_new", _l("New plan"), PLANNERS, also_active=("plans.task_new",)),
            Item("drafts.upload", _l("Draft from a document"), PLANNERS, also_active=("drafts.review", "drafts.item")),
        ),
    ),
    Menu(
        "progress",
        _l("Progress and supervision"),
        (
            Item("progress.leadership", _l("Leadership summary")),
            Item("progress.ranking", _l("Ranking")),
            Item("notifications.overdue", _l("Overdue and escalated")),
            Item("explanations.rates", _l("Overdue explanations")),
        ),
    ),
    Menu(
        "admin",
        _l("Administration"),
        (
            Item("notifications.rules", _l("Escalation rules"), ("admin",)),
            Item("users.account_list", _l("Accounts"), PLANNERS),
            Item(
                "units.unit_list",
                _l("Units"),
                ("admin",),
                also_active=("units.unit_new", "units.unit_edit", "units.unit_import"),
            ),
            Item("audit.journal_page", _l("Audit log"), ("admin", "leader", "coordinator")),
        ),
    ),
)


@dataclass
class ShownItem:
    label: object
    url: str
    active: bool


@dataclass
class ShownMenu:
    key: str
    label: object
    items: list = field(default_factory=list)

    @property
    def active(self) -> bool:
        return any(i.active for i in self.items)

    @property
    def first_url(self) -> Optional[str]:
        return self.items[0].url if self.items else None


def menus_for(role: str, endpoint: Optional[str]) -> list[ShownMenu]:
    """The menus (and their items) a user of `role` sees; empty menus are left out."""
    shown = []
    for menu in MENUS:
        items = [
            ShownItem(item.label, url_for(item.endpoint), endpoint == item.endpoint or endpoint in item.also_active)
            for item in menu.items
            if role in item.roles
        ]
        if items:
            shown.append(ShownMenu(menu.key, menu.label, items))
    return shown


def current_menus() -> list[ShownMenu]:
    if not current_user.is_authenticated:
        return []
    return menus_for(current_user.role, request.endpoint)


# --- the signed-in navigation bar, rendered once and reused ------------------------------------
# The bar is a fifth of a list page's server time (its menus, links and strings), and for one user
# on one page it is the same every time but for its two badges and the CSRF token. It is kept per
# process under everything it shows (user, role, name, unit, locale, page), those three filled in
# per request. A bounded LRU: at most NAV_CACHE_SIZE bars (≈ 7 KB each).
NAV_CACHE_SIZE = 1024
_MARK = f"nav-{uuid.uuid4().hex}"
CSRF_MARK, WORK_MARK, UNREAD_MARK = f"{_MARK}-csrf", f"{_MARK}-work", f"{_MARK}-unread"
_bars = FragmentCache(NAV_CACHE_SIZE)


def navigation_bar() -> Markup:
    """The signed-in navigation (templates/layout/_navbar.html) for this request."""
    from flask_babel import get_locale
    from flask_wtf.csrf import generate_csrf

    from tracker.web import nav_counts

    user = current_user
    locale = str(get_locale())
    key = (
        "bar",
        id(current_app._get_current_object()),  # its URL map and settings
        request.script_root,
        user.id,
        user.role,
        user.display_name,
        user.unit_id,
        user.unit.name if user.unit is not None else "",
        locale,
        request.endpoint,
        request.full_path,
    )
    html = _bars.get(
        key,
        lambda: render_template(
            "layout/_navbar.html",
            csrf_token=lambda: CSRF_MARK,
            work_count=WORK_MARK,
            unread_badge=Markup(UNREAD_MARK),
        ),
    )
    counts = nav_counts()
    badge = _bars.get(
        ("badge", locale, counts["unread"]),
        lambda: render_template("notifications/_badge.html", unread=counts["unread"], oob=False),
    )
    filled = (
        html.replace(UNREAD_MARK, badge)
        .replace(WORK_MARK, str(int(counts["work"])))
        .replace(CSRF_MARK, generate_csrf())
    )
    return Markup(filled)
