"""Two users change the same task at the same moment on PostgreSQL: one wins, the other is
refused as stale (409 in the UI), and nothing of the winner's change is lost."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import scoped_session, sessionmaker

from conftest import requires_postgresql
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent


def test_two_coordinators_edit_the_same_task_at_once(scratch_database_url, monkeypatch):
    requires_postgresql(scratch_database_url, "concurrent writers: the PostgreSQL case (SQLite serialises writers)")
    committed_database = scratch_database_url
    from tracker import create_app
    from tracker.auth.service import create_user
    from tracker.config import TestConfig
    from tracker.importer.seed import load_seed_files
    from tracker.models import JournalEntry, Task, User
    from tracker.plans.operations import StaleVersion, edit_task
    from sqlalchemy.orm.exc import StaleDataError

    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=committed_database)
    with app.app_context():
        monkeypatch.setattr(db, "session", scoped_session(sessionmaker(bind=db.engine), scopefunc=threading.get_ident))
        db.create_all()
        load_seed_files([ROOT / "seed_plans" / "units.yaml", ROOT / "seed_plans" / "001_ncc_qc_2024.yaml"])
        create_user("coord-a", "password-123", "coordinator", "P11")
        create_user("coord-b", "password-123", "coordinator", "P11")
        db.session.commit()
        task = db.session.scalar(select(Task).where(Task.ref.like("%@P11-QC")).order_by(Task.id))
        task_id, version = task.id, task.version
        db.session.remove()

        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def edit(username: str, title: str) -> None:
            with app.app_context():
                try:
                    user = db.session.scalar(select(User).where(User.username == username))
                    mine = db.session.get(Task, task_id)
                    barrier.wait()
                    edit_task(mine, user, {"title": title}, expected_version=version)
                    db.session.commit()
                    outcomes[username] = "saved"
                except (StaleVersion, StaleDataError):
                    db.session.rollback()
                    outcomes[username] = "stale"
                finally:
                    db.session.remove()

        threads = [
            threading.Thread(target=edit, args=("coord-a", "甲的标题")),
            threading.Thread(target=edit, args=("coord-b", "乙的标题")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes.values()) == ["saved", "stale"], outcomes
        winner = "甲的标题" if outcomes["coord-a"] == "saved" else "乙的标题"
        final = db.session.get(Task, task_id)
        assert final.title == winner and final.version == version + 1
        journal = db.session.scalars(
            select(JournalEntry.new_value).where(JournalEntry.task_id == task_id, JournalEntry.field == "title")
        ).all()
        assert journal == [winner]  # only the winner's change was journaled
        db.session.remove()
        db.engine.dispose()
