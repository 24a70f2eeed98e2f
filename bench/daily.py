"""Benchmark: the pages people use all day, at national scale on PostgreSQL, per role.

    .venv/bin/python bench/daily.py [--scale national] [--worst] [--database NAME] [--keep]
                                    [--repeat 15] [--clients 20] [--requests 60] [--workers 2]

Builds a scratch database (unit catalogue + `flask demo generate --scale national`: ~3,000 units,
~1,000,000 tasks, dates drawn around today; `--worst` draws them around 215 days ago, so ~40 % of
the tasks are overdue now), adds four users and prints, signed in as each of

- admin: the national commission's administrator (sees everything);
- national coordinator: a coordinator of the national commission (NHC);
- provincial coordinator: a coordinator of a provincial commission (P44, 广东, at national scale);
- county reporter: a reporter of one county commission under that province,

the server time in process (median and p95 over `--repeat` requests, the test client against
the app, no network) and the SQL statements of: the badge (the navigation's open-work count),
my-work, the overdue list (page 1 and page 50), the task list with each common filter, a task
page; then the writes: a leaf percent update (reporter), an accept (provincial coordinator),
a bulk accept of 50 (provincial coordinator), a cascade of one template to every county
(~2,800 units, national coordinator; rolled back after timing, so the data set stays as built);
and last, 20 concurrent clients without think time against gunicorn (2 workers) on the overdue
list and on my-work, per role: requests/s, p50, p95.

Targets (issue 15): badge <= 5 ms for every role; my-work <= 30 ms; overdue page 1 <= 30 ms and
page 50 <= 50 ms; leaf update <= 30 ms; accept <= 40 ms; bulk accept of 50 <= 300 ms; cascade
to 3,000 units <= 3 s; 20 clients: p95 <= 150 ms and >= 100 requests/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.progress import percentile, rss_kb, sign_in_cookie, start_gunicorn  # noqa: E402

PASSWORD = "bench-pass-123"
ROLES = [
    # (label, username, role, unit code: None = the province / the county picked at build time)
    ("admin", "bench-admin", "admin", "NHC"),
    ("national coordinator", "bench-nhc", "coordinator", "NHC"),
    ("provincial coordinator", "bench-province", "coordinator", None),  # P44 (广东) when generated
    ("county reporter", "bench-county", "reporter", None),  # the first county under that province
]


def build(url: str, scale: str, worst: bool) -> float:
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import Config
    from tracker.demo.generate import generate
    from tracker.extensions import db
    from tracker.importer.seed import load_seed_files
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        started = time.perf_counter()
        upgrade(revision="heads")
        load_seed_files([ROOT / "seed_plans" / "units.yaml"])
        as_of = local_today() - timedelta(days=215 if worst else 0)
        generate(scale, as_of)
        db.session.commit()
        # as `flask demo generate` and the scheduler's first pass leave it: summary and badge figures folded
        refresh(local_today(), full=True)
        province = db.session.scalar(
            text(
                "SELECT p.code FROM org_units p WHERE p.level = 'provincial' AND EXISTS (SELECT 1 FROM org_units c "
                "WHERE c.code LIKE 'G-' || p.code || '-%') ORDER BY p.code = 'P44' DESC, p.code LIMIT 1"
            )
        )
        county = db.session.scalar(
            text("SELECT code FROM org_units WHERE code LIKE :p AND level = 'county' ORDER BY code LIMIT 1"),
            {"p": f"G-{province}-%"},
        )
        picked = {"provincial coordinator": province, "county reporter": county}
        for label, username, role, code in ROLES:
            create_user(username, PASSWORD, role, code or picked[label])
        db.session.commit()
        # what autovacuum does soon after a bulk load (the visibility map lets the lists' counts
        # read their indexes alone), done at once so the figures do not depend on its timing
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed


class Counter:
    def __init__(self, engine):
        self.engine, self.n = engine, 0

    def __enter__(self):
        self.n = 0
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *args):
        self.n += 1


def stats(times: list[float]) -> tuple[float, float]:
    values = sorted(times)
    return 1000 * statistics.median(values), 1000 * percentile(values, 0.95)


def in_process(url: str, repeat: int) -> list[tuple[str, str, float, float, int, str]]:
    """(role, what, median ms, p95 ms, statements, note) for every page and write."""
    from tracker import create_app
    from tracker.auth.sessions import start_session
    from tracker.cascade.service import GROUP, TargetSpec, cascade_task
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import Task, User
    from tracker.plans.queries import open_work_count
    from tracker.security import SESSION_ID_KEY
    from tracker.timeutil import local_today

    app = create_app(
        Config,
        SQLALCHEMY_DATABASE_URI=url,
        WTF_CSRF_ENABLED=False,
        PROGRESS_CACHE_DIR=f"/tmp/bench-daily-{uuid.uuid4().hex[:6]}",
    )
    rows: list[tuple[str, str, float, float, int, str]] = []
    with app.app_context():
        engine = db.engine
        users = {}
        for label, username, _role, _code in ROLES:
            user = db.session.query(User).filter_by(username=username).one()
            users[label] = (user.id, start_session(user, "bench"), user.unit.code)
        db.session.commit()
        county_code = users["county reporter"][2]
        task_page_id = db.session.scalar(
            text(
                "SELECT t.id FROM tasks t JOIN org_units u ON u.id = t.owner_unit_id "
                "WHERE u.code = :c AND t.status = 'in_progress' ORDER BY t.id LIMIT 1"
            ),
            {"c": county_code},
        )
    counter = Counter(engine)
    clients = {}
    for label, (user_id, sid, _code) in users.items():
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session[SESSION_ID_KEY] = sid
        clients[label] = client

    def timed_get(client, path: str) -> tuple[list[float], int]:
        client.get(path).close()  # warm
        times, statements = [], 0
        for _ in range(repeat):
            with counter:
                started = time.perf_counter()
                response = client.get(path)
                response.get_data()
                times.append(time.perf_counter() - started)
            statements = counter.n
            assert response.status_code == 200, (path, response.status_code)
            response.close()
        return times, statements

    today = local_today()
    pages = [
        ("my-work", "/"),
        ("overdue list, page 1", "/overdue"),
        ("overdue list, page 50", "/overdue?page=50"),
        ("task list (no filter)", "/tasks"),
        ("task list: status in progress", "/tasks?status=in_progress"),
        ("task list: overdue", "/tasks?overdue=y"),
        ("task list: unit subtree", "/tasks?owner={unit}"),
        ("task list: due next 30 days", f"/tasks?due_from={today}&due_to={today + timedelta(days=30)}"),
        ("task list: last changed first", "/tasks?sort=updated"),
        ("task list: title search", "/tasks?q=%E5%B7%A5%E4%BD%9C%E6%96%B9%E6%A1%88"),
        ("task page", f"/tasks/{task_page_id}"),
    ]
    for label, client in clients.items():
        with app.app_context():
            user = db.session.get(User, users[label][0])
            times = []
            for _ in range(repeat):
                with counter:
                    started = time.perf_counter()
                    open_work_count(user)
                    times.append(time.perf_counter() - started)
            rows.append((label, "badge (open_work_count)", *stats(times), counter.n, ""))
            db.session.remove()
        for name, path in pages:
            unit = users[label][2] if label != "county reporter" else county_code
            if label in ("admin", "national coordinator"):
                unit = users["provincial coordinator"][2]
            times, statements = timed_get(client, path.format(unit=unit))
            rows.append((label, name, *stats(times), statements, ""))

    # -- writes --------------------------------------------------------------------------------
    with app.app_context():
        leaves = db.session.execute(
            text(
                "SELECT t.id, t.version FROM tasks t JOIN org_units u ON u.id = t.owner_unit_id "
                "WHERE u.code = :c AND t.status = 'in_progress' AND NOT EXISTS "
                "(SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.id LIMIT :n"
            ),
            {"c": county_code, "n": repeat + 1},
        ).all()
        submitted = db.session.execute(
            text(
                "SELECT t.id, t.version FROM tasks t JOIN org_units u ON u.id = t.owner_unit_id "
                "WHERE u.path LIKE (SELECT path FROM org_units WHERE code = :p) || '%' AND u.level = 'county' "
                "AND t.status = 'submitted' ORDER BY t.id LIMIT :n"
            ),
            {"n": repeat + 101, "p": users["provincial coordinator"][2]},
        ).all()
        db.session.remove()
    reporter, province = clients["county reporter"], clients["provincial coordinator"]
    times, statements = [], 0
    for index, (task_id, version) in enumerate(leaves):
        with counter:
            started = time.perf_counter()
            response = reporter.post(f"/tasks/{task_id}/percent", data={"version": version, "percent": 40 + index})
            elapsed = time.perf_counter() - started
        assert response.status_code in (200, 303), ("percent", response.status_code)
        if index:  # the first is the warm-up
            times.append(elapsed)
            statements = counter.n
    rows.append(("county reporter", "leaf percent update (with roll-up)", *stats(times), statements, ""))
    times = []
    for index, (task_id, version) in enumerate(submitted[: repeat + 1]):
        with counter:
            started = time.perf_counter()
            response = province.post(
                f"/tasks/{task_id}/status", data={"target": "accepted", "version": version, "comment": ""}
            )
            elapsed = time.perf_counter() - started
        assert response.status_code in (200, 303), (
            "accept",
            response.status_code,
            response.get_data(as_text=True)[:300],
        )
        if index:
            times.append(elapsed)
            statements = counter.n
    rows.append(("provincial coordinator", "accept one submission", *stats(times), statements, ""))
    # a first batch warms the buffers (the other figures are medians after a warm-up too), the
    # second is timed
    warm = [task_id for task_id, _version in submitted[repeat + 1 : repeat + 51]]
    fifty = [task_id for task_id, _version in submitted[repeat + 51 : repeat + 101]]
    try:
        from tracker.plans import bulk
    except ImportError:
        bulk = None
    if bulk is not None and len(fifty) == 50:
        with app.app_context():
            user = db.session.get(User, users["provincial coordinator"][0])
            bulk.accept_tasks(user, warm)
            db.session.commit()
            with counter:
                started = time.perf_counter()
                outcome = bulk.accept_tasks(user, fifty)
                db.session.commit()
                elapsed = time.perf_counter() - started
            done = sum(1 for o in getattr(outcome, "outcomes", outcome) if getattr(o, "done", False))
            rows.append(
                (
                    "provincial coordinator",
                    "bulk accept of 50",
                    1000 * elapsed,
                    1000 * elapsed,
                    counter.n,
                    f"{done} accepted",
                )
            )
            db.session.remove()
    else:
        rows.append(("provincial coordinator", "bulk accept of 50", float("nan"), float("nan"), 0, "not measured"))
    with app.app_context():
        user = db.session.get(User, users["national coordinator"][0])
        root = db.session.scalar(text("SELECT id FROM plans WHERE key = 'demo-national'"))
        template = Task(plan_id=root, ref="bench-cascade", title="基准：下达到每个县", owner_unit_id=user.unit_id)
        db.session.add(template)
        db.session.flush()
        template.path = f"/{template.id}/"
        db.session.flush()
        with counter:
            started = time.perf_counter()
            cascade = cascade_task(template, user, TargetSpec(mode=GROUP, level="county"))
            db.session.flush()
            elapsed = time.perf_counter() - started
        made = db.session.scalar(text("SELECT count(*) FROM tasks WHERE parent_id = :p"), {"p": template.id})
        db.session.rollback()  # the data set stays as built
        rows.append(
            (
                "national coordinator",
                f"cascade one template to {made} counties",
                1000 * elapsed,
                1000 * elapsed,
                counter.n,
                "rolled back" if cascade else "",
            )
        )
        db.session.remove()
        db.engine.dispose()
    return rows


def _client(url: str, cookie: str, latencies: list[float], lock: threading.Lock, count: int) -> None:
    for _ in range(count):
        request = urllib.request.Request(url, headers={"Cookie": cookie})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        with lock:
            latencies.append(time.perf_counter() - started)


def under_load(
    url: str, clients: int, requests_per_client: int, workers: int
) -> list[tuple[str, str, float, float, float]]:
    """(role, path, requests/s, p50 ms, p95 ms) with `clients` concurrent clients, no think time."""
    import signal

    server, base = start_gunicorn(url, workers, "daily")
    results = []
    try:
        for label, username, _role, _code in ROLES:
            cookie = sign_in_cookie(base, username, PASSWORD)
            for path in ("/overdue", "/"):
                latencies: list[float] = []
                lock = threading.Lock()
                job = (base + path, cookie, latencies, lock)
                warm = [threading.Thread(target=_client, args=(*job, 2)) for _ in range(workers * 2)]
                for t in warm:
                    t.start()
                for t in warm:
                    t.join()
                latencies.clear()
                threads = [threading.Thread(target=_client, args=(*job, requests_per_client)) for _ in range(clients)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                seconds = time.perf_counter() - started
                values = sorted(latencies)
                results.append(
                    (
                        label,
                        path,
                        len(values) / seconds,
                        1000 * percentile(values, 0.5),
                        1000 * percentile(values, 0.95),
                    )
                )
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        peak = max([rss_kb(int(pid)) for pid in children] + [0])
        results.append(("(peak worker RSS)", f"{peak / 1024:.0f} MB", float("nan"), float("nan"), float("nan")))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="the daily pages per role on the national data set")
    parser.add_argument("--scale", default="national")
    parser.add_argument("--worst", action="store_true", help="dates drawn around 215 days ago: ~40 %% overdue")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60, help="requests per client, page and role")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=None, help="reuse this database (built when missing)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--no-load", action="store_true", help="skip the concurrent clients")
    args = parser.parse_args()
    name = args.database or f"tracker_daily_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        if not exists:
            print(f"building the {args.scale} data set{' (worst case)' if args.worst else ''} in {name} …", flush=True)
            print(f"  built in {build(url, args.scale, args.worst):.0f} s", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            tasks = conn.execute(text("SELECT count(*) FROM tasks")).scalar()
            units = conn.execute(text("SELECT count(*) FROM org_units")).scalar()
            overdue = conn.execute(
                text(
                    "SELECT count(*) FROM tasks WHERE due_on < CURRENT_DATE AND status NOT IN "
                    "('accepted', 'cancelled', 'submitted')"
                )
            ).scalar()
        engine.dispose()
        print(
            f"data: {units} units, {tasks} tasks ({100 * overdue / max(tasks, 1):.1f} % overdue); cores: {os.cpu_count()}"
        )
        print(f"\nserver time in process, median and p95 of {args.repeat} requests (ms), SQL statements:")
        print(f"{'role':<24} {'what':<40} {'median':>8} {'p95':>8} {'stmts':>6}")
        for role, what, median, p95, statements, note in in_process(url, args.repeat):
            print(f"{role:<24} {what:<40} {median:>8.1f} {p95:>8.1f} {statements:>6} {note}", flush=True)
        if not args.no_load:
            print(f"\n{args.clients} concurrent clients, no think time, gunicorn -w {args.workers}:")
            print(f"{'role':<24} {'page':<12} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8}")
            for role, path, rps, p50, p95 in under_load(url, args.clients, args.requests, args.workers):
                print(f"{role:<24} {path:<12} {rps:>7.0f} {p50:>8.1f} {p95:>8.1f}", flush=True)
    finally:
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
