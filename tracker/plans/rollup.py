"""Task progress roll-up, maintained in SQL in the same transaction as the change.

A leaf's progress comes from its status (accepted = 100, cancelled = left out) and reported
percent; a parent's is the weighted mean of its children that are not cancelled.

Concurrent writers (PostgreSQL): two users changing siblings at once each recompute the parent.
An UPDATE that waited for the other's row lock re-reads the parent row but computes the mean
from the snapshot its statement started with, which lacks the other's child: the parent then
drifts from its children. So a writer locks its task's chain (the task and its ancestors,
`SELECT … FOR UPDATE`) before it writes anything of that task, and recomputes the ancestors
after, each by a statement whose snapshot holds every child committed before it had the locks.

Order: bottom up (the task, its parent, …, the root), and before the task's first write (the
`before_flush` hook below), so that no lock the writes take (the task's row, the progress
summary's marks per owner unit) is held while waiting for a chain lock. A writer waiting for a
chain row then holds only deeper rows of its own chain, so no two writers wait on each other
within a tree. SQLite has one writer at a time and needs none of this.
"""

from __future__ import annotations

from sqlalchemy import and_, case, event, func, select, update
from sqlalchemy.orm import Session, aliased

from tracker.extensions import db
from tracker.models import Task
from tracker.plans.status import ACCEPTED, CANCELLED


def leaf_progress(status: str, percent: int) -> float:
    if status == ACCEPTED:
        return 100.0
    return float(max(0, min(100, percent or 0)))


def _children_mean(parent_id_column):
    child = aliased(Task)
    weighted = func.sum(child.weight * child.progress)
    total = func.sum(child.weight)
    return (
        select(func.coalesce(weighted / func.nullif(total, 0), 0.0))
        .where(child.parent_id == parent_id_column, child.status != CANCELLED)
        .scalar_subquery()
    )


LOCKED = "rollup_locked_chains"  # session.info: task ids whose chain this transaction holds


def _chain(task: Task) -> list[int]:
    """The task's id and its ancestors' ids, bottom up (from its materialised path)."""
    ids = [int(p) for p in (task.path or "").strip("/").split("/") if p]
    if task.id is not None and (not ids or ids[-1] != task.id):
        ids.append(task.id)
    return list(reversed(ids))


def lock_chains(session: Session, tasks) -> None:
    """Lock the chains of `tasks` not yet locked in this transaction (PostgreSQL; one statement)."""
    held = session.info.setdefault(LOCKED, set())
    wanted = [t for t in tasks if t.id is not None and t.id not in held]
    if not wanted:
        return
    ids: list[int] = []
    for task in wanted:
        ids.extend(i for i in _chain(task) if i not in ids)
    session.connection().execute(
        select(Task.id).where(Task.id.in_(ids)).order_by(Task.depth.desc(), Task.id).with_for_update()
    ).all()
    held.update(ids)


def lock_chains_if_needed(tasks) -> None:
    """`lock_chains` on PostgreSQL (a writer outside the ORM's flush calls it before its writes)."""
    if tasks and db.session.get_bind().dialect.name == "postgresql":
        lock_chains(db.session(), tasks)


def _before_flush(session: Session, flush_context, instances) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    changed = [o for o in session.dirty if isinstance(o, Task) and session.is_modified(o, include_collections=False)]
    if changed:
        lock_chains(session, changed)


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its locks are gone
        session.info.pop(LOCKED, None)


def install_locks() -> None:
    """The chain locks at every flush (idempotent; called by create_app, before the cascade's
    own before_flush hook, so that its writes come after the locks)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_transaction_end", _forget)


def refresh_task_and_ancestors(task: Task) -> None:
    """After a change to `task`: its own progress if a leaf, then each ancestor's, bottom up.

    One UPDATE per level of depth (a plan is a handful of levels deep). Derived progress does
    not bump the ancestors' version: it is no edit anyone could conflict with.
    """
    if not db.session.scalar(select(func.count()).where(Task.parent_id == task.id)):
        task.progress = leaf_progress(task.status, task.percent)
    db.session.flush()
    ancestor_ids = [int(p) for p in task.path.strip("/").split("/") if p][:-1]
    if ancestor_ids and db.session.get_bind().dialect.name == "postgresql":
        lock_chains(db.session(), [task])  # held since its first write, unless it is new
    for ancestor_id in reversed(ancestor_ids):
        db.session.execute(
            update(Task)
            .where(Task.id == ancestor_id)
            .values(progress=_children_mean(Task.id))
            .execution_options(synchronize_session=False)
        )
    ids = set(ancestor_ids)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Task) and obj.id in ids:
            db.session.expire(obj, ["progress"])


def parents_among(task_ids) -> set[int]:
    """Which of these tasks have children (their progress comes from them): one statement."""
    ids = list(task_ids)
    if not ids:
        return set()
    return set(db.session.scalars(select(Task.parent_id).where(Task.parent_id.in_(ids)).distinct()))


def refresh_ancestors(tasks) -> None:
    """After many tasks changed together (a bulk action): the progress of all their ancestors,
    one UPDATE per level of depth for all those at that level, deepest first. A fixed number of
    statements whatever the number of tasks (a plan is a handful of levels deep). On PostgreSQL
    the chains are locked first, as for one task (see the module's text)."""
    lock_chains_if_needed(list(tasks))
    by_depth: dict[int, set[int]] = {}
    for task in tasks:
        for depth, part in enumerate([p for p in task.path.strip("/").split("/") if p][:-1]):
            by_depth.setdefault(depth, set()).add(int(part))
    for depth in sorted(by_depth, reverse=True):
        db.session.execute(
            update(Task)
            .where(Task.id.in_(sorted(by_depth[depth])))
            .values(progress=_children_mean(Task.id))
            .execution_options(synchronize_session=False)
        )
    refreshed = set().union(*by_depth.values()) if by_depth else set()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Task) and obj.id in refreshed:
            db.session.expire(obj, ["progress"])


def recompute_plan(plan_id: int) -> None:
    """Recompute every task of a plan: leaves from status, then parents bottom-up, in SQL."""
    child = aliased(Task)
    has_children = select(child.id).where(child.parent_id == Task.id).exists()
    db.session.execute(
        update(Task)
        .where(Task.plan_id == plan_id, ~has_children)
        .values(progress=case((Task.status == ACCEPTED, 100.0), else_=func.coalesce(Task.percent, 0) * 1.0))
        .execution_options(synchronize_session=False)
    )
    max_depth = db.session.scalar(select(func.max(Task.depth)).where(Task.plan_id == plan_id)) or 0
    for depth in range(max_depth - 1, -1, -1):
        db.session.execute(
            update(Task)
            .where(and_(Task.plan_id == plan_id, Task.depth == depth, has_children))
            .values(progress=_children_mean(Task.id))
            .execution_options(synchronize_session=False)
        )
    db.session.expire_all()
