"""Benchmark: two web nodes sharing PostgreSQL (and Redis), and writers on the content counter.

    .venv/bin/python bench/two_nodes.py [--scale provincial] [--clients 20] [--requests 60] [--writers 20]
                                        [--seconds 20] [--database NAME] [--keep]

1. p50/p95 of the progress pages as a leader, with `--clients` concurrent clients split over two
   gunicorn nodes (one worker each, folders of their own, as on two machines), without think time,
   with a writer changing a task every second: first with each node's own page folder (no
   sharing: each node renders every new version itself), then with both sharing Redis
   (`REDIS_URL`: a version rendered once in the cluster).
2. The writers' soak: `--writers` connections each renaming tasks of their own (a name is shown
   on the progress pages, so each commit raises the content counter), back to back for
   `--seconds`: commits per second and p50/p95 commit latency. With one counter row every such
   commit waits for the one before it; the counter in slots (tracker/models/triggers.py) lets
   them pass each other.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from progress import Writer, build, free_port, pages, percentile, prepare_summary  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/12"


def start_node(url: str, name: str, redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    folder = Path(f"/tmp/bench-two-nodes-{name}-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        INSTANCE_DIR=str(folder),
        SECRET_KEY="bench-two-nodes",
        FLASK_APP="app",
        PROGRESS_CACHE_DIR=str(folder / "pages"),
        REDIS_URL=redis_url,
        TRACKER_NODES="2",
        LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-w",
            "1",
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


def ensure_leader(url: str) -> None:
    """The leader the page clients sign in as, also in a data set another bench built."""
    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import User

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        if db.session.query(User).filter_by(username="bench-leader").first() is None:
            create_user("bench-leader", "bench-pass-123", "leader", "NHC")
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def sign_in(base: str) -> str:
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
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def split_load(url: str, clients: int, requests_per_client: int, shared: bool) -> dict:
    if shared:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    nodes = [start_node(url, name, REDIS_URL if shared else "") for name in ("a", "b")]
    try:
        cookie = sign_in(nodes[0][1])  # one sign-in, good on both nodes (the shared SECRET_KEY)
        paths = [p for _n, p in pages("P44") if not p.endswith(".xlsx")]
        latencies: list[float] = []
        lock = threading.Lock()

        def client(index: int, count: int) -> None:
            base = nodes[index % 2][1]
            for i in range(count):
                request = urllib.request.Request(base + paths[(index + i) % len(paths)], headers={"Cookie": cookie})
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                with lock:
                    latencies.append(time.perf_counter() - started)

        def run(count: int) -> float:
            threads = [threading.Thread(target=client, args=(i, count)) for i in range(clients)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return time.perf_counter() - started

        run(2)
        latencies.clear()
        writer = Writer(url, 1.0, 5.0)
        writer.start()
        time.sleep(1.5)
        seconds = run(requests_per_client)
        writer.stop.set()
        writer.join()
        values = sorted(latencies)
        return {
            "p50": 1000 * percentile(values, 0.5),
            "p95": 1000 * percentile(values, 0.95),
            "n": len(values),
            "rps": len(values) / seconds,
            "writes": writer.writes,
        }
    finally:
        for server, _base in nodes:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def soak(url: str, writers: int, seconds: float) -> dict:
    """`writers` connections renaming tasks of their own, back to back: commit latency."""
    engine = create_engine(url, pool_size=writers + 2)
    with engine.connect() as conn:
        ids = (
            conn.execute(
                text("SELECT id FROM tasks WHERE parent_id IS NOT NULL ORDER BY id LIMIT :n"), {"n": writers * 50}
            )
            .scalars()
            .all()
        )
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def writer(index: int) -> None:
        own = ids[index::writers]
        n = 0
        with engine.connect() as conn:
            while time.monotonic() < stop:
                task_id = own[n % len(own)]
                n += 1
                started = time.perf_counter()
                try:
                    conn.execute(
                        text(
                            "UPDATE tasks SET title = regexp_replace(title, ' #[0-9]+$', '') || ' #' || :n "
                            "WHERE id = :id"
                        ),
                        {"id": task_id, "n": n},
                    )
                    conn.commit()
                except Exception:  # noqa: BLE001  (counted, the soak goes on)
                    conn.rollback()
                    with lock:
                        errors[0] += 1
                    continue
                with lock:
                    latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    with engine.begin() as conn:  # the names back as they were
        conn.execute(
            text("UPDATE tasks SET title = regexp_replace(title, ' #[0-9]+$', '') WHERE id = ANY(:ids)"),
            {"ids": list(ids)},
        )
    engine.dispose()
    values = sorted(latencies)
    return {
        "commits": len(values),
        "per_second": len(values) / elapsed,
        "p50": 1000 * statistics.median(values),
        "p95": 1000 * percentile(values, 0.95),
        "errors": errors[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="two web nodes; writers on the content counter")
    parser.add_argument("--scale", default="provincial")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60, help="requests per client and scenario")
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--database", default=None, help="reuse this database (built if missing)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--soak-only", action="store_true")
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
            slots = conn.execute(text("SELECT count(*) FROM progress_content")).scalar()
        engine.dispose()
        print(f"data: {units} units, {tasks} tasks; cores: {os.cpu_count()}; content counter rows now: {slots}")
        ensure_leader(url)
        prepare_summary(url)
        if not args.soak_only:
            print(
                f"\nprogress pages as a leader, {args.clients} clients split over two nodes (gunicorn -w 1 each), "
                "a task changed every second:"
            )
            print(f"{'page store':<34} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>6} {'n':>5}")
            for label, shared in (("each node's own folder", False), ("shared Redis", True)):
                r = split_load(url, args.clients, args.requests, shared)
                print(f"{label:<34} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['rps']:>6.1f} {r['n']:>5}", flush=True)
        r = soak(url, args.writers, args.seconds)
        print(
            f"\n{args.writers} writers renaming tasks for {args.seconds:g} s: {r['commits']} commits "
            f"({r['per_second']:.0f}/s), commit p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} ms, {r['errors']} errors"
        )
    finally:
        if not args.keep and not args.database:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
