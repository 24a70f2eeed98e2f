"""Backup and restore of the database and the store of evidence files and scheme documents.

SQLite: the online backup API (a consistent copy while the app runs). PostgreSQL: pg_dump in
the custom format and pg_restore --clean in one transaction. The store's objects (from the
folder UPLOAD_DIR or the S3-compatible object store, whichever is configured: tracker/storage.py)
are copied one by one into `objects/`, after the database, so that every object a row of the
saved database names is there. A manifest records what was saved: every file with its size and
sha256, the tables with their rows, and the migration revision.

A restore first verifies the backup, before it touches anything: the manifest parses; every file
it names is there with the size and sha256 it records; the database file opens and holds the
tables (SQLite: with the rows recorded, PostgreSQL: pg_restore can read its table of contents);
the backup's migration revision is the live database's (or the live database is empty); the
configured store answers. Any failure is a one-line BackupError and nothing has been changed.
Then the objects are put back into the configured store (those it lacks, or holds with another
size; with `all_objects`, every one), before the database, so that no restored row is without
its object; objects the store holds beyond the backup's stay (`flask evidence check` lists them).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL, make_url

from tracker.extensions import db
from tracker.storage import NAME, StorageError, storage

MANIFEST = "manifest.json"
SQLITE_FILE = "tracker.sqlite3"
PG_FILE = "tracker.dump"
FORMAT = 3  # 3: the store's objects under objects/; 2: UPLOAD_DIR copied under uploads/ (still restored)
FORMATS = (2, 3)
OBJECTS = {3: "objects", 2: "uploads"}
# a backup of this app holds at least these tables
CORE_TABLES = ("org_units", "users", "plans", "tasks")
SKIPPED_TABLES = ("apscheduler_jobs",)


class BackupError(Exception):
    pass


@dataclass
class BackupReport:
    directory: Path
    dialect: str
    tables: dict
    files: int  # objects saved, or put back
    unchanged: int = 0  # restore: objects the store already held as saved
    without_object: int = 0  # backup: rows naming an object the store did not hold


def _url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq_url(url) -> str:
    """The libpq address of the database *without* its password (argv is visible to every user
    of the machine in `ps`); the password goes in the child's environment (_libpq_env)."""
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    return bare.render_as_string(hide_password=False)


def _libpq_env(url) -> dict:
    """The environment of pg_dump/pg_restore: ours, with PGPASSWORD when the address has a
    password (a process's environment is readable only by its owner and root)."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return env


def _sqlite_path(url) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def _last_line(text_: str, fallback) -> str:
    lines = [line for line in (text_ or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else str(fallback)


def _row_counts() -> dict:
    names = [n for n in inspect(db.engine).get_table_names() if n not in SKIPPED_TABLES]
    with db.engine.connect() as conn:
        return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in sorted(names)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_entry(directory: Path, path: Path) -> dict:
    return {"path": path.relative_to(directory).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)}


def _open_sqlite_read_only(path: Path) -> sqlite3.Connection:
    """Open an existing SQLite file without creating or changing it."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _sqlite_contents(path: Path) -> tuple[dict, list[str]]:
    """(rows per table, migration revision) of a SQLite file; BackupError if it is not a database."""
    try:
        conn = _open_sqlite_read_only(path)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{path.name} is damaged (SQLite quick_check failed)")
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            ]
            counts = {
                n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
                for n in sorted(names)
                if n not in SKIPPED_TABLES
            }
            revision = (
                sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
                if "alembic_version" in names
                else []
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a readable SQLite database ({exc})") from None
    return counts, revision


def backup(directory: Path) -> BackupReport:
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; give a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    url = _url()
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        database = directory / SQLITE_FILE
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(database)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        tables, revision = _sqlite_contents(database)  # what the copy holds, not the live database a moment later
    elif dialect == "postgresql":
        database = directory / PG_FILE
        result = subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={database}", _libpq_url(url)],
            capture_output=True,
            text=True,
            env=_libpq_env(url),
        )
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {_last_line(result.stderr, result.returncode)}")
        tables, revision = _row_counts(), _revision()
    else:
        raise BackupError(f"no backup for {dialect}")
    named = _names_in_rows()
    objects = _copy_objects(directory / OBJECTS[FORMAT])
    report = BackupReport(directory, dialect, tables, len(objects), without_object=len(named - {n for n, _ in objects}))
    (directory / MANIFEST).write_text(
        json.dumps(
            {
                "format": FORMAT,
                "created_at": datetime.now(timezone.utc).isoformat(),
                "dialect": dialect,
                "revision": revision,
                "tables": tables,
                "database": database.name,
                "store": storage().describe(),
                "objects": len(objects),
                "files": [_file_entry(directory, database), *(entry for _name, entry in objects)],
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    return report


def _names_in_rows() -> set[str]:
    """The stored names the live rows give (evidence files, scheme documents)."""
    from tracker.models import Evidence, ProvincialScheme

    try:
        with db.engine.connect() as conn:
            return {
                name
                for model in (Evidence, ProvincialScheme)
                for name in conn.execute(select(model.stored_name).where(model.stored_name.is_not(None))).scalars()
            }
    except Exception:  # noqa: BLE001 — a database without these tables: nothing to miss
        return set()


def _copy_objects(folder: Path) -> list[tuple[str, dict]]:
    """Every object of the store into `folder`, streamed, with its size and sha256 as read."""
    store = storage()
    folder.mkdir()
    saved = []
    try:
        for name, _size in store.sizes():
            digest, size = hashlib.sha256(), 0
            with store.open(name) as source, open(folder / name, "wb") as target:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    size += len(block)
                    target.write(block)
            path = f"{folder.name}/{name}"
            saved.append((name, {"path": path, "size": size, "sha256": digest.hexdigest()}))
    except StorageError as exc:
        raise BackupError(f"the file store could not be copied ({store.describe()}): {exc}") from None
    return saved


def _revision() -> list[str]:
    try:
        with db.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    except Exception:  # noqa: BLE001 — a database built without migrations (tests), or an empty one
        return []


# -- verification ---------------------------------------------------------------------------------


def read_manifest(directory: Path) -> dict:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise BackupError(f"{directory} holds no backup ({MANIFEST} missing)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BackupError(f"{MANIFEST} is not text (UTF-8); the backup is damaged") from None
    except json.JSONDecodeError as exc:
        raise BackupError(
            f"{MANIFEST} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); the backup is damaged"
        ) from None
    if not isinstance(manifest, dict):
        raise BackupError(f"{MANIFEST} does not describe a backup (not a JSON object)")
    files, tables = manifest.get("files"), manifest.get("tables")
    if manifest.get("format") not in FORMATS or not isinstance(files, list) or not isinstance(tables, dict):
        raise BackupError(
            f"{MANIFEST} is not of a backup this version can verify (format {FORMAT}: files with sizes "
            "and checksums); make a new backup"
        )
    for entry in files:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("size"), int)
            and isinstance(entry.get("sha256"), str)
        ):
            raise BackupError(f"{MANIFEST} lists a file without its path, size and sha256")
    return manifest


def _inside(directory: Path, relative: str) -> Path:
    path = (directory / relative).resolve()
    if directory.resolve() not in path.parents:
        raise BackupError(f"{MANIFEST} names a file outside the backup: {relative}")
    return path


def verify_files(directory: Path, manifest: dict) -> None:
    for entry in manifest["files"]:
        path = _inside(directory, entry["path"])
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {entry['path']} is missing")
        size = path.stat().st_size
        if size != entry["size"]:
            raise BackupError(
                f"the backup is damaged: {entry['path']} has {size} bytes, the manifest says {entry['size']}"
            )
        if _sha256(path) != entry["sha256"]:
            raise BackupError(f"the backup is damaged: {entry['path']} does not match its sha256")


def _pg_dump_tables(path: Path) -> set[str]:
    result = subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(
            f"{path.name} is not a readable pg_dump archive: {_last_line(result.stderr, result.returncode)}"
        )
    tables = set()
    for line in result.stdout.splitlines():
        if line.startswith(";") or " TABLE DATA " not in line:
            continue
        words = line.split(" TABLE DATA ", 1)[1].split()
        if len(words) >= 2:
            tables.add(words[1])
    return tables


def verify_database(directory: Path, manifest: dict, dialect: str) -> None:
    if manifest.get("dialect") != dialect:
        raise BackupError(f"this backup is of a {manifest.get('dialect')} database, the app uses {dialect}")
    expected = PG_FILE if dialect == "postgresql" else SQLITE_FILE
    if manifest.get("database") != expected or expected not in {e["path"] for e in manifest["files"]}:
        raise BackupError(f"{MANIFEST} does not list the database file {expected}")
    missing = [t for t in CORE_TABLES if t not in manifest["tables"]]
    if missing:
        raise BackupError(f"{MANIFEST} lists no table {missing[0]}: not a backup of this app")
    path = directory / expected
    if dialect == "sqlite":
        counts, revision = _sqlite_contents(path)
        absent = sorted(set(manifest["tables"]) - set(counts))
        if absent:
            raise BackupError(f"{expected} does not hold the table {absent[0]}")
        differ = [t for t, n in manifest["tables"].items() if counts[t] != n]
        if differ:
            raise BackupError(
                f"{expected} holds {counts[differ[0]]} rows in {differ[0]}, the manifest says {manifest['tables'][differ[0]]}"
            )
        if revision != manifest.get("revision", []):
            raise BackupError(
                f"{expected} is at migration {revision or 'none'}, the manifest says {manifest.get('revision') or 'none'}"
            )
    else:
        absent = sorted(t for t, n in manifest["tables"].items() if t not in _pg_dump_tables(path))
        if absent:
            raise BackupError(f"{expected} does not hold the table {absent[0]}")


def verify_revision(manifest: dict) -> None:
    """The backup's migration revision must be the live database's (unless that one is empty)."""
    live = _revision()
    saved = manifest.get("revision") or []
    if live == saved:
        return
    if not live and not inspect(db.engine).get_table_names():
        return  # a new, empty database: nothing of another revision to mix with
    raise BackupError(
        f"the backup is at migration {', '.join(saved) or 'none'}, the database at {', '.join(live) or 'none'}: "
        "bring them to the same revision first (flask db upgrade)"
    )


def saved_objects(manifest: dict) -> list[dict]:
    """The manifest's entries of stored objects (objects/NAME; in a format 2 backup uploads/NAME),
    each with its stored `name` besides path, size and sha256."""
    folder = OBJECTS.get(manifest.get("format"), OBJECTS[FORMAT]) + "/"
    found = []
    for entry in manifest.get("files", []):
        path = entry["path"]
        if path.startswith(folder) and NAME.match(path[len(folder) :]):
            found.append({**entry, "name": path[len(folder) :]})
    return found


def verify_store() -> None:
    """The configured store answers (a question about one object: no listing of them all)."""
    store = storage()
    try:
        store.size("restore-check")
    except StorageError as exc:
        raise BackupError(f"the file store cannot be reached ({store.describe()}): {exc}") from None


def verify_backup(directory: Path) -> dict:
    """Every check a restore makes before it changes anything; the manifest, or BackupError."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    dialect = _url().get_backend_name()
    verify_files(directory, manifest)
    verify_database(directory, manifest, dialect)
    verify_revision(manifest)
    verify_store()
    return manifest


def _put_objects(directory: Path, manifest: dict, all_objects: bool) -> tuple[int, int]:
    """The backup's objects into the configured store: (put, already there with their size)."""
    from tracker.plans.stored_files import upload_dir

    store = storage()
    entries = saved_objects(manifest)
    try:
        held = {} if all_objects else dict(store.sizes())
        put = 0
        for entry in entries:
            if held.get(entry["name"]) == entry["size"]:
                continue  # stored names are random and objects never rewritten: the same object
            temp = upload_dir() / f".{entry['name']}.part"  # put_file takes the file away: a copy of it
            shutil.copyfile(directory / entry["path"], temp)
            try:
                store.put_file(entry["name"], temp)
            finally:
                temp.unlink(missing_ok=True)
            put += 1
    except StorageError as exc:
        raise BackupError(
            f"the objects could not be put back into the file store ({store.describe()}), the database is "
            f"unchanged; run the restore again: {exc}"
        ) from None
    return put, len(entries) - put


def restore(directory: Path, all_objects: bool = False) -> BackupReport:
    directory = Path(directory)
    manifest = verify_backup(directory)
    put, unchanged = _put_objects(directory, manifest, all_objects)  # first: no restored row without its object
    url = _url()
    dialect = url.get_backend_name()
    db.session.remove()
    db.engine.dispose()
    if dialect == "sqlite":
        source = _open_sqlite_read_only(directory / SQLITE_FILE)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        result = subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--single-transaction",
                f"--dbname={_libpq_url(url)}",
                str(directory / PG_FILE),
            ],
            capture_output=True,
            text=True,
            env=_libpq_env(url),
        )
        if result.returncode != 0:
            raise BackupError(
                f"pg_restore failed (the database is unchanged: one transaction): {_last_line(result.stderr, result.returncode)}"
            )
    _set_progress_summary_aside()
    return BackupReport(directory, dialect, _row_counts(), put, unchanged=unchanged)


def _set_progress_summary_aside() -> None:
    """The restored data is another history than the one running web workers cached progress
    pages of: the summary is set aside (the pages read the tasks, uncached) until the scheduler
    rebuilds it, with a new fold time, so that no version of the restored history meets one
    of the old (tracker/progress/pages.py)."""
    from sqlalchemy import inspect, update

    from tracker.models import ProgressState

    if inspect(db.engine).has_table("progress_state"):
        db.session.execute(update(ProgressState).values(as_of=None))
        db.session.commit()
