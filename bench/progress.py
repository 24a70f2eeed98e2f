"""Benchmark: the progress pages on the national data set on PostgreSQL.

    .venv/bin/python bench/progress.py [--scale national] [--clients 20] [--requests 200] [--workers 2] [--keep]

Builds a scratch database (unit catalogue + `flask demo generate --scale national`: ~3,000 units,
~1,000,000 tasks), rebuilds the progress summary (timed) and folds one change into it (timed),
then for each progress page prints:
- its server time (median of in-process requests) next to the time of the bare SQL aggregates
  it runs, re-executed alone (ratio = page / SQL; target <= 2), and its statement count;
- the same page computed from the tasks instead of the summary (one request), for comparison;
- p50/p95 latency under N concurrent clients on loopback against gunicorn (target p95 <= 150 ms
  on 2 cores), and the peak RSS of the gunicorn workers.
"""
from __future__ import annotations

import argparse
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
    from tracker.progress.pages import page_store

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        leader_id = db.session.query(User.id).filter_by(username="bench-leader").scalar()
        engine = db.engine
        store = page_store()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(leader_id)
    results = []

    def timed(path: str, miss: bool) -> tuple[float, list]:
        captured: list = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        if miss:
            store.clear()
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
        results.append({"page": name, "path": path, "hit_ms": hit_s * 1000, "hit_statements": len(hits[0][1]),
                        "miss_ms": miss_s * 1000, "miss_statements": len(misses[0][1]), "sql_ms": own_sql * 1000,
                        "tasks_sql_ms": tasks_sql * 1000, "tasks_ms": tasks_s * 1000})
    with app.app_context():
        db.engine.dispose()
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
        db.session.execute(text(
            "UPDATE tasks SET status = 'accepted', progress = 100, percent = 100, completed_on = :day "
            "WHERE id = (SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND NOT EXISTS "
            "(SELECT 1 FROM tasks c WHERE c.parent_id = t.id) ORDER BY t.id LIMIT 1)"), {"day": local_today()})
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


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def under_load(url: str, province: str, clients: int, requests_per_client: int, workers: int) -> tuple[list[dict], int]:
    port = free_port()
    instance = Path(f"/tmp/bench-progress-{uuid.uuid4().hex[:6]}")
    instance.mkdir()
    env = dict(os.environ, DATABASE_URL=url, INSTANCE_DIR=str(instance), SECRET_KEY="bench", FLASK_APP="app")
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                               "--log-level", "warning", "tracker:create_app()"], cwd=ROOT, env=env)
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
        opener.open(base + "/login", urllib.parse.urlencode(
            {"csrf_token": token, "username": "bench-leader", "password": "bench-pass-123"}).encode())
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        paths = [p for _n, p in pages(province) if not p.endswith(".xlsx")]
        latencies: dict[str, list[float]] = {p: [] for p in paths}
        lock = threading.Lock()

        def client(index: int) -> None:
            for i in range(requests_per_client):
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
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        peak = max([rss_kb(int(pid)) for pid in children] + [0])
        results = []
        for name, path in pages(province):
            if path in latencies and latencies[path]:
                values = sorted(latencies[path])
                results.append({"page": name, "p50_ms": 1000 * values[len(values) // 2],
                                "p95_ms": 1000 * values[max(0, int(len(values) * 0.95) - 1)], "n": len(values)})
        return results, peak
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description="progress pages on the national data set")
    parser.add_argument("--scale", default="national")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=None, help="reuse this database (built if missing tables)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
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
            conn.execute(text("VACUUM (ANALYZE) progress_dirty, progress_items, progress_rollup, progress_daily, progress_state"))
        vacuum.dispose()
        print(f"progress summary: rebuilt in {rebuild_s:.1f} s; one accepted task folded in {fold_s * 1000:.0f} ms "
              f"({folded} owner(s))")
        print("\nserver time (median, in process): cached = the version is unchanged, rendered = a new version;"
              "\nits SQL = the page's own aggregates over the summary, run alone; bare SQL = the aggregates over"
              "\nthe tasks computing the same numbers, run alone; ratios: server time / that SQL (target <= 2)")
        print(f"\n{'page':<27} {'cached':>7} {'stmts':>5} {'rendered':>8} {'stmts':>5} {'its SQL':>8} {'bare SQL':>9} "
              f"{'c/its':>6} {'r/its':>6} {'c/bare':>7} {'from tasks':>10}")
        for r in in_process(url, "P44"):
            print(f"{r['page']:<27} {r['hit_ms']:>7.1f} {r['hit_statements']:>5} {r['miss_ms']:>8.1f} {r['miss_statements']:>5} "
                  f"{r['sql_ms']:>8.1f} {r['tasks_sql_ms']:>9.0f} {r['hit_ms'] / r['sql_ms']:>6.2f} "
                  f"{r['miss_ms'] / r['sql_ms']:>6.2f} {r['hit_ms'] / r['tasks_sql_ms']:>7.3f} {r['tasks_ms']:>10.0f}")
        print("(ms; c = cached, r = rendered, its = its SQL, bare = bare SQL over the tasks)")
        results, peak = under_load(url, "P44", args.clients, args.requests, args.workers)
        print(f"\n{args.clients} concurrent clients, gunicorn -w {args.workers}:")
        print(f"{'page':<28} {'p50 ms':>8} {'p95 ms':>8} {'n':>5}")
        for r in results:
            print(f"{r['page']:<28} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['n']:>5}")
        print(f"peak worker RSS: {peak / 1024:.0f} MB")
    finally:
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
