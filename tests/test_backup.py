"""`flask backup` / `flask restore` round trip (SQLite; PostgreSQL with pg_dump), and /healthz."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import scoped_session, sessionmaker

from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent


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
        (uploads / "2024").mkdir(parents=True)
        (uploads / "2024" / "证据.pdf").write_bytes(b"%PDF-1.4 evidence")
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
        (uploads / "2024" / "证据.pdf").unlink()
        db.session.remove()
        again = runner.invoke(args=["backup", str(tmp_path / "bak")])
        assert again.exit_code != 0 and "not empty" in again.output
        restored = runner.invoke(args=["restore", str(tmp_path / "bak"), "--yes"])
        assert restored.exit_code == 0, restored.output
        assert db.session.scalar(select(func.count()).select_from(Task)) == tasks_before
        assert db.session.scalar(select(func.count()).select_from(Task).where(Task.title == "damaged")) == 0
        assert db.session.scalar(select(Plan.key)) == "wuzhong-2016"
        assert (uploads / "2024" / "证据.pdf").read_bytes() == b"%PDF-1.4 evidence"
        # another history than the one pages were cached of: the summary waits for a rebuild
        assert db.session.get(ProgressState, 1).as_of is None
        missing = runner.invoke(args=["restore", str(tmp_path), "--yes"])
        assert missing.exit_code != 0 and "no backup" in missing.output
        db.session.remove()
        db.engine.dispose()


def test_healthz_reports_database_and_scheduler(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"]["ok"] is True
    assert set(body["scheduler"]) >= {"job", "next_run", "last_escalation", "ok"}
