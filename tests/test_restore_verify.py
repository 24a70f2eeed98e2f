"""`flask restore` verifies the backup before it touches anything: each broken backup is refused
with one line and exit status 1, and the live database and files are as they were."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = "5e1d0c0ffee5e1d0c0ffee5e1d0c0ffe.pdf"
NEWER = "7a11ce5e7a11ce5e7a11ce5e7a11ce5e.pdf"


@pytest.fixture
def live(scratch_database_url, tmp_path, monkeypatch):
    """A committed database with an evidence file, backed up into tmp/bak, then changed."""
    from tracker.importer.seed import load_seed_files

    uploads = tmp_path / "uploads"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url, UPLOAD_DIR=str(uploads))
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine)))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml"])
        from tracker.models import OrgUnit, Plan, Task

        plan = Plan(
            key="restore-test",
            title="恢复测试计划",
            issuer_unit=db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC")),
        )
        db.session.add_all(
            [Task(plan=plan, ref=f"R-{n}", title=f"恢复测试任务 {n}", depth=0, path="/") for n in range(5)]
        )
        db.session.commit()
        uploads.mkdir(parents=True)
        (uploads / EVIDENCE).write_bytes(b"%PDF-1.4 evidence")  # a stored file (in the folder store)
        runner = app.test_cli_runner()
        saved = runner.invoke(args=["backup", str(tmp_path / "bak")])
        assert saved.exit_code == 0, saved.output
        # after the backup: a change a restore would undo, and a new evidence file
        db.session.execute(
            text("UPDATE tasks SET title = 'changed after the backup' WHERE id = (SELECT min(id) FROM tasks)")
        )
        db.session.commit()
        (uploads / NEWER).write_bytes(b"%PDF-1.4 newer")
        yield {
            "app": app,
            "runner": runner,
            "backup": tmp_path / "bak",
            "uploads": uploads,
            "fingerprint": fingerprint(uploads),
        }
        db.session.remove()
        db.engine.dispose()


def fingerprint(uploads: Path) -> tuple:
    from tracker.models import Task

    tables = sorted(t for t in db.inspect(db.engine).get_table_names() if t != "apscheduler_jobs")
    counts = {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in tables}
    changed = db.session.scalar(select(func.count()).select_from(Task).where(Task.title == "changed after the backup"))
    files = sorted((p.relative_to(uploads).as_posix(), p.read_bytes()) for p in uploads.rglob("*") if p.is_file())
    db.session.rollback()
    return counts, changed, files


def manifest_of(backup: Path) -> dict:
    return json.loads((backup / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(backup: Path, manifest: dict) -> None:
    (backup / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


def database_file(backup: Path) -> Path:
    return backup / manifest_of(backup)["database"]


def record_file_as_is(backup: Path, relative: str) -> None:
    """Rewrite the manifest's size and sha256 of a file to what it is now (a consistent forgery)."""
    manifest = manifest_of(backup)
    for entry in manifest["files"]:
        if entry["path"] == relative:
            data = (backup / relative).read_bytes()
            entry["size"], entry["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    write_manifest(backup, manifest)


def no_manifest(backup):
    (backup / "manifest.json").unlink()
    return "manifest.json missing"


def corrupt_manifest(backup):
    text_ = (backup / "manifest.json").read_text(encoding="utf-8")
    (backup / "manifest.json").write_text(text_[: len(text_) // 2], encoding="utf-8")
    return "not valid JSON"


def manifest_not_an_object(backup):
    (backup / "manifest.json").write_text("[1, 2, 3]", encoding="utf-8")
    return "not a JSON object"


def old_manifest_without_checksums(backup):
    manifest = manifest_of(backup)
    manifest.pop("format")
    manifest["files"] = 1
    write_manifest(backup, manifest)
    return "make a new backup"


def database_file_missing(backup):  # the case that emptied the live database
    database_file(backup).unlink()
    return "is missing"


def database_file_truncated(backup):
    path = database_file(backup)
    path.write_bytes(path.read_bytes()[:1000])
    return "bytes, the manifest says"


def database_file_altered(backup):
    path = database_file(backup)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return "does not match its sha256"


def database_file_not_a_database(backup):
    path = database_file(backup)
    path.write_bytes(b"this is not a database" * 100)
    record_file_as_is(backup, path.name)
    return "not a readable"


def evidence_file_missing(backup):
    (backup / "objects" / EVIDENCE).unlink()
    return f"objects/{EVIDENCE} is missing"


def evidence_file_altered(backup):
    (backup / "objects" / EVIDENCE).write_bytes(b"%PDF-1.4 evidenc!")
    return "does not match its sha256"


def a_table_not_in_the_database_file(backup):
    manifest = manifest_of(backup)
    manifest["tables"]["ghost_table"] = 3
    write_manifest(backup, manifest)
    return "does not hold the table ghost_table"


def no_tables_of_this_app(backup):
    manifest = manifest_of(backup)
    manifest["tables"] = {}
    write_manifest(backup, manifest)
    return "not a backup of this app"


def a_file_outside_the_backup(backup):
    manifest = manifest_of(backup)
    manifest["files"].append({"path": "../../etc/passwd", "size": 1, "sha256": "0" * 64})
    write_manifest(backup, manifest)
    return "outside the backup"


def another_kind_of_database(backup):
    manifest = manifest_of(backup)
    manifest["dialect"] = "oracle"
    write_manifest(backup, manifest)
    return "this backup is of a oracle database"


CASES = [
    no_manifest,
    corrupt_manifest,
    manifest_not_an_object,
    old_manifest_without_checksums,
    database_file_missing,
    database_file_truncated,
    database_file_altered,
    database_file_not_a_database,
    evidence_file_missing,
    evidence_file_altered,
    a_table_not_in_the_database_file,
    no_tables_of_this_app,
    a_file_outside_the_backup,
    another_kind_of_database,
]


@pytest.mark.parametrize("damage", CASES, ids=[case.__name__ for case in CASES])
def test_a_broken_backup_is_refused_in_one_line_and_nothing_changes(live, damage):
    said = damage(live["backup"])
    for args in (["restore", str(live["backup"]), "--yes"], ["restore", str(live["backup"]), "--check"]):
        result = live["runner"].invoke(args=args)
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1 and said in result.output, result.output
        assert "Traceback" not in result.output and not isinstance(result.exception, (KeyError, TypeError, ValueError))
    assert fingerprint(live["uploads"]) == live["fingerprint"]


def test_a_backup_of_another_migration_revision_is_refused(live):
    # the live database moved on to another revision after the backup was made
    db.session.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    db.session.execute(text("INSERT INTO alembic_version VALUES ('0099')"))
    db.session.commit()
    before = fingerprint(live["uploads"])
    result = live["runner"].invoke(args=["restore", str(live["backup"]), "--yes"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "the backup is at migration none, the database at 0099" in result.output
    assert fingerprint(live["uploads"]) == before


def test_a_sound_backup_passes_the_check_and_restores(live):
    checked = live["runner"].invoke(args=["restore", str(live["backup"]), "--check"])
    assert checked.exit_code == 0 and "verified" in checked.output
    assert fingerprint(live["uploads"]) == live["fingerprint"]  # --check changes nothing
    assert manifest_of(live["backup"])["files"][0]["path"] == manifest_of(live["backup"])["database"]
    restored = live["runner"].invoke(args=["restore", str(live["backup"]), "--yes"])
    assert restored.exit_code == 0, restored.output
    counts, changed, files = fingerprint(live["uploads"])
    assert changed == 0 and counts["tasks"] == live["fingerprint"][0]["tasks"]
    assert dict(files)[EVIDENCE] == b"%PDF-1.4 evidence"


def test_a_file_store_out_of_reach_is_refused_before_anything_changes(live, monkeypatch):
    from tests.conftest import s3_settings

    for key, value in s3_settings("http://127.0.0.1:1", "nowhere").items():
        monkeypatch.setitem(live["app"].config, key, value)
    for args in (["restore", str(live["backup"]), "--yes"], ["restore", str(live["backup"]), "--check"]):
        result = live["runner"].invoke(args=args)
        assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
        assert "the file store cannot be reached" in result.output and "Traceback" not in result.output
    assert fingerprint(live["uploads"]) == live["fingerprint"]
