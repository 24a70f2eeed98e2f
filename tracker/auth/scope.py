"""Who may see and change what. Every query for tasks goes through `visible_tasks_clause`.

A user sees the tasks owned or co-owned by their unit and the units under it; leaders and
admins see everything. A user changes only tasks owned by their unit's subtree; leaders never
change anything. Reviewing (accept/return) needs a coordinator in a unit strictly above the
owner unit.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select, true

from tracker.models import OrgUnit, Task, User, task_co_owners
from tracker.plans.status import Actor


def subtree_unit_ids(unit: OrgUnit):
    """A subquery of the ids of `unit` and every unit under it (one indexed LIKE)."""
    return select(OrgUnit.id).where(OrgUnit.path.like(f"{unit.path}%")).scalar_subquery()


def visible_clause_for(user: User, task_id_column, owner_column) -> ColumnElement[bool]:
    """The visibility rule on any task table or alias: owned or co-owned within the subtree."""
    if user.sees_everything:
        return true()
    units = select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"))
    co_owned = exists().where(task_co_owners.c.task_id == task_id_column, task_co_owners.c.unit_id.in_(units))
    return owner_column.in_(units) | co_owned


def visible_tasks_clause(user: User) -> ColumnElement[bool]:
    """The WHERE clause restricting tasks to what `user` may see."""
    return visible_clause_for(user, Task.id, Task.owner_unit_id)


def visible_tasks(user: User):
    """A SELECT of the tasks `user` may see."""
    return select(Task).where(visible_tasks_clause(user))


def _owner_within(user: User, task: Task) -> bool:
    return task.owner_unit is not None and task.owner_unit.is_within(user.unit)


def can_view_unit(user: User, unit: OrgUnit) -> bool:
    """May `user` look at figures of `unit` (and the units under it)?"""
    return user.sees_everything or unit.is_within(user.unit)


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
    )


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
