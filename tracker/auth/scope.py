"""Who may see and change what. Every query for tasks goes through `visible_tasks_clause`.

A user sees the tasks owned or co-owned by their unit and the units under it; leaders and
admins see everything. A user changes only tasks owned by their unit's subtree; leaders never
change anything. Reviewing (accept/return) needs a coordinator in a unit strictly above the
owner unit.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import ColumnElement, and_, any_, exists, or_, select, true

from tracker.extensions import db
from tracker.models import OrgUnit, Task, User, task_co_owners
from tracker.plans.status import Actor


def subtree_unit_ids(unit: OrgUnit):
    """A subquery of the ids of `unit` and every unit under it (one indexed LIKE)."""
    return select(OrgUnit.id).where(OrgUnit.path.like(f"{unit.path}%")).scalar_subquery()


# On PostgreSQL a scope of at most this many units is given to the planner as the units' ids
# (and the tasks its units co-own as theirs), not as a subquery over the units' paths: the
# planner cannot estimate how many tasks `owner_unit_id IN (SELECT … path LIKE …)` OR an EXISTS
# over the co-owners keeps (it guessed 75 % for a county's 0.03 %), so it walked the whole due-date
# index for a county reporter's list (85 ms) and counted by a scan of every task (290 ms). With
# the ids it reads a county's tasks from the owner index and a province's in due order (≈ 5 ms).
# A wider scope (a national coordinator's) keeps the subquery: most tasks match, and walking the
# index in order is right.
LITERAL_SCOPE_UNITS = 2000
LITERAL_CO_OWNED = 5000


def _scope_ids(unit: OrgUnit) -> tuple[list[int], list[int]] | None:
    """(the ids of `unit`'s subtree, the ids of tasks co-owned within it), in one statement; None
    when either is too many to list."""
    from sqlalchemy import literal, union_all

    units = select(literal(0).label("kind"), OrgUnit.id.label("id")).where(OrgUnit.path.like(f"{unit.path}%"))
    co_owned = (
        select(literal(1).label("kind"), task_co_owners.c.task_id.label("id"))
        .join(OrgUnit, OrgUnit.id == task_co_owners.c.unit_id)
        .where(OrgUnit.path.like(f"{unit.path}%"))
    )
    rows = db.session.execute(union_all(units, co_owned).limit(LITERAL_SCOPE_UNITS + LITERAL_CO_OWNED + 2)).all()
    unit_ids = [i for kind, i in rows if kind == 0]
    task_ids = sorted({i for kind, i in rows if kind == 1})
    if len(unit_ids) > LITERAL_SCOPE_UNITS or len(task_ids) > LITERAL_CO_OWNED:
        return None
    return unit_ids, task_ids


def _int_array(values: list[int]):
    from sqlalchemy import Integer, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    return bindparam(None, list(values), type_=ARRAY(Integer))


def _heads_every_unit(unit: OrgUnit) -> bool:
    """Is `unit` the catalogue's only root (the national commission), so that its subtree is
    every unit? Read once per request, and only for a unit without a parent."""
    from flask import g, has_request_context

    if unit.parent_id is not None:
        return False
    if has_request_context() and "sole_root" in g:
        return g.sole_root == unit.id
    roots = db.session.scalars(select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).limit(2)).all()
    sole = roots[0] if len(roots) == 1 else None
    if has_request_context():
        g.sole_root = sole
    return sole == unit.id


def visible_clause_for(user: User, task_id_column, owner_column) -> ColumnElement[bool]:
    """The visibility rule on any task table or alias: owned or co-owned within the subtree."""
    if user.sees_everything:
        return true()
    if _heads_every_unit(user.unit):
        # the national commission's users: every owned task, and those co-owned while owned by
        # none. The same rule as below without a list of 3,000 units or a subquery over their
        # paths, so the lists of the widest scoped role read the indexes as an admin's do.
        return owner_column.is_not(None) | exists().where(task_co_owners.c.task_id == task_id_column)
    if db.session.get_bind().dialect.name == "postgresql":
        listed = _scope_ids(user.unit)
        if listed is not None:
            unit_ids, co_owned_ids = listed
            # one array parameter (`= ANY(%s::INTEGER[])`), which PostgreSQL reads as it reads an IN
            # list of constants, instead of an IN list rendered and sent as one parameter per unit
            # on every statement (a province: ≈ 300, three statements a page)
            clause = owner_column == any_(_int_array(unit_ids))
            return clause | (task_id_column == any_(_int_array(co_owned_ids))) if co_owned_ids else clause
    units = select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"))
    co_owned = exists().where(task_co_owners.c.task_id == task_id_column, task_co_owners.c.unit_id.in_(units))
    return owner_column.in_(units) | co_owned


def visible_tasks_clause(user: User) -> ColumnElement[bool]:
    """The WHERE clause restricting tasks to what `user` may see."""
    return visible_clause_for(user, Task.id, Task.owner_unit_id)


def visible_task_branches(user: User, unit_ids: Optional[list[int]] = None) -> list[ColumnElement[bool]]:
    """The same rule as `visible_tasks_clause`, as disjoint conditions without an OR between
    them: tasks owned within the subtree, and tasks co-owned within it but owned elsewhere (or by
    no unit). A query made of one SELECT per branch (UNION ALL) lets the planner serve each
    branch from its own index (the owner's units, the co-owners table) instead of checking the
    OR row by row; the search (tracker/search/service.py) is written so. `unit_ids`: the
    subtree's unit ids when the caller has read them (a list, which the planner estimates)."""
    if user.sees_everything:
        return [true()]
    units = unit_ids if unit_ids is not None else select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"))
    co_owned = select(task_co_owners.c.task_id).where(task_co_owners.c.unit_id.in_(units))
    owned_within = Task.owner_unit_id.in_(units)
    return [owned_within, and_(Task.id.in_(co_owned), or_(Task.owner_unit_id.is_(None), ~owned_within))]


def visible_tasks(user: User):
    """A SELECT of the tasks `user` may see."""
    return select(Task).where(visible_tasks_clause(user))


def _owner_within(user: User, task: Task) -> bool:
    return task.owner_unit is not None and task.owner_unit.is_within(user.unit)


def can_view_unit(user: User, unit: OrgUnit) -> bool:
    """May `user` look at figures of `unit` (and the units under it)?"""
    return user.sees_everything or unit.is_within(user.unit)


def journal_scope(user: User) -> Optional[OrgUnit]:
    """The unit whose subtree bounds what `user` reads of the journals (the audit view): the
    entries about tasks its units own, about accounts of its units and about its units
    themselves. None: everything (leaders and admins)."""
    return None if user.sees_everything else user.unit


def narrower_subtree(a: Optional[OrgUnit], b: Optional[OrgUnit]) -> tuple[bool, Optional[OrgUnit]]:
    """The intersection of two subtrees (None: the whole tree) as (empty, unit): two subtrees
    are nested or apart, so the intersection is the inner one or nothing."""
    if a is None or b is None:
        return False, a or b
    if a.is_within(b):
        return False, a
    if b.is_within(a):
        return False, b
    return True, None


def can_view_task(user: User, task: Task) -> bool:
    if user.sees_everything or _owner_within(user, task):
        return True
    return any(unit.is_within(user.unit) for unit in task.co_owners)


def can_change_task(user: User, task: Task) -> bool:
    """May `user` change this task at all (status, evidence, percent)?"""
    if user.role == "admin":
        return True
    if user.role not in ("coordinator", "reporter"):
        return False
    return _owner_within(user, task)


def _relations(user: User, task: Task) -> tuple[bool, bool, bool]:
    """(owner, reviewer, coordinator): what `user` may be to `task` by unit and role."""
    if user.role == "admin":
        return True, True, True
    changes = can_change_task(user, task)
    coordinator = changes and user.role == "coordinator"
    reviewer = coordinator and task.owner_unit_id != user.unit_id
    return changes, reviewer, coordinator


def actor_for(user: User, task: Task) -> Actor:
    """What `user` is to `task`, for the status state machine."""
    owner, reviewer, coordinator = _relations(user, task)
    return Actor(
        is_owner=owner,
        is_reviewer=reviewer,
        is_coordinator=coordinator,
        review_conflict=_review_conflict(user, task) if reviewer else None,
        is_acceptor=reviewer and task.status == "accepted" and _undo_until(user, task) is not None,
    )


def _undo_until(user: User, task: Task):
    from tracker.plans.undo_window import acceptance_undo_until

    return acceptance_undo_until(user, task)


def actors_for(user: User, tasks) -> dict[int, Actor]:
    """`actor_for` of many tasks (task id → Actor), the review conflicts read in two statements
    for all of them (tracker/plans/independence.py review_conflicts)."""
    from tracker.plans.independence import review_conflicts

    relations = {task.id: _relations(user, task) for task in tasks}
    conflicts = review_conflicts(user, [task for task in tasks if relations[task.id][1]])
    return {
        task.id: Actor(
            is_owner=owner, is_reviewer=reviewer, is_coordinator=coordinator, review_conflict=conflicts.get(task.id)
        )
        for task in tasks
        for owner, reviewer, coordinator in [relations[task.id]]
    }


def _review_conflict(user: User, task: Task):
    from tracker.plans.independence import review_conflict

    return review_conflict(user, task)
