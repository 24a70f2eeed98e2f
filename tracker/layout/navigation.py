"""The navigation: a few menus grouped by what people do, each item shown only to the roles that
may open its page (a link to a page that would answer 403 is never drawn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from flask import request, url_for
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
