"""The navigation badge and my work's counts: from the index and the maintained figures, equal to
a brute-force count over the tasks at every moment, in a bounded number of statements, and (on
PostgreSQL) never a scan of the task table."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert, select, update

from tests.conftest import count_queries, requires_postgresql, unit
from tracker.extensions import db
from tracker.models import OrgUnit, Plan, ReviewCount, ReviewMark, Task
from tracker.plans import queries
from tracker.plans.queries import my_work, open_work_count, open_work_query, work_counts_query
from tracker.plans.status import OVERDUE_STATUSES, STATUSES
from tracker.plans.work_counts import fold_review_marks, rebuild_review_counts
from tracker.timeutil import local_today

TODAY = local_today()
ASSIGNED = datetime(2026, 1, 5, 2, tzinfo=timezone.utc)
OWNERS = ["NHC", "NHC-MA", "P64", "P64-QC", "WZ", "WZ-LT", "WZ-LT-H", "WZ-YC", "WZ-YC-H", "P11", "P11-QC", None]
USERS = [
    ("admin", "NHC"),
    ("coordinator", "NHC"),
    ("coordinator", "P64"),
    ("coordinator", "WZ"),
    ("coordinator", "WZ-LT"),
    ("reporter", "WZ-LT"),
    ("reporter", "WZ-LT-H"),
    ("leader", "NHC"),
]


def brute_force(user, today=TODAY) -> dict:
    """What the badge and my work count, by looking at every task."""
    paths = dict(db.session.execute(select(OrgUnit.id, OrgUnit.path)).all())
    mine = paths[user.unit_id]
    counts = {"badge": 0, "unsigned": 0, "overdue": 0, "due_soon": 0, "returned": 0, "review": 0}
    review_ids = []
    for task_id, owner, status, due, assigned, signed in db.session.execute(
        select(Task.id, Task.owner_unit_id, Task.status, Task.due_on, Task.assigned_at, Task.signed_at)
    ):
        own = owner == user.unit_id
        counts["unsigned"] += (
            own and assigned is not None and signed is None and status not in ("accepted", "cancelled")
        )
        overdue = own and status in OVERDUE_STATUSES and due is not None and due < today
        returned = own and status == "returned"
        below = owner is not None and owner != user.unit_id and paths[owner].startswith(mine)
        review = status == "submitted" and (user.role == "admin" or (user.role == "coordinator" and below))
        counts["badge"] += bool(overdue or returned or review)
        counts["overdue"] += overdue
        counts["returned"] += returned
        counts["review"] += review
        counts["due_soon"] += (
            own and status in OVERDUE_STATUSES and due is not None and today <= due <= today + timedelta(days=7)
        )
        if review:
            review_ids.append((due is None, due, task_id))
    counts["review_first"] = [i for _n, _d, i in sorted(review_ids)[: queries.WORK_LIMIT]]
    return counts


def measured(user, today=TODAY) -> dict:
    work = my_work(user, today)
    return {"badge": open_work_count(user, today), **work.counts, "review_first": [t.id for t in work.lists["review"]]}


@pytest.fixture
def users(make_user, make_unit):
    make_unit("WZ-YC-H2", "WZ-YC")  # a unit without tasks
    return [make_user(role, code, username=f"w-{role}-{code}") for role, code in USERS]


def _random_task_rows(rng, plan, n) -> list[dict]:
    rows = []
    for _ in range(n):
        owner = rng.choice(OWNERS)
        rows.append(
            dict(
                plan_id=plan.id,
                ref=f"R-{rng.getrandbits(48):x}",
                title="随机任务",
                description="",
                owner_unit_id=unit(owner).id if owner else None,
                co_owner_selectors=[],
                status=rng.choice(STATUSES),
                percent=0,
                progress=0.0,
                weight=1.0,
                deliverable="",
                notes="",
                origin="manual",
                position=0,
                depth=0,
                path="",
                version=1,
                due_on=rng.choice([None, TODAY + timedelta(days=rng.randint(-30, 30))]),
                assigned_at=rng.choice([None, ASSIGNED]),  # 待签收 when not signed for
                signed_at=rng.choice([None, None, ASSIGNED]),
            )
        )
    return rows


@pytest.mark.parametrize("seed", [1, 2])
def test_the_figures_equal_a_brute_force_count_through_a_random_history(users, seed, monkeypatch):
    """ORM writes, bulk updates, owner moves, inserts and deletes, folds at random moments: the
    badge, my work's counts and its review list are what counting every task gives, for every
    role; the list the same whichever way it is read (wide: the status index; narrow: per unit)."""
    rng = random.Random(seed)
    plan = Plan(key=f"work-{seed}", title="工作计划", issuer_unit=unit("NHC"))
    db.session.add(plan)
    db.session.flush()
    db.session.execute(insert(Task), _random_task_rows(rng, plan, 150))
    db.session.commit()

    def check():
        for user in users:
            expected = brute_force(user)
            for share in (0.0, 1.0):  # every scope read as wide, then as narrow
                monkeypatch.setattr(queries, "NARROW_SHARE", share)
                assert measured(user) == expected, (user.role, user.unit.code, share)

    check()
    for _step in range(12):
        ids = list(db.session.scalars(select(Task.id).where(Task.plan_id == plan.id)))
        action = rng.choice(["orm", "bulk", "owner", "insert", "delete", "fold"])
        if action == "orm":
            for task in db.session.scalars(select(Task).where(Task.id.in_(rng.sample(ids, 5)))):
                task.status = rng.choice(STATUSES)
        elif action == "bulk":
            db.session.execute(update(Task).where(Task.id.in_(rng.sample(ids, 40))).values(status=rng.choice(STATUSES)))
        elif action == "owner":
            owner = rng.choice(OWNERS)
            db.session.execute(
                update(Task)
                .where(Task.id.in_(rng.sample(ids, 20)))
                .values(owner_unit_id=unit(owner).id if owner else None)
            )
        elif action == "insert":
            db.session.execute(insert(Task), _random_task_rows(rng, plan, 20))
        elif action == "delete":
            db.session.execute(delete(Task).where(Task.id.in_(rng.sample(ids, 10))))
        else:
            fold_review_marks()
        db.session.commit()
        check()
    fold_review_marks()
    assert db.session.scalar(select(ReviewMark.id).limit(1)) is None
    check()
    folded = dict(
        db.session.execute(select(ReviewCount.unit_id, ReviewCount.submitted).where(ReviewCount.submitted != 0)).all()
    )
    rebuild_review_counts()
    assert dict(db.session.execute(select(ReviewCount.unit_id, ReviewCount.submitted)).all()) == folded
    check()


def test_a_submitted_task_awaits_the_coordinators_above_it_at_once(users, make_task):
    by = {(u.role, u.unit.code): u for u in users}
    before = {key: open_work_count(u) for key, u in by.items()}
    task = make_task("WZ-LT-H", status="in_progress")
    task.status = "submitted"
    db.session.commit()
    after = {key: open_work_count(u) for key, u in by.items()}
    raised = {key for key in by if after[key] == before[key] + 1}
    assert raised == {
        ("admin", "NHC"),
        ("coordinator", "NHC"),
        ("coordinator", "P64"),
        ("coordinator", "WZ"),
        ("coordinator", "WZ-LT"),
    }
    assert all(after[key] == before[key] for key in by if key not in raised)


def test_the_badge_and_my_work_take_a_bounded_number_of_statements(users, make_task):
    for n in range(30):
        make_task(OWNERS[n % 9], status=STATUSES[n % len(STATUSES)], due_on=TODAY - timedelta(days=n % 5))
    for user in users:
        assert user.unit.path  # loaded before counting
        with count_queries() as n:
            open_work_count(user)
        assert n() == 1
        with count_queries() as n:
            my_work(user)
        assert n() <= 6
        for statement in n.sql:  # the task table is read through the owner's unit or a status
            assert "review_counts" in statement or "owner_unit_id" in statement or "status" in statement


def test_statements_built_once_per_role_hold_no_users_values(app, users, make_task):
    """The badge, the navigation's counts and my work are built once per role and shared: the
    first user of a role must not leave their unit, path or id in what the next one runs."""
    from flask import g
    from flask_login import login_user

    from tracker.web import nav_counts

    for n in range(40):
        make_task(OWNERS[n % 11], status=STATUSES[n % len(STATUSES)], due_on=TODAY - timedelta(days=n % 9 - 3))
    for order in (users, list(reversed(users))):
        queries._MEMO.clear()
        for user in order:
            expected = brute_force(user)
            got = measured(user)
            assert got == {k: expected[k] for k in got}, (user.role, user.unit.code)
            with app.test_request_context("/"):
                login_user(user)
                g.pop("nav_counts", None)
                assert nav_counts()["work"] == expected["badge"], (user.role, user.unit.code)
    assert queries._MEMO
    for statement in queries._MEMO.values():  # the user's values are only ever the w_* parameters
        names = set(statement.compile().params)
        assert not {n for n in names if n.startswith(("owner_unit_id", "user_id", "path", "unit_id", "due_on"))}


def test_a_task_action_answers_with_the_same_badge(client, auth, users, make_task):
    from tests.test_task_workflow import post_status

    reporter = next(u for u in users if u.role == "reporter" and u.unit.code == "WZ-LT")
    task = make_task("WZ-LT", status="returned", due_on=TODAY - timedelta(days=2))
    auth.login(reporter)
    response = post_status(client, task, "in_progress", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    count = open_work_count(reporter)
    assert f'id="work-count" class="badge rounded-pill text-bg-danger" hx-swap-oob="true">{count}<' in body


# -- PostgreSQL: the plans ------------------------------------------------------------------------------


def _national_shape(rng) -> None:
    """~260 units in two levels under the provinces, 25 tasks each (6,500 tasks), statuses like
    the national data set's; then ANALYZE, so the planner sees the real shape."""
    plan = Plan(key="shape", title="规模", issuer_unit=unit("NHC"))
    db.session.add(plan)
    db.session.flush()
    provinces = list(
        db.session.scalars(select(OrgUnit).where(OrgUnit.level == "provincial", OrgUnit.kind == "commission"))
    )
    next_id = (db.session.scalar(select(OrgUnit.id).order_by(OrgUnit.id.desc()).limit(1)) or 0) + 1
    rows, owners = [], []
    for province in provinces:
        for p in range(8):
            rows.append(
                dict(
                    id=next_id,
                    code=f"S-{province.code}-{p}",
                    name=f"{province.name}{p}",
                    kind="commission",
                    level="prefecture",
                    parent_id=province.id,
                    path=f"{province.path}{next_id}/",
                    position=p,
                )
            )
            owners.append(next_id)
            next_id += 1
    db.session.execute(insert(OrgUnit), rows)
    statuses = ["accepted"] * 6 + ["submitted", "in_progress", "in_progress", "not_started", "returned"]
    tasks = []
    for owner in owners:
        for _ in range(25):
            tasks.append(
                dict(
                    plan_id=plan.id,
                    ref=f"S-{rng.getrandbits(48):x}",
                    title="规模任务",
                    description="",
                    owner_unit_id=owner,
                    co_owner_selectors=[],
                    status=rng.choice(statuses),
                    percent=0,
                    progress=0.0,
                    weight=1.0,
                    deliverable="",
                    notes="",
                    origin="generated",
                    position=0,
                    depth=0,
                    path="",
                    version=1,
                    due_on=TODAY + timedelta(days=rng.randint(-200, 400)),
                )
            )
    db.session.execute(insert(Task), tasks)
    db.session.commit()
    for table in ("tasks", "org_units", "review_counts", "review_marks"):
        db.session.connection().exec_driver_sql(f"ANALYZE {table}")


def test_on_postgresql_the_badge_never_scans_the_task_table(database_url, users):
    requires_postgresql(database_url, "query plans are PostgreSQL's")
    _national_shape(random.Random(7))
    from sqlalchemy.dialects import postgresql

    for user in users:
        for query in (open_work_query(user, TODAY), work_counts_query(user, TODAY)):
            sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = "\n".join(r[0] for r in db.session.connection().exec_driver_sql(f"EXPLAIN {sql}"))
            assert "Seq Scan on tasks" not in plan, (user.role, user.unit.code, plan)
            assert "ix_tasks_owner_status_due" in plan, plan
