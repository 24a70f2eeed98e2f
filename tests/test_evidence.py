"""Evidence upload: content checked by bytes, size limit, empty files, Chinese names, nothing half-stored."""

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Evidence, JournalEntry

HX = {"HX-Request": "true"}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
def task(make_task):
    return make_task("P11-QC", title="上交工作计划")


@pytest.fixture
def reporter(auth, make_user):
    return auth.login(make_user("reporter", "P11-QC"))


def upload(client, task, content: bytes, name: str, headers=HX, note=""):
    return client.post(
        f"/tasks/{task.id}/evidence",
        headers=headers,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(content), name), "note": note},
    )


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_DIR"]).iterdir()] if Path(app.config["UPLOAD_DIR"]).exists() else []


def evidence_count(task) -> int:
    return db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id))


def test_a_pdf_with_a_chinese_name_round_trips(client, reporter, task, app):
    response = upload(client, task, PDF, "死亡病例抽查工作计划（北京）.pdf", note="盖章版")
    assert response.status_code == 200
    item = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()
    assert item.original_name == "死亡病例抽查工作计划（北京）.pdf"
    assert item.mime_type == "application/pdf" and item.size == len(PDF)
    assert len(item.sha256) == 64 and item.stored_name not in item.original_name
    assert "static" not in app.config["UPLOAD_DIR"]
    download = client.get(f"/evidence/{item.id}")
    assert download.status_code == 200 and download.data == PDF
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert quote("死亡病例抽查工作计划（北京）.pdf") in disposition
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(JournalEntry)
            .where(JournalEntry.task_id == task.id, JournalEntry.action == "evidence")
        )
        == 1
    )


def test_a_docx_is_accepted_by_its_content(client, reporter, task):
    assert upload(client, task, docx_bytes(), "方案.docx").status_code == 200


def test_a_renamed_executable_is_refused(client, reporter, task, app):
    before = set(stored_files(app))
    response = upload(client, task, b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "工作计划.pdf")
    assert response.status_code == 422
    assert "文件内容不是 PDF 文件" in response.get_data(as_text=True)
    assert evidence_count(task) == 0
    assert set(stored_files(app)) == before


def test_a_zip_renamed_to_docx_is_refused(client, reporter, task):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("evil.exe", "MZ")
    assert upload(client, task, buffer.getvalue(), "方案.docx").status_code == 422
    assert evidence_count(task) == 0


def test_a_file_over_the_limit_is_refused(client, reporter, task, app):
    before = set(stored_files(app))
    app.config["MAX_UPLOAD_MB"] = 1
    try:
        response = upload(client, task, PDF + b"0" * (1024 * 1024 + 10), "大文件.pdf")
    finally:
        app.config["MAX_UPLOAD_MB"] = 20
    assert response.status_code == 422
    assert "文件超过 1 MB" in response.get_data(as_text=True)
    assert evidence_count(task) == 0
    assert set(stored_files(app)) == before


def test_an_empty_file_is_refused(client, reporter, task):
    response = upload(client, task, b"", "空.pdf")
    assert response.status_code == 422 and "文件为空" in response.get_data(as_text=True)
    assert evidence_count(task) == 0


def test_an_unknown_extension_is_refused(client, reporter, task):
    response = upload(client, task, b"#!/bin/sh\n", "run.sh")
    assert response.status_code == 422 and "允许的文件类型" in response.get_data(as_text=True)


def test_a_path_in_the_file_name_is_dropped(client, reporter, task):
    upload(client, task, PDF, "../../etc/计划.pdf")
    item = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()
    assert item.original_name == "计划.pdf"


def test_a_request_over_the_server_limit_gets_a_readable_413(client, reporter, task, app):
    old = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = upload(client, task, PDF + b"0" * 5000, "大.pdf", headers={})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = old
    assert response.status_code == 413
    assert "文件过大" in response.get_data(as_text=True)


def test_evidence_is_superseded_not_deleted(client, reporter, task):
    upload(client, task, PDF, "初稿.pdf")
    first = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()
    client.post(
        f"/tasks/{task.id}/evidence",
        headers=HX,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(PDF), "定稿.pdf"), "supersedes": str(first.id)},
    )
    db.session.refresh(first)
    assert evidence_count(task) == 2
    assert first.superseded_by_id is not None


def test_another_units_user_cannot_upload_or_download(client, auth, make_user, reporter, task):
    upload(client, task, PDF, "计划.pdf")
    item = db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()
    auth.login(make_user("reporter", "P31-QC"))
    assert upload(client, task, PDF, "计划.pdf").status_code == 404
    assert client.get(f"/evidence/{item.id}").status_code == 404
    auth.login(make_user("leader", "NHC"))
    assert client.get(f"/evidence/{item.id}").status_code == 200
    assert upload(client, task, PDF, "计划.pdf").status_code == 403
