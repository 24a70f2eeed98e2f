"""The overdue list's filter form with its choices: every plan by title, the chosen plan's phases,
the people named on the overdue tasks the user sees (the pieces the task list's filters share:
tracker/plans/list_filters.py). The list (routes.py) and its saved filters
(tracker/plans/saved_filters.py, which validate a saved query with it) build it here."""

from __future__ import annotations

from datetime import date

from tracker.models import Plan, User
from tracker.notifications.forms import OverdueFilterForm
from tracker.plans.list_filters import named_responsibles, plans_and_choice
from tracker.plans.queries import overdue_clause


def overdue_form(args, user: User, today: date) -> tuple[OverdueFilterForm, Plan | None]:
    """The form read from `args` (not yet validated) and the plan it names (None for none)."""
    plans, plan = plans_and_choice(args)
    phases = list(plan.phases) if plan is not None else []
    responsibles = named_responsibles(user, overdue_clause(today), chosen=args.get("responsible") or "")
    form = OverdueFilterForm(args, plans=plans, phases=phases, responsibles=responsibles)
    return form, plan
