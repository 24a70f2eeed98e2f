"""The overdue list's filter form with its choices: every plan by title, the chosen plan's phases,
the people named on the overdue tasks the user sees. The list (routes.py) and its saved filters
(tracker/plans/saved_filters.py, which validate a saved query with it) build it here."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Plan, User
from tracker.notifications.forms import OverdueFilterForm
from tracker.notifications.service import overdue_responsibles


def overdue_form(args, user: User, today: date) -> tuple[OverdueFilterForm, Plan | None]:
    """The form read from `args` (not yet validated) and the plan it names (None for none)."""
    plans = list(db.session.scalars(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)))
    plan = next((p for p in plans if p.key == args.get("plan")), None)
    phases = list(plan.phases) if plan is not None else []
    form = OverdueFilterForm(args, plans=plans, phases=phases, responsibles=overdue_responsibles(user, today))
    return form, plan
