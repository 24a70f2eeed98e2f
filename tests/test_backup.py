"""`flask backup` / `flask restore` round trip (SQLite; PostgreSQL with pg_dump), and /healthz."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE = "5e1d0c0ffee5e1d0c0ffee5e1d0c0ffe.pdf"


def test_backup_and_restore_round_trip(scratch_database_url, tmp_path, monkeypatch):
    from tracker.importer.seed import load_seed_files
    from tracker.models import Plan, Task

    uploads = tmp_path / "uploads"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url, UPLOAD_DIR=str(uploads))
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine)))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml", ROOT / "seed_plans" / "004_wuzhong_2016.yaml"])
        db.session.commit()
        uploads.mkdir(parents=True)
        (uploads / EVIDENCE).write_bytes(b"%PDF-1.4 evidence")
        tasks_before = db.session.scalar(select(func.count()).select_from(Task))
        from tracker.models import ProgressState
        from tracker.progress.summary import rebuild
        from tracker.timeutil import local_today

        rebuild(local_today())
        db.session.commit()
        runner = app.test_cli_runner()
        saved = runner.invoke(args=["backup", str(tmp_path / "bak")])
        assert saved.exit_code == 0, saved.output
        assert "1 files" in saved.output
        # damage: every task's title overwritten, the journal emptied, an evidence file lost
        db.session.execute(text("UPDATE tasks SET title = 'damaged'"))
        db.session.execute(text("DELETE FROM journal_entries"))
        db.session.commit()
        (uploads / EVIDENCE).unlink()
        db.session.remove()
        again = runner.invoke(args=["backup", str(tmp_path / "bak")])
        assert again.exit_code != 0 and "not empty" in again.output
        restored = runner.invoke(args=["restore", str(tmp_path / "bak"), "--yes"])
        assert restored.exit_code == 0, restored.output
        assert db.session.scalar(select(func.count()).select_from(Task)) == tasks_before
        assert db.session.scalar(select(func.count()).select_from(Task).where(Task.title == "damaged")) == 0
        assert db.session.scalar(select(Plan.key)) == "wuzhong-2016"
        assert (uploads / EVIDENCE).read_bytes() == b"%PDF-1.4 evidence"
        # another history than the one pages were cached of: the summary waits for a rebuild
        assert db.session.get(ProgressState, 1).as_of is None
        missing = runner.invoke(args=["restore", str(tmp_path), "--yes"])
        assert missing.exit_code != 0 and "no backup" in missing.output
        db.session.remove()
        db.engine.dispose()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(params=["local", "s3"])
def live_app(request, scratch_database_url, tmp_path, monkeypatch):
    """An app on a database of its own with two evidence files uploaded the app's way, its store
    the folder or a bucket on the loopback S3 server."""
    from tracker.auth.service import create_user
    from tracker.importer.seed import load_seed_files
    from tracker.models import OrgUnit, Plan, Task
    from tracker.plans.evidence import add_file

    settings = {"UPLOAD_DIR": str(tmp_path / "uploads")}
    if request.param == "s3":
        settings.update(request.getfixturevalue("s3_bucket"))
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url, **settings)
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine)))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml"])
        plan = Plan(
            key="store-backup",
            title="备份测试计划",
            issuer_unit=db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC")),
        )
        owner = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "P11-QC"))
        task = Task(plan=plan, ref="B-1", title="上交报告", depth=0, path="/", owner_unit=owner)
        db.session.add(task)
        reporter = create_user("backup-reporter", "backup-pass-2026", "reporter", "P11-QC")
        db.session.commit()
        files = {}
        for name, content in (("报告.pdf", PDF + b"1" * 5000), ("附件.pdf", PDF + b"2" * 7)):
            item = add_file(task, reporter, io.BytesIO(content), name)
            db.session.commit()  # put into the store now
            files[item.stored_name] = content
        yield {"app": app, "runner": app.test_cli_runner(), "files": files, "backend": request.param}
        db.session.remove()
        db.engine.dispose()


def test_a_backup_holds_every_object_and_a_restore_puts_a_lost_one_back(live_app, tmp_path):
    from tracker.storage import storage

    runner, files = live_app["runner"], live_app["files"]
    store = storage()
    assert sorted(store.names()) == sorted(files)
    saved = runner.invoke(args=["backup", str(tmp_path / "bak")])
    assert saved.exit_code == 0 and "and 2 files" in saved.output and "warning" not in saved.output, saved.output
    manifest = json.loads((tmp_path / "bak" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format"] == 3 and manifest["objects"] == 2
    entries = {e["path"]: e for e in manifest["files"]}
    for name, content in files.items():
        entry = entries[f"objects/{name}"]
        assert entry["size"] == len(content) and entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert (tmp_path / "bak" / "objects" / name).read_bytes() == content
    # damage: one object lost, one uploaded after the backup
    lost = next(iter(files))
    store.delete(lost)
    later = Path(live_app["app"].config["UPLOAD_DIR"]) / "later.part"
    later.write_bytes(PDF)
    store.put_file("0123456789abcdef0123456789abcdef", later)
    restored = runner.invoke(args=["restore", str(tmp_path / "bak"), "--yes"])
    assert restored.exit_code == 0, restored.output
    assert "and 1 files (1 more were in the store as saved)" in restored.output
    with store.open(lost) as back:
        assert back.read() == files[lost]
    assert sorted(store.names()) == sorted([*files, "0123456789abcdef0123456789abcdef"])  # the later one stays
    again = runner.invoke(args=["restore", str(tmp_path / "bak"), "--yes", "--all-objects"])
    assert again.exit_code == 0 and "and 2 files (0 more" in again.output, again.output
    check = runner.invoke(args=["evidence", "check"])
    assert "orphan: file 0123456789abcdef0123456789abcdef" in check.output and "missing" not in check.output


def test_a_backup_warns_of_rows_whose_object_is_not_in_the_store(live_app, tmp_path):
    from tracker.storage import storage

    lost = next(iter(live_app["files"]))
    storage().delete(lost)
    saved = live_app["runner"].invoke(args=["backup", str(tmp_path / "bak")])
    assert saved.exit_code == 0 and "and 1 files" in saved.output
    assert "warning: 1 rows name a file the store does not hold" in saved.output


def test_a_backup_of_the_format_before_puts_its_uploads_into_the_store(live_app, tmp_path):
    """Format 2 saved the folder UPLOAD_DIR under uploads/: its stored files go into the store."""
    from tracker.storage import storage

    runner, files = live_app["runner"], live_app["files"]
    assert runner.invoke(args=["backup", str(tmp_path / "bak")]).exit_code == 0
    backup = tmp_path / "bak"
    shutil.move(backup / "objects", backup / "uploads")
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    manifest["format"] = 2
    for entry in manifest["files"]:
        entry["path"] = entry["path"].replace("objects/", "uploads/")
    (backup / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name in files:
        storage().delete(name)
    restored = runner.invoke(args=["restore", str(backup), "--yes"])
    assert restored.exit_code == 0 and "and 2 files" in restored.output, restored.output
    assert sorted(storage().names()) == sorted(files)


def test_a_backup_of_the_folder_restores_into_a_bucket(live_app, tmp_path, monkeypatch, request):
    """Moving from one machine's folder to the object store: back up, set the S3 settings, restore."""
    from tracker.storage import S3Storage, storage

    if live_app["backend"] != "local":
        pytest.skip("from the folder")
    runner, files = live_app["runner"], live_app["files"]
    assert runner.invoke(args=["backup", str(tmp_path / "bak")]).exit_code == 0
    for key, value in request.getfixturevalue("s3_bucket").items():
        monkeypatch.setitem(live_app["app"].config, key, value)
    restored = runner.invoke(args=["restore", str(tmp_path / "bak"), "--yes"])
    assert restored.exit_code == 0 and "and 2 files" in restored.output, restored.output
    assert isinstance(storage(), S3Storage) and sorted(storage().names()) == sorted(files)
    assert "all in order" in runner.invoke(args=["evidence", "check"]).output


def test_a_backup_stops_in_one_line_when_the_store_is_out_of_reach(live_app, tmp_path, monkeypatch):
    if live_app["backend"] != "s3":
        pytest.skip("a folder is always there")
    monkeypatch.setitem(live_app["app"].config, "S3_ENDPOINT_URL", "http://127.0.0.1:1")
    saved = live_app["runner"].invoke(args=["backup", str(tmp_path / "bak")])
    assert saved.exit_code == 1 and "the file store could not be copied" in saved.output
    assert len(saved.output.strip().splitlines()) == 1 and "Traceback" not in saved.output


def test_healthz_reports_database_and_scheduler(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert set(body["scheduler"]) >= {"job", "next_run", "last_escalation", "ok"}
    assert body["storage"] == {"ok": True, "backend": "local"}


def test_healthz_says_degraded_when_the_upload_folder_is_not_writable(client, app, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"  # a file where the folder should be made (root may write anywhere else)
    blocked.write_text("x")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(blocked / "uploads"))
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["storage"] == {"ok": False, "backend": "local", "error": "not_writable"}
    assert str(tmp_path) not in response.get_data(as_text=True)
