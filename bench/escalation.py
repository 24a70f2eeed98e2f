"""Benchmark: one escalation pass over 100,000 and 1,000,000 tasks on PostgreSQL (1 % due).

    .venv/bin/python bench/escalation.py [--sizes 100000,1000000] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Builds a scratch database per size (units from seed_plans/units.yaml, two users per unit, a
leader per province), fills it with tasks in SQL (1 % of them past due by 0-40 days, the rest
due next year), then times `escalate(now)` and counts its SQL statements; a second pass shows
that nothing fires twice. Target: at most 10 s for 1,000,000 tasks.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402


def build(url: str, size: int) -> None:
    from tracker.extensions import db
    from tracker.importer.seed import load_seed_files
    from tracker.models import OrgUnit, Plan, User

    db.create_all()
    load_seed_files([ROOT / "seed_plans" / "units.yaml"])
    units = list(db.session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.level)))
    for unit_id, code, level in units:
        for role in ("reporter", "coordinator"):
            db.session.add(
                User(
                    username=f"{role}-{code}",
                    display_name=code,
                    role=role,
                    unit_id=unit_id,
                    password_hash="x",
                    email=f"{role}-{code}@example.org",
                )
            )
        if level in ("national", "provincial"):
            db.session.add(
                User(username=f"leader-{code}", display_name=code, role="leader", unit_id=unit_id, password_hash="x")
            )
    plan = Plan(key="bench", title="bench")
    db.session.add(plan)
    db.session.commit()
    unit_ids = [u[0] for u in units]
    db.session.execute(
        text(f"""
        INSERT INTO tasks (plan_id, parent_id, ref, title, description, owner_unit_id, co_owner_selectors,
                           due_on, deliverable, weight, status, percent, progress, notes, origin, position,
                           depth, path, version, created_at, updated_at)
        SELECT :plan, NULL, 'B' || i, '基准任务 ' || i, '', (ARRAY[{",".join(map(str, unit_ids))}])[1 + i % {len(unit_ids)}],
               '[]', CASE WHEN i % 100 = 0 THEN CURRENT_DATE - (i / 100 % 41)::int ELSE CURRENT_DATE + 365 END,
               '', 1, 'not_started', 0, 0, '', 'bench', i, 0, '/', 1, now(), now()
        FROM generate_series(1, :n) AS i
    """),
        {"plan": plan.id, "n": size},
    )
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def measure(size: int, admin_url: str) -> dict:
    from tracker import create_app
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import Notification
    from tracker.tasks.escalation import escalate

    name = f"tracker_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, SMTP_HOST="", WEBHOOK_URL="")
        with app.app_context():
            started = time.perf_counter()
            build(url, size)
            built = time.perf_counter() - started
            statements = []
            event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            now = datetime.now(timezone.utc)
            started = time.perf_counter()
            report = escalate(now)
            first = time.perf_counter() - started
            first_statements = len(statements)
            statements.clear()
            started = time.perf_counter()
            again = escalate(now)
            second = time.perf_counter() - started
            notifications = db.session.scalar(select(func.count()).select_from(Notification))
            db.session.remove()
            db.engine.dispose()
        return {
            "tasks": size,
            "build_s": built,
            "pass_s": first,
            "statements": first_statements,
            "fired": report.total_fired,
            "skipped": report.skipped,
            "notifications": notifications,
            "second_pass_s": second,
            "second_statements": len(statements),
            "second_fired": again.total_fired,
        }
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(
        f"{'tasks':>9} {'build s':>8} {'pass s':>7} {'SQL':>4} {'fired':>6} {'skipped':>7} {'notified':>8} {'2nd pass s':>10} {'2nd SQL':>7} {'2nd fired':>9}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        r = measure(size, args.url)
        print(
            f"{r['tasks']:>9} {r['build_s']:>8.1f} {r['pass_s']:>7.2f} {r['statements']:>4} {r['fired']:>6} {r['skipped']:>7} "
            f"{r['notifications']:>8} {r['second_pass_s']:>10.2f} {r['second_statements']:>7} {r['second_fired']:>9}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
