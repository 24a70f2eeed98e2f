"""Benchmark: the progress pages on the national data set on PostgreSQL.

    .venv/bin/python bench/progress.py [--scale national] [--clients 20] [--requests 150] [--workers 2]
                                       [--writes 1] [--fold-every 5] [--database NAME] [--keep] [--load-only]

Builds a scratch database (unit catalogue + `flask demo generate --scale national`: ~3,000 units,
~1,000,000 tasks), rebuilds the progress summary (timed) and folds one change into it (timed),
then for each progress page prints:
- its server time in process (median): served from the page cache (the version unchanged) and
  rendered (a new version: neither this worker's memory nor the workers' shared folder has it),
  with the statements of each;
- the page's own aggregates over the summary, re-run alone, and the bare aggregates over the
  tasks computing the same numbers, re-run alone; the ratios of server time to each (target
  <= 2); and the whole page computed from the tasks instead of the summary;
- p50/p95 latency under N concurrent clients without think time on loopback against gunicorn
  (target p95 <= 150 ms on 2 cores): read only, then with a writer changing a task every second
  and folding meanwhile; and the peak RSS of the gunicorn workers.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import date
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

AS_OF = date(2025, 12, 31)


def pages(province: str) -> list[tuple[str, str]]:
    return [
        ("matrix: nation x sections", "/progress/demo-national"),
        ("matrix: province x phases", f"/progress/demo-national?unit={province}&by=phases"),
        ("phases + burn-up", "/progress/demo-national/phases"),
        ("ranking (plan)", "/ranking?plan=demo-national"),
        ("leadership summary", "/leadership"),
        ("matrix export (xlsx)", "/progress/demo-national/matrix.xlsx"),
    ]


def build(url: str, scale: str) -> float:
    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import Config
    from tracker.demo.generate import generate
    from tracker.extensions import db
    from tracker.importer.seed import load_seed_files

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        started = time.perf_counter()
        from flask_migrate import upgrade

        upgrade(revision="heads")
        load_seed_files([ROOT / "seed_plans" / "units.yaml"])
        create_user("bench-leader", "bench-pass-123", "leader", "NHC")
        db.session.commit()
        generate(scale, AS_OF)
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed


def _aggregates(captured: list) -> list:
    return [(s, p) for s, p in captured if re.search(r"\b(sum|count)\(", s, re.I) and "GROUP BY" in s.upper()]


def _time_alone(engine, statements: list, repeat: int) -> float:
    """Median time of running `statements` alone, back to back, on a raw connection (seconds)."""
    raw = engine.raw_connection()
    try:
        times = []
        for _ in range(repeat):
            cursor = raw.cursor()
            started = time.perf_counter()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            times.append(time.perf_counter() - started)
            cursor.close()
    finally:
        raw.close()
    return statistics.median(times)


def in_process(url: str, province: str, repeat: int = 15) -> list[dict]:
    """Per page: server time from the page cache (a hit: the version is unchanged) and rendered
    (a miss), the statements of each, the page's own aggregates over the summary run alone, and
    the bare aggregates over the tasks computing the same numbers run alone.

    No app context is held around the requests, so each has its own `g` and loads its user, as
    under gunicorn."""
    from tracker import create_app
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import User
    from tracker.progress import summary
    from tracker.progress.pages import page_store, shared_pages

    folder = Path(f"/tmp/bench-pages-{uuid.uuid4().hex[:6]}")
    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False, PROGRESS_CACHE_DIR=str(folder))
    with app.app_context():
        from tracker.auth.sessions import start_session
        from tracker.security import SESSION_ID_KEY

        leader = db.session.query(User).filter_by(username="bench-leader").one()
        leader_id, session_id = leader.id, start_session(leader, "bench")
        db.session.commit()
        engine = db.engine
        store, shared = page_store(), shared_pages()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(leader_id)
        session[SESSION_ID_KEY] = session_id
    results = []

    def timed(path: str, miss: bool) -> tuple[float, list]:
        captured: list = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        if miss:  # neither this worker nor another has the page
            store.clear()
            shared.clear()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            started = time.perf_counter()
            response = client.get(path)
            elapsed = time.perf_counter() - started
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert response.status_code == 200, (path, response.status_code)
        return elapsed, captured

    for name, path in pages(province):
        client.get(path)  # warm
        hits = [timed(path, miss=False) for _ in range(repeat)]
        misses = [timed(path, miss=True) for _ in range(repeat)]
        own_sql = _time_alone(engine, _aggregates(misses[0][1]), repeat)
        ready = summary.ready
        summary.ready = lambda today: False  # the same numbers from the tasks
        try:
            _elapsed, from_tasks = timed(path, miss=True)
            tasks_s = statistics.median([timed(path, miss=True)[0] for _ in range(2)])
        finally:
            summary.ready = ready
        tasks_sql = _time_alone(engine, _aggregates(from_tasks), 3)
        hit_s = statistics.median(t for t, _c in hits)
        miss_s = statistics.median(t for t, _c in misses)
        results.append(
            {
                "page": name,
                "path": path,
                "hit_ms": hit_s * 1000,
                "hit_statements": len(hits[0][1]),
                "miss_ms": miss_s * 1000,
                "miss_statements": len(misses[0][1]),
                "sql_ms": own_sql * 1000,
                "tasks_sql_ms": tasks_sql * 1000,
                "tasks_ms": tasks_s * 1000,
            }
        )
    with app.app_context():
        db.engine.dispose()
    shared.clear()
    return results


def prepare_summary(url: str) -> tuple[float, float, int]:
    """Rebuild the summary as of today (timed), then change one task and fold it (timed)."""
    from tracker import create_app
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        started = time.perf_counter()
        refresh(local_today(), full=True)
        rebuild_s = time.perf_counter() - started
        db.session.execute(
            text(
                "UPDATE tasks SET status = 'accepted', progress = 100, percent = 100, completed_on = :day "
                "WHERE id = (SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND NOT EXISTS "
                "(SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.id LIMIT 1)"
            ),
            {"day": local_today()},
        )
        db.session.commit()
        started = time.perf_counter()
        folded = refresh(local_today())
        fold_s = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return rebuild_s, fold_s, folded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, workers: int, name: str) -> tuple[subprocess.Popen, str]:
    """gunicorn on a free loopback port against `url`, run from the project folder (it reads
    ./gunicorn.conf.py), once it answers /login: (the process, its base URL)."""
    port = free_port()
    instance = Path(f"/tmp/bench-{name}-{uuid.uuid4().hex[:6]}")
    instance.mkdir()
    env = dict(os.environ, DATABASE_URL=url, INSTANCE_DIR=str(instance), SECRET_KEY="bench", FLASK_APP="app")
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tracker:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/login", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    return server, base


def sign_in_cookie(base: str, username: str, password: str) -> str:
    """Sign in through the form as a browser does; the Cookie header of that session."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    opener.open(
        base + "/login",
        urllib.parse.urlencode({"csrf_token": token, "username": username, "password": password}).encode(),
    )
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (seconds)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def pids_of(pattern: str) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted `values`."""
    return values[max(0, math.ceil(fraction * len(values)) - 1)]


class Writer(threading.Thread):
    """Changes one work item `per_second` times a second (as users reporting progress do) and
    folds the summary every `fold_every` seconds (as the scheduler does every minute): each
    change is a new version, so every worker renders each page again after it."""

    def __init__(self, url: str, per_second: float, fold_every: float):
        super().__init__(daemon=True)
        self.url, self.per_second, self.fold_every = url, per_second, fold_every
        self.stop = threading.Event()
        self.writes = self.folds = 0

    def run(self) -> None:
        from tracker import create_app
        from tracker.config import Config
        from tracker.extensions import db
        from tracker.progress.summary import refresh
        from tracker.timeutil import local_today

        app = create_app(Config, SQLALCHEMY_DATABASE_URI=self.url)
        with app.app_context():
            ids = db.session.scalars(
                text(
                    "SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND NOT EXISTS "
                    "(SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.id LIMIT 200"
                )
            ).all()
            last_fold = time.monotonic()
            while not self.stop.wait(1 / self.per_second):
                task_id = ids[self.writes % len(ids)]
                db.session.execute(
                    text("UPDATE tasks SET percent = (percent + 7) % 90, progress = (percent + 7) % 90 WHERE id = :id"),
                    {"id": task_id},
                )
                db.session.commit()
                self.writes += 1
                if time.monotonic() - last_fold >= self.fold_every:
                    refresh(local_today())
                    self.folds += 1
                    last_fold = time.monotonic()
            db.session.remove()
            db.engine.dispose()


def under_load(
    url: str,
    province: str,
    clients: int,
    requests_per_client: int,
    workers: int,
    writes_per_second: float,
    fold_every: float,
) -> tuple[list[tuple[str, list[dict]]], int]:
    """p50/p95 per page under `clients` concurrent clients without think time, after a warm-up
    round; read-only, then with a writer changing tasks (and folding) meanwhile."""
    port = free_port()
    instance = Path(f"/tmp/bench-progress-{uuid.uuid4().hex[:6]}")
    instance.mkdir()
    env = dict(os.environ, DATABASE_URL=url, INSTANCE_DIR=str(instance), SECRET_KEY="bench", FLASK_APP="app")
    # run from the project folder: gunicorn reads ./gunicorn.conf.py (gc.freeze after start-up)
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tracker:create_app()",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
        opener.open(
            base + "/login",
            urllib.parse.urlencode(
                {"csrf_token": token, "username": "bench-leader", "password": "bench-pass-123"}
            ).encode(),
        )
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        paths = [p for _n, p in pages(province) if not p.endswith(".xlsx")]

        def run(count: int) -> dict[str, list[float]]:
            latencies: dict[str, list[float]] = {p: [] for p in paths}
            lock = threading.Lock()

            def client(index: int) -> None:
                for i in range(count):
                    path = paths[(index + i) % len(paths)]
                    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
                    started = time.perf_counter()
                    with urllib.request.urlopen(request, timeout=60) as response:
                        response.read()
                    elapsed = time.perf_counter() - started
                    with lock:
                        latencies[path].append(elapsed)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return latencies

        def measured(count: int) -> tuple[dict[str, list[float]], float, str]:
            """One run, with where the CPU went: per request, ms of the workers, PostgreSQL, this client."""
            workers_pids = [
                int(p)
                for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
            ]
            postgres = pids_of("postgres")
            before = (cpu_seconds(workers_pids), cpu_seconds(postgres), sum(os.times()[:2]))
            started = time.perf_counter()
            latencies = run(count)
            seconds = time.perf_counter() - started
            after = (cpu_seconds(workers_pids), cpu_seconds(postgres), sum(os.times()[:2]))
            n = sum(len(v) for v in latencies.values())
            cpu = ", ".join(
                f"{label} {1000 * (b - a) / n:.1f}"
                for label, a, b in zip(("workers", "PostgreSQL", "client"), before, after)
            )
            return latencies, seconds, f"CPU ms per request: {cpu}"

        def summarise(latencies: dict[str, list[float]], seconds: float) -> list[dict]:
            results = []
            for name, path in pages(province):
                if latencies.get(path):
                    values = sorted(latencies[path])
                    results.append(
                        {
                            "page": name,
                            "p50_ms": 1000 * percentile(values, 0.5),
                            "p95_ms": 1000 * percentile(values, 0.95),
                            "n": len(values),
                        }
                    )
            every = sorted(v for values in latencies.values() for v in values)
            results.append(
                {
                    "page": f"all ({len(every) / seconds:.0f} requests/s)",
                    "p50_ms": 1000 * percentile(every, 0.5),
                    "p95_ms": 1000 * percentile(every, 0.95),
                    "n": len(every),
                }
            )
            return results

        run(3)  # warm-up: each worker renders each page once (the first view after a change)
        scenarios = []
        latencies, seconds, cpu = measured(requests_per_client)
        scenarios.append((f"read only ({cpu})", summarise(latencies, seconds)))
        if writes_per_second > 0:
            writer = Writer(url, writes_per_second, fold_every)
            writer.start()
            time.sleep(1.5)  # the writer's app is up
            latencies, seconds, cpu = measured(requests_per_client)
            writer.stop.set()
            writer.join()
            scenarios.append(
                (
                    f"with {writer.writes} task changes ({writes_per_second:g}/s) and {writer.folds} folds ({cpu})",
                    summarise(latencies, seconds),
                )
            )
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        peak = max([rss_kb(int(pid)) for pid in children] + [0])
        return scenarios, peak
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description="progress pages on the national data set")
    parser.add_argument("--scale", default="national")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=150, help="requests per client and scenario")
    parser.add_argument(
        "--writes", type=float, default=1.0, help="task changes per second in the second scenario (0: none)"
    )
    parser.add_argument(
        "--fold-every",
        type=float,
        default=5.0,
        help="seconds between folds in the second scenario (the scheduler: 60; each fold is a new version too)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=None, help="reuse this database (built if missing tables)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--load-only", action="store_true", help="skip the in-process figures")
    args = parser.parse_args()
    name = args.database or f"tracker_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        if not exists:
            print(f"building the {args.scale} data set in {name} …", flush=True)
            print(f"  built in {build(url, args.scale):.0f} s", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            tasks = conn.execute(text("SELECT count(*) FROM tasks")).scalar()
            units = conn.execute(text("SELECT count(*) FROM org_units")).scalar()
        engine.dispose()
        print(f"data: {units} units, {tasks} tasks; cores: {os.cpu_count()}")
        rebuild_s, fold_s, folded = prepare_summary(url)
        vacuum = create_engine(url, isolation_level="AUTOCOMMIT")
        with vacuum.connect() as conn:  # what autovacuum does soon after a rebuild
            conn.execute(
                text("VACUUM (ANALYZE) progress_dirty, progress_items, progress_rollup, progress_daily, progress_state")
            )
        vacuum.dispose()
        print(
            f"progress summary: rebuilt in {rebuild_s:.1f} s; one accepted task folded in {fold_s * 1000:.0f} ms "
            f"({folded} owner(s))"
        )
        print(
            "\nserver time (median, in process): cached = the version is unchanged, rendered = a new version;"
            "\nits SQL = the page's own aggregates over the summary, run alone; bare SQL = the aggregates over"
            "\nthe tasks computing the same numbers, run alone; ratios: server time / that SQL (target <= 2)"
        )
        print(
            f"\n{'page':<27} {'cached':>7} {'stmts':>5} {'rendered':>8} {'stmts':>5} {'its SQL':>8} {'bare SQL':>9} "
            f"{'c/its':>6} {'r/its':>6} {'c/bare':>7} {'from tasks':>10}"
        )
        for r in [] if args.load_only else in_process(url, "P44"):
            print(
                f"{r['page']:<27} {r['hit_ms']:>7.1f} {r['hit_statements']:>5} {r['miss_ms']:>8.1f} {r['miss_statements']:>5} "
                f"{r['sql_ms']:>8.1f} {r['tasks_sql_ms']:>9.0f} {r['hit_ms'] / r['sql_ms']:>6.2f} "
                f"{r['miss_ms'] / r['sql_ms']:>6.2f} {r['hit_ms'] / r['tasks_sql_ms']:>7.3f} {r['tasks_ms']:>10.0f}"
            )
        print("(ms; c = cached, r = rendered, its = its SQL, bare = bare SQL over the tasks)")
        scenarios, peak = under_load(
            url, "P44", args.clients, args.requests, args.workers, args.writes, args.fold_every
        )
        for title, results in scenarios:
            print(f"\n{args.clients} concurrent clients, no think time, gunicorn -w {args.workers}, {title}:")
            print(f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
            for r in results:
                print(f"{r['page']:<30} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['n']:>5}")
        print(f"peak worker RSS: {peak / 1024:.0f} MB")
    finally:
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
