"""Backup and restore of the database and the evidence files.

SQLite: the online backup API (a consistent copy while the app runs). PostgreSQL: pg_dump in
the custom format and pg_restore --clean. Uploads are copied file by file. A manifest records
what was saved; a restore refuses a backup of another kind of database.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import make_url

from tracker.extensions import db

MANIFEST = "manifest.json"
SQLITE_FILE = "tracker.sqlite3"
PG_FILE = "tracker.dump"


class BackupError(Exception):
    pass


@dataclass
class BackupReport:
    directory: Path
    dialect: str
    tables: dict
    files: int


def _url():
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_path(url) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def _row_counts() -> dict:
    names = [n for n in inspect(db.engine).get_table_names() if n != "apscheduler_jobs"]
    with db.engine.connect() as conn:
        return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() for name in sorted(names)}


def backup(directory: Path) -> BackupReport:
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty; give a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    url = _url()
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(directory / SQLITE_FILE)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    elif dialect == "postgresql":
        result = subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={directory / PG_FILE}", _libpq_url(url)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
    else:
        raise BackupError(f"no backup for {dialect}")
    uploads = Path(current_app.config["UPLOAD_DIR"])
    files = 0
    if uploads.exists():
        shutil.copytree(uploads, directory / "uploads")
        files = sum(1 for p in (directory / "uploads").rglob("*") if p.is_file())
    report = BackupReport(directory, dialect, _row_counts(), files)
    (directory / MANIFEST).write_text(json.dumps({
        "created_at": datetime.now(timezone.utc).isoformat(), "dialect": dialect, "tables": report.tables,
        "files": files, "revision": _revision(),
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def _revision() -> list[str]:
    try:
        with db.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))
    except Exception:  # noqa: BLE001 — a database built without migrations (tests)
        return []


def restore(directory: Path) -> BackupReport:
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.exists():
        raise BackupError(f"{directory} holds no backup ({MANIFEST} missing)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    url = _url()
    dialect = url.get_backend_name()
    if manifest.get("dialect") != dialect:
        raise BackupError(f"this backup is of a {manifest.get('dialect')} database, the app uses {dialect}")
    db.session.remove()
    db.engine.dispose()
    if dialect == "sqlite":
        source = sqlite3.connect(directory / SQLITE_FILE)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        result = subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                                 f"--dbname={_libpq_url(url)}", str(directory / PG_FILE)], capture_output=True, text=True)
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")
    saved = directory / "uploads"
    if saved.exists():
        shutil.copytree(saved, Path(current_app.config["UPLOAD_DIR"]), dirs_exist_ok=True)
    _set_progress_summary_aside()
    return BackupReport(directory, dialect, _row_counts(), manifest.get("files", 0))


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
