"""Soak: 20 concurrent writers for 60 s against gunicorn on PostgreSQL (issue 20).

    .venv/bin/python bench/soak.py [--writers 20] [--seconds 60] [--workers 2] [--scale provincial]
                                   [--database NAME] [--keep]

Builds a scratch database (the unit catalogue + `flask demo generate --scale …`; reuses
`--database` when it has tasks) and one coordinator of the national commission, who may report
on every task. Each writer signs in with its own session and, without think time, changes the
percent of leaf tasks of its own (posting the version it read, as the task page does), picked so
that the writers' tasks share parents: every change recomputes ancestors other writers are
recomputing at the same moment. It prints the requests, errors (answers other than 200/303),
stale-version conflicts, the deadlocks PostgreSQL counted meanwhile, requests/s, p50 and p95,
and at the end checks the stored progress of every parent against its children (target: 0
mismatches).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.progress import percentile, sign_in_cookie, start_gunicorn  # noqa: E402

USERNAME, PASSWORD = "soak-coordinator", "soak-pass-123"
MISMATCHES = text(
    "SELECT count(*) FROM (SELECT p.id, p.progress, COALESCE(SUM(c.weight * c.progress) / NULLIF(SUM(c.weight), 0), 0) "
    "AS mean FROM tasks p JOIN tasks c ON c.parent_id = p.id AND c.status <> 'cancelled' GROUP BY p.id, p.progress) s "
    "WHERE abs(s.progress - s.mean) > 1e-6"
)


def build(url: str, scale: str) -> None:
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.config import Config
    from tracker.demo.generate import generate
    from tracker.extensions import db
    from tracker.importer.seed import load_seed_files
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        load_seed_files([ROOT / "seed_plans" / "units.yaml"])
        generate(scale, date.today())
        db.session.commit()
        # as `flask demo generate` and the scheduler's first pass leave it: summary and badge figures folded
        refresh(local_today(), full=True)
        db.session.commit()
        # what autovacuum does soon after a bulk load (the visibility map lets the lists' counts
        # read their indexes alone), done at once so the figures do not depend on its timing
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        db.session.remove()
        db.engine.dispose()


def ensure_user(url: str) -> None:
    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import User

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        if db.session.query(User).filter_by(username=USERNAME).first() is None:
            create_user(USERNAME, PASSWORD, "coordinator", "NHC")
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def pick_tasks(engine, writers: int, per_writer: int) -> list[list[int]]:
    """Open leaves grouped under a few parents, dealt round-robin: each parent's children are
    spread over all writers, so siblings change at the same moment."""
    with engine.connect() as conn:
        parents = (
            conn.execute(
                text(
                    "SELECT t.parent_id FROM tasks t WHERE t.parent_id IS NOT NULL AND t.status IN ('in_progress', 'not_started') "
                    "AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id) "
                    "GROUP BY t.parent_id HAVING count(*) >= :n ORDER BY t.parent_id LIMIT 4"
                ),
                {"n": writers},
            )
            .scalars()
            .all()
        )
        leaves = (
            conn.execute(
                text(
                    "SELECT t.id FROM tasks t WHERE t.parent_id = ANY(:p) AND t.status IN ('in_progress', 'not_started') "
                    "AND NOT EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.parent_id, t.id"
                ),
                {"p": list(parents)},
            )
            .scalars()
            .all()
        )
    dealt: list[list[int]] = [[] for _ in range(writers)]
    for index, task_id in enumerate(leaves[: writers * per_writer]):
        dealt[index % writers].append(task_id)
    return dealt


class Writer(threading.Thread):
    def __init__(self, base: str, url: str, tasks: list[int], until: float, results: dict, lock: threading.Lock):
        super().__init__(daemon=True)
        self.base, self.url, self.tasks, self.until, self.results, self.lock = base, url, tasks, until, results, lock

    def run(self) -> None:
        cookie = sign_in_cookie(self.base, USERNAME, PASSWORD)
        page = urllib.request.Request(self.base + "/", headers={"Cookie": cookie})
        html = urllib.request.urlopen(page).read().decode()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
            r'name="csrf_token"[^>]*value="([^"]+)"', html
        )
        engine = create_engine(self.url, pool_size=1, max_overflow=0)
        step = 0
        with engine.connect() as conn:
            while time.monotonic() < self.until:
                task_id = self.tasks[step % len(self.tasks)]
                step += 1
                version = conn.execute(text("SELECT version FROM tasks WHERE id = :i"), {"i": task_id}).scalar()
                conn.commit()
                body = urllib.parse.urlencode(
                    {"csrf_token": csrf.group(1), "version": version, "percent": 5 + (step * 7) % 90}
                ).encode()
                request = urllib.request.Request(
                    f"{self.base}/tasks/{task_id}/percent",
                    data=body,
                    headers={"Cookie": cookie, "X-CSRFToken": csrf.group(1), "HX-Request": "true"},
                )
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        response.read()
                        status = response.status
                except urllib.error.HTTPError as error:
                    status = error.code
                elapsed = time.perf_counter() - started
                with self.lock:
                    self.results["latencies"].append(elapsed)
                    if status == 409:
                        self.results["conflicts"] += 1
                    elif status not in (200, 303):
                        self.results["errors"][status] = self.results["errors"].get(status, 0) + 1
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description="20 concurrent writers against gunicorn on PostgreSQL")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scale", default="provincial")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=None, help="reuse this database (built when missing)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    name = args.database or f"tracker_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        if not exists:
            print(f"building the {args.scale} data set in {name} …", flush=True)
            build(url, args.scale)
        ensure_user(url)
        engine = create_engine(url)
        with engine.connect() as conn:
            tasks = conn.execute(text("SELECT count(*) FROM tasks")).scalar()
            before = conn.execute(MISMATCHES).scalar()
            deadlocks_before = conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar()
        dealt = pick_tasks(engine, args.writers, 10)
        print(f"data: {tasks} tasks; parents not matching their children before: {before}; cores: {os.cpu_count()}")
        server, base = start_gunicorn(url, args.workers, "soak")
        results = {"latencies": [], "conflicts": 0, "errors": {}}
        lock = threading.Lock()
        until = time.monotonic() + args.seconds
        writers = [Writer(base, url, mine, until, results, lock) for mine in dealt if mine]
        started = time.perf_counter()
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            after = conn.execute(MISMATCHES).scalar()
            deadlocks = (
                conn.execute(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")).scalar()
                - deadlocks_before
            )
        engine.dispose()
        values = sorted(results["latencies"])
        print(
            f"{len(writers)} writers for {seconds:.0f} s, gunicorn -w {args.workers}: {len(values)} changes "
            f"({len(values) / seconds:.0f}/s), p50 {1000 * percentile(values, 0.5):.0f} ms, "
            f"p95 {1000 * percentile(values, 0.95):.0f} ms"
        )
        print(
            f"errors: {sum(results['errors'].values())} {results['errors'] or ''}; stale conflicts: {results['conflicts']}; deadlocks: {deadlocks}"
        )
        print(f"parents whose stored progress differs from their children's: {after} (target 0)")
        return 0 if after == 0 and not results["errors"] else 1
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
