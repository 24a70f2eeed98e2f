"""No evidence file without its row, no row without its file: uploads reach their place only after
the commit; `flask evidence check [--repair]` finds and mends what a crash could leave."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker.extensions import db
from tracker.models import Evidence
from tracker.plans import evidence as evidence_service
from tracker.plans import stored_files

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HX = {"HX-Request": "true"}


@pytest.fixture
def uploads(app, monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(folder))
    return folder


@pytest.fixture
def task(make_task):
    return make_task("P11-QC", title="上交工作计划")


@pytest.fixture
def reporter(auth, make_user):
    return auth.login(make_user("reporter", "P11-QC"))


def upload(client, task, name="计划.pdf"):
    return client.post(
        f"/tasks/{task.id}/evidence",
        headers=HX,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(PDF), name), "note": ""},
    )


def everything_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def evidence_count(task) -> int:
    return db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id))


def test_an_upload_whose_commit_fails_leaves_no_file(client, reporter, task, uploads):
    def cut(_session):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    event.listen(Session, "before_commit", cut)
    try:
        response = upload(client, task)
    finally:
        event.remove(Session, "before_commit", cut)
    assert response.status_code == 503  # the database went away at the commit
    assert evidence_count(task) == 0
    assert everything_in(uploads) == []  # neither the file nor its temporary copy


def test_a_committed_upload_is_in_place_and_nothing_temporary_stays(client, reporter, task, uploads):
    assert upload(client, task).status_code == 200
    item = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()
    assert everything_in(uploads) == [item.stored_name]
    assert (uploads / item.stored_name).read_bytes() == PDF


def test_the_file_waits_for_the_commit_and_goes_with_a_rollback(task, reporter, uploads):
    evidence_service.add_file(task, reporter, io.BytesIO(PDF), "计划.pdf")
    [temp] = everything_in(uploads)
    assert temp.startswith(".") and temp.endswith(".part")  # not yet in place: the row is not committed
    db.session.rollback()
    assert everything_in(uploads) == []


def test_a_rolled_back_savepoint_takes_its_file_with_it(task, reporter, uploads):
    kept = evidence_service.add_file(task, reporter, io.BytesIO(PDF), "保留.pdf")
    savepoint = db.session.begin_nested()
    evidence_service.add_file(task, reporter, io.BytesIO(PDF), "撤销.pdf")
    savepoint.rollback()
    db.session.commit()
    assert everything_in(uploads) == [kept.stored_name]


def check(runner, *args):
    result = runner.invoke(args=["evidence", "check", *args])
    return result.exit_code, result.output


def test_evidence_check_reports_and_repairs_both_kinds(client, reporter, task, uploads, runner, monkeypatch):
    assert upload(client, task, "完好.pdf").status_code == 200
    # a crash between the commit and the move: the row committed, the file still under its temporary name
    with monkeypatch.context() as patch:
        patch.setattr(stored_files, "put_in_place", lambda *_a: (_ for _ in ()).throw(OSError("disk full")))
        assert upload(client, task, "未就位.pdf").status_code == 200
    unplaced = db.session.scalars(select(Evidence).where(Evidence.original_name == "未就位.pdf")).one()
    # a row whose file is gone for good, a file no row names, an upload that never committed
    lost = db.session.scalars(select(Evidence).where(Evidence.original_name == "完好.pdf")).one()
    assert upload(client, task, "丢失.pdf").status_code == 200
    gone = db.session.scalars(select(Evidence).where(Evidence.original_name == "丢失.pdf")).one()
    (uploads / gone.stored_name).unlink()
    (uploads / "0123456789abcdef0123456789abcdef").write_bytes(PDF)
    stale = uploads / ".feedfacefeedfacefeedfacefeedface.part"
    stale.write_bytes(PDF)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = uploads / ".beefbeefbeefbeefbeefbeefbeefbeef.part"  # an upload in progress: left alone
    fresh.write_bytes(PDF)

    code, said = check(runner)
    assert code == 1
    assert (
        f"missing: evidence {unplaced.id}: file {unplaced.stored_name} is not there (its temporary copy is intact"
        in said
    )
    assert f"missing: evidence {gone.id}: file {gone.stored_name} is not there (restore it from a backup)" in said
    assert "orphan: file 0123456789abcdef0123456789abcdef has no row" in said
    assert "stale: temporary file .feedfacefeedfacefeedfacefeedface.part" in said and "beefbeef" not in said

    code, said = check(runner, "--repair")
    assert code == 1  # the lost file cannot be repaired here
    assert f"repaired: evidence {unplaced.id}: file {unplaced.stored_name} put in place" in said
    assert "repaired: file 0123456789abcdef0123456789abcdef has no row: moved to orphaned/" in said
    assert "repaired: stale temporary file .feedfacefeedfacefeedfacefeedface.part deleted" in said
    assert (uploads / unplaced.stored_name).read_bytes() == PDF and (uploads / lost.stored_name).exists()
    assert (
        (uploads / "orphaned" / "0123456789abcdef0123456789abcdef").exists() and not stale.exists() and fresh.exists()
    )

    code, said = check(runner)
    assert code == 1 and said.count("missing:") == 1 and "orphan" not in said
    gone.stored_name = None  # say the row was mended by hand (e.g. the file re-attached as a new one)
    db.session.commit()
    code, said = check(runner)
    assert code == 0 and "all in order" in said
