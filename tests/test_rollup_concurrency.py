"""A parent's progress under concurrent writers (issue 20, finding 8): 20 writers each update a
different child of one parent (and of one grandparent) at the same moment on PostgreSQL; after
they commit, every parent's stored progress is the weighted mean of its children's, exactly.

Before the fix each writer recomputed the parent from a snapshot that could not see the others'
uncommitted children, and the last to commit did not necessarily see everything (5.160 vs 5.123
in the outside test). `tracker/plans/rollup.py` now locks the ancestors, bottom up, before it
recomputes them, so each recomputation reads every child committed before it."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from conftest import requires_postgresql
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 20
ROUNDS = 5  # each writer's changes, one commit each


def mismatches() -> list[tuple[int, float, float]]:
    """(parent id, stored progress, weighted mean of its non-cancelled children) where they differ."""
    rows = db.session.execute(
        text(
            "SELECT p.id, p.progress, COALESCE(SUM(c.weight * c.progress) / NULLIF(SUM(c.weight), 0), 0) "
            "FROM tasks p JOIN tasks c ON c.parent_id = p.id AND c.status <> 'cancelled' GROUP BY p.id, p.progress"
        )
    ).all()
    return [(i, stored, mean) for i, stored, mean in rows if abs(stored - mean) > 1e-6]


def test_twenty_writers_on_siblings_leave_every_parent_equal_to_its_children(scratch_database_url, monkeypatch):
    requires_postgresql(scratch_database_url, "concurrent writers: the PostgreSQL case (SQLite serialises writers)")
    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.importer.seed import load_seed_files
    from tracker.models import OrgUnit, Plan, Task, User
    from tracker.plans.operations import update_percent

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=scratch_database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": WRITERS + 2, "max_overflow": 0},
    )
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine), scopefunc=threading.get_ident))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml", ROOT / "seed_plans" / "001_ncc_qc_2024.yaml"])
        create_user("coord", "password-123", "coordinator", "NHC")
        db.session.commit()
        plan = db.session.scalar(select(Plan).order_by(Plan.id))
        # each writer's child owned by another province, so that nothing else the writers touch
        # (the progress summary's marks per owner unit) happens to serialise them
        provinces = db.session.scalars(
            select(OrgUnit).where(OrgUnit.level == "provincial").order_by(OrgUnit.code).limit(WRITERS)
        ).all()
        assert len(provinces) == WRITERS
        unit = provinces[0]

        def add(parent, title, weight=1.0, owner=None):
            task = Task(
                plan_id=plan.id,
                ref=f"c-{title}",
                title=title,
                owner_unit_id=(owner or unit).id,
                parent_id=parent.id if parent else None,
                depth=(parent.depth + 1) if parent else 0,
                weight=weight,
                status="in_progress",  # one recomputation per change (starting work adds another)
            )
            db.session.add(task)
            db.session.flush()
            task.path = f"{parent.path if parent else '/'}{task.id}/"
            return task

        grandparent = add(None, "总任务")
        parents = [add(grandparent, f"分项{i}") for i in range(2)]
        leaves = [add(parents[i % 2], f"子项{i}", weight=1.0 + (i % 3), owner=provinces[i]) for i in range(WRITERS)]
        db.session.commit()
        leaf_ids, top_id = [t.id for t in leaves], grandparent.id
        db.session.remove()

        barrier = threading.Barrier(WRITERS)
        errors: list[str] = []

        def write(index: int) -> None:
            with app.app_context():
                try:
                    user = db.session.scalar(select(User).where(User.username == "coord"))
                    barrier.wait(timeout=30)
                    for round_ in range(ROUNDS):
                        task = db.session.get(Task, leaf_ids[index])
                        update_percent(task, user, 10 + 3 * index + round_)
                        db.session.commit()
                except Exception as exc:  # noqa: BLE001  (counted: the test fails on any)
                    db.session.rollback()
                    errors.append(f"{index}: {type(exc).__name__}: {exc}")
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert mismatches() == []
        stored = db.session.get(Task, top_id).progress
        assert stored > 0
        db.session.remove()
        db.engine.dispose()


def test_a_writer_that_waited_for_a_sibling_sees_it_when_it_recomputes_the_parent(scratch_database_url, monkeypatch):
    """The interleaving that drifts, made certain: A changes a task and recomputes its ancestors
    up to the top (not yet committed); B changes a cousin (another parent, the same top) and
    recomputes, waiting on A's lock of the top; A commits; B commits. B's recomputation of the
    top must count A's change (it did not: 10 instead of 15)."""
    requires_postgresql(scratch_database_url, "PostgreSQL's row locks (SQLite has one writer at a time)")
    import time

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.importer.seed import load_seed_files
    from tracker.models import OrgUnit, Plan, Task, User
    from tracker.plans.operations import update_percent

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine), scopefunc=threading.get_ident))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml", ROOT / "seed_plans" / "001_ncc_qc_2024.yaml"])
        create_user("coord", "password-123", "coordinator", "NHC")
        db.session.commit()
        plan_id = db.session.scalar(select(Plan.id).order_by(Plan.id))
        owners = db.session.scalars(
            select(OrgUnit.id).where(OrgUnit.level == "provincial").order_by(OrgUnit.code)
        ).all()

        def add(parent, ref, owner):
            # in progress already: one recomputation per change (starting work would add another)
            task = Task(plan_id=plan_id, ref=ref, title=ref, owner_unit_id=owner, status="in_progress")
            if parent is not None:
                task.parent_id, task.depth = parent.id, parent.depth + 1
            db.session.add(task)
            db.session.flush()
            task.path = f"{parent.path if parent else '/'}{task.id}/"
            return task

        top = add(None, "总", owners[0])
        middles = [add(top, f"分{i}", owners[1]) for i in range(2)]
        sibling = add(middles[0], "子0", owners[2])
        cousin = add(middles[1], "子1", owners[3])
        db.session.commit()
        children, parent_id = [sibling.id, cousin.id], top.id
        db.session.remove()

        a_recomputed, b_started = threading.Event(), threading.Event()
        errors: list[str] = []

        def writer(name: str, child_id: int, percent: int) -> None:
            with app.app_context():
                try:
                    user = db.session.scalar(select(User).where(User.username == "coord"))
                    task = db.session.get(Task, child_id)
                    if name == "B":
                        a_recomputed.wait(30)
                        b_started.set()
                    update_percent(task, user, percent)
                    if name == "A":
                        a_recomputed.set()
                        b_started.wait(30)
                        time.sleep(0.5)  # B is now waiting on the parent's lock
                    db.session.commit()
                except Exception as exc:  # noqa: BLE001
                    db.session.rollback()
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")
                finally:
                    db.session.remove()

        threads = [
            threading.Thread(target=writer, args=("A", children[0], 10)),
            threading.Thread(target=writer, args=("B", children[1], 20)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert db.session.get(Task, parent_id).progress == 15.0
        assert mismatches() == []
        db.session.remove()
        db.engine.dispose()
