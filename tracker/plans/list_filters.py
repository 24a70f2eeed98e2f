"""The choices the lists' filter forms share (the task list's TaskFilterForm, the overdue list's
OverdueFilterForm): every plan by title and the one a query names, and the people of a user's
scope named responsible (责任人) on tasks they see. The task list (routes.py), its export
(tracker/progress/routes.py) and its saved filters (saved_filters.py) build the form here; the
overdue list's is built from the same pieces (tracker/notifications/overdue_form.py)."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import case, select

from tracker.auth.scope import visible_tasks_clause
from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task, User
from tracker.plans.forms import TaskFilterForm

RESPONSIBLE_CHOICES = 200  # the people a filter offers at most
_ID_MAX = 2**31 - 1  # an id a query may name (beyond it: no such row, not an overflow)


def plans_and_choice(args) -> tuple[list[Plan], Optional[Plan]]:
    """Every plan (newest issued first; all plans are everyone's to see) and the one `args`
    names by its key (None for none or an unknown key: the form says so next to the field)."""
    plans = list(db.session.scalars(select(Plan).order_by(Plan.issued_on.desc().nulls_last(), Plan.key)))
    return plans, next((p for p in plans if p.key == args.get("plan")), None)


def named_responsibles(user: User, *task_clauses, chosen: str = "") -> list[User]:
    """The people of `user`'s scope (everyone's for those who see everything) named responsible on
    a task `user` sees that matches `task_clauses`, by name: one statement, each person checked
    through the responsible index (ix_tasks_responsible_user_id), at most RESPONSIBLE_CHOICES
    of them, the `chosen` one (an id as the query gives it) kept among them when it qualifies."""
    named = (
        select(Task.id).where(Task.responsible_user_id == User.id, visible_tasks_clause(user), *task_clauses).exists()
    )
    query = select(User).where(named)
    if not user.sees_everything:
        query = query.join(OrgUnit, OrgUnit.id == User.unit_id).where(OrgUnit.path.like(f"{user.unit.path}%"))
    order = [User.display_name, User.id]
    if chosen.isdigit() and int(chosen) <= _ID_MAX:
        order.insert(0, case((User.id == int(chosen), 0), else_=1))
    people = list(db.session.scalars(query.order_by(*order).limit(RESPONSIBLE_CHOICES)))
    return sorted(people, key=lambda u: (u.display_name, u.id))


def task_filter_form(args, user: User) -> tuple[TaskFilterForm, Optional[Plan]]:
    """The task list's filter form read from `args` (not yet validated), with its choices: every
    plan by title, the chosen plan's phases, the people of the user's scope named on their tasks;
    and the plan it names (None for none). Two statements (three with a plan chosen)."""
    plans, plan = plans_and_choice(args)
    phases = list(plan.phases) if plan is not None else []
    responsibles = named_responsibles(user, Task.owner_selector.is_(None), chosen=args.get("responsible") or "")
    return TaskFilterForm(args, plans=plans, phases=phases, responsibles=responsibles), plan
