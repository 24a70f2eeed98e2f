"""Benchmark: the global search (/search) on the demo data set on PostgreSQL.

    .venv/bin/python bench/search.py [--scale national] [--provinces N] [--database NAME] [--keep] [--repeat 15]
    DATABASE_URL=postgresql+psycopg://…/db .venv/bin/python bench/search.py   # reuse that database

Builds a scratch database when none is given or the one given has no tasks (the unit catalogue,
`flask demo generate --scale …`: national ~3,000 units and ~1,000,000 tasks; provincial ~300
units and ~25,000 tasks), adds comments (one per `--comment-every` tasks) and evidence file names
(one per `--file-every`), since the generated set has none, then ANALYZE. A database built before
is reused as it is (the extra rows are added once: they carry the marker BENCH_MARK).

Then, signed in as an admin (NHC), a provincial coordinator and a county reporter of the data
set, it asks /search for several terms (common and rare title words, two-character words that no
trigram serves, a comment's words, a file name, nothing at all, a deep page) and prints each
one's server time in process (median and p95 of `--repeat` requests, after one warm-up), its
statement count and the number of hits. Target: p95 <= 200 ms at national scale.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
import urllib.parse
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

AS_OF = date(2025, 12, 31)
PASSWORD = "bench-pass-123"
BENCH_MARK = "bench-search"

COMMENT_WORDS = ["请补充", "已核实", "材料不全", "按期完成", "核查意见", "整改到位", "数据有误", "已上传", "请复核"]
FILE_WORDS = ["自查表", "整改报告", "会议纪要", "质控数据", "培训签到表", "督导记录", "工作总结"]
FILE_TYPES = [".pdf", ".docx", ".xlsx", ".jpg"]


def queries(duty_title: str) -> list[tuple[str, str]]:
    """(what it shows, the query string) of each search; `duty_title`: one duty's (its copies
    in every unit hold it)."""
    return [
        ("common title word", "q=工作方案"),
        ("one duty's title", "q=" + urllib.parse.quote(duty_title)),
        ("2 chars, common", "q=质控"),
        ("2 chars, no match", "q=河豚"),
        ("comment word (22 %)", "q=核查意见"),
        ("comment phrase (1 %)", "q=" + urllib.parse.quote("数据有误，请复核")),
        ("file name", "q=培训签到表"),
        ("latin, any case", "q=PDF"),
        ("no match", "q=不存在的内容"),
        ("page 20 of a common", "q=工作方案&page=20"),
    ]


def national_shape(provinces: int) -> str:
    """A scale shaped like the national one (units per province, duties) over the first
    `provinces` provinces: its provinces are as big as the national set's, the whole a fraction
    of it (8 provinces: ~800 units, ~256,000 tasks)."""
    from dataclasses import replace

    from tracker.demo.generate import SCALES

    name = f"national-{provinces}"
    SCALES[name] = replace(SCALES["national"], provinces=provinces)
    return name


def build(url: str, scale: str) -> float:
    from tracker import create_app
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
        db.session.commit()
        generate(scale, AS_OF)
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return elapsed


def bench_users(url: str) -> dict[str, str]:
    """The three users (created once): an admin at NHC, a coordinator of the data set's first
    province, a reporter of that province's first county. {role label: username}."""
    from sqlalchemy import select

    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import OrgUnit, User

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        county = db.session.scalar(
            select(OrgUnit).where(OrgUnit.code.like("G-%"), OrgUnit.level == "county").order_by(OrgUnit.id).limit(1)
        )
        province = db.session.get(OrgUnit, int(county.path.strip("/").split("/")[1]))
        wanted = {
            "admin (NHC)": ("bench-admin", "admin", "NHC"),
            f"coordinator ({province.code})": ("bench-coordinator", "coordinator", province.code),
            f"reporter ({county.code})": ("bench-reporter", "reporter", county.code),
        }
        for username, role, code in wanted.values():
            if db.session.scalar(select(User.id).where(User.username == username)) is None:
                create_user(username, PASSWORD, role, code)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {label: username for label, (username, _r, _c) in wanted.items()}


def add_comments_and_files(url: str, comment_every: int, file_every: int) -> tuple[int, int]:
    """Comments and evidence file names on the generated tasks (once; COPY), then ANALYZE."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.execute(text("SELECT 1 FROM journal_entries WHERE field = :m LIMIT 1"), {"m": BENCH_MARK}).first():
            comments = conn.execute(text("SELECT count(*) FROM journal_entries WHERE field = :m"), {"m": BENCH_MARK})
            files = conn.execute(text("SELECT count(*) FROM evidence WHERE sha256 = :m"), {"m": BENCH_MARK})
            return comments.scalar(), files.scalar()
        user_id = conn.execute(text("SELECT id FROM users WHERE username = 'bench-reporter'")).scalar()
        ids = [row[0] for row in conn.execute(text("SELECT id FROM tasks WHERE owner_selector IS NULL ORDER BY id"))]
        rng = random.Random(2026)
        now = datetime.now(timezone.utc)
        raw = conn.connection.driver_connection
        comments = files = 0
        with raw.cursor() as cursor:
            with cursor.copy("COPY journal_entries (task_id, user_id, at, action, field, comment) FROM STDIN") as copy:
                for task_id in ids[::comment_every]:
                    words = "，".join(rng.sample(COMMENT_WORDS, 2))
                    at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 300))
                    copy.write_row((task_id, user_id, at, "comment", BENCH_MARK, f"{words}（第{rng.randint(1, 9)}次）"))
                    comments += 1
            columns = "task_id, user_id, kind, note, original_name, stored_name, sha256, size, mime_type, created_at"
            with cursor.copy(f"COPY evidence ({columns}) FROM STDIN") as copy:
                for task_id in ids[::file_every]:
                    name = f"{rng.choice(FILE_WORDS)}-{rng.randint(2024, 2026)}{rng.choice(FILE_TYPES)}"
                    stored = uuid.uuid4().hex
                    copy.write_row(
                        (task_id, user_id, "file", "", name, stored, BENCH_MARK, 1000, "application/pdf", now)
                    )
                    files += 1
    engine.dispose()
    vacuum = create_engine(url, isolation_level="AUTOCOMMIT")
    with vacuum.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    vacuum.dispose()
    return comments, files


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def measure(url: str, users: dict[str, str], repeat: int) -> list[dict]:
    """Per user and query: server time in process (median, p95), statements, hits shown."""
    import re

    from tracker import create_app
    from tracker.auth.sessions import start_session
    from tracker.config import Config
    from tracker.extensions import db
    from tracker.models import User
    from tracker.security import SESSION_ID_KEY

    app = create_app(Config, SQLALCHEMY_DATABASE_URI=url, WTF_CSRF_ENABLED=False)
    results = []
    with app.app_context():
        sessions = {}
        for label, username in users.items():
            user = db.session.query(User).filter_by(username=username).one()
            sessions[label] = (user.id, start_session(user, "bench"))
        db.session.commit()
        engine = db.engine
        db.session.remove()
    with app.app_context():
        duty_title = db.session.execute(text("SELECT title FROM tasks WHERE ref = '三.7'")).scalar() or "季度质控报告"
        db.session.remove()
    for label, (user_id, session_id) in sessions.items():
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = str(user_id)
            session[SESSION_ID_KEY] = session_id
        for name, query in queries(duty_title):
            path = "/search?" + query
            client.get(path)  # warm
            times, statements = [], []
            for _ in range(repeat):
                captured: list = []

                def count(conn, cursor, statement, parameters, context, executemany, captured=captured):
                    captured.append(statement)

                event.listen(engine, "before_cursor_execute", count)
                try:
                    started = time.perf_counter()
                    response = client.get(path)
                    elapsed = time.perf_counter() - started
                finally:
                    event.remove(engine, "before_cursor_execute", count)
                assert response.status_code == 200, (path, response.status_code)
                times.append(elapsed * 1000)
                statements.append(len(captured))
            body = response.get_data(as_text=True)
            total = re.search(r'class="text-muted small">([^<]+)</span>', body)
            results.append(
                {
                    "user": label,
                    "query": name,
                    "path": path,
                    "median_ms": statistics.median(times),
                    "p95_ms": percentile(times, 0.95),
                    "statements": max(statements),
                    "hits": body.count('class="search-hit '),
                    "total": total.group(1).strip() if total else "0",
                }
            )
    with app.app_context():
        db.engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="the global search on the demo data set")
    parser.add_argument("--scale", default="national")
    parser.add_argument(
        "--provinces",
        type=int,
        default=0,
        help="a national-shaped set of only this many provinces (with --scale national)",
    )
    parser.add_argument(
        "--url", default=os.environ.get("DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--database", default=None, help="reuse this database (built if it has no tasks)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--comment-every", type=int, default=10, help="one comment per this many tasks")
    parser.add_argument("--file-every", type=int, default=20, help="one evidence file per this many tasks")
    args = parser.parse_args()
    given = make_url(args.url)
    if given.get_backend_name() != "postgresql":
        print("the search benchmark needs PostgreSQL (DATABASE_URL or --url)")
        return 2
    reuse_given = bool(os.environ.get("DATABASE_URL")) and args.database is None
    name = given.database if reuse_given else (args.database or f"tracker_bench_{uuid.uuid4().hex[:8]}")
    admin = create_engine(given.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = given.set(database=name).render_as_string(hide_password=False)
    scratch = not exists and not reuse_given and not args.database
    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            has_tasks = conn.execute(text("SELECT to_regclass('tasks') IS NOT NULL")).scalar() and bool(
                conn.execute(text("SELECT EXISTS (SELECT 1 FROM tasks)")).scalar()
            )
        engine.dispose()
        if not has_tasks:
            scale = national_shape(args.provinces) if args.provinces else args.scale
            print(f"building the {scale} data set in {name} …", flush=True)
            print(f"  built in {build(url, scale):.0f} s", flush=True)
        users = bench_users(url)
        started = time.perf_counter()
        comments, files = add_comments_and_files(url, args.comment_every, args.file_every)
        print(f"comments and evidence files ready in {time.perf_counter() - started:.0f} s", flush=True)
        engine = create_engine(url)
        with engine.connect() as conn:
            tasks = conn.execute(text("SELECT count(*) FROM tasks")).scalar()
            units = conn.execute(text("SELECT count(*) FROM org_units")).scalar()
            sizes = conn.execute(
                text(
                    "SELECT indexname, pg_size_pretty(pg_relation_size(indexname::regclass)) FROM pg_indexes "
                    "WHERE indexname LIKE '%trgm' OR indexname LIKE '%bigram' ORDER BY indexname"
                )
            ).all()
        engine.dispose()
        print(
            f"data: {units} units, {tasks} tasks, {comments} comments, {files} evidence files; cores: {os.cpu_count()}"
        )
        print("search indexes: " + ", ".join(f"{n} {s}" for n, s in sizes))
        print(f"\nserver time in process, {args.repeat} requests each after a warm-up (ms; target p95 <= 200)")
        print(f"{'user':<26} {'query':<22} {'median':>8} {'p95':>8} {'stmts':>5} {'shown':>5}  total")
        worst = 0.0
        for r in measure(url, users, args.repeat):
            worst = max(worst, r["p95_ms"])
            print(
                f"{r['user']:<26} {r['query']:<22} {r['median_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['statements']:>5} "
                f"{r['hits']:>5}  {r['total']}"
            )
        print(f"\nworst p95: {worst:.1f} ms")
    finally:
        if scratch and not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
