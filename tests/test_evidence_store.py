"""Evidence files and scheme documents in the S3-compatible object store (moto's server on
loopback, a bucket per test): uploaded through the task page and the API, put into the bucket
only once their row has committed, downloaded through the app after its scope check or by a
short-lived presigned address; a missing object or a store out of reach is a clear page, never
a 500."""

# ruff: noqa: F811  (the api_as fixture is imported from tests/api_support.py)

from __future__ import annotations

import io
import os
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.api_support import api_as  # noqa: F401
from tracker.extensions import db
from tracker.models import Evidence
from tracker.plans import evidence as evidence_service
from tracker.storage import S3Storage, storage

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + "整改报告".encode() * 2000
HX = {"HX-Request": "true"}


@pytest.fixture
def bucket(s3_app, tmp_path, monkeypatch) -> S3Storage:
    """The app's store: a bucket of its own; this machine's folder (temporary files only) empty."""
    monkeypatch.setitem(s3_app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    store = storage()
    assert isinstance(store, S3Storage)
    return store


@pytest.fixture
def task(make_task):
    return make_task("P11-QC", title="上交整改报告")


@pytest.fixture
def reporter(auth, make_user):
    return auth.login(make_user("reporter", "P11-QC"))


def upload(client, task, name="整改报告.pdf", data=PDF):
    return client.post(
        f"/tasks/{task.id}/evidence",
        headers=HX,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), name), "note": ""},
    )


def only_evidence(task) -> Evidence:
    return db.session.scalars(select(Evidence).where(Evidence.task_id == task.id)).one()


def local_files(app) -> list[str]:
    folder = Path(app.config["UPLOAD_DIR"])
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_an_upload_through_the_page_goes_into_the_bucket_and_downloads_whole(client, reporter, task, bucket, app):
    assert upload(client, task).status_code == 200
    item = only_evidence(task)
    assert list(bucket.sizes()) == [(item.stored_name, len(PDF))]
    assert local_files(app) == []  # the temporary copy is gone; nothing kept on this machine
    download = client.get(f"/evidence/{item.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Length"] == str(len(PDF))
    assert download.mimetype == "application/pdf"
    assert (
        "attachment" in download.headers["Content-Disposition"]
        and "filename*=UTF-8''" in download.headers["Content-Disposition"]
    )
    assert "no-store" in download.headers["Cache-Control"]


def test_an_upload_through_the_api_goes_into_the_bucket(client, auth, task, bucket, api_as, make_user):
    user = make_user("reporter", "P11-QC")
    api = api_as(user)
    answer = api.client.post(
        f"/api/v1/tasks/{task.id}/evidence",
        data={"file": (io.BytesIO(PDF), "接口上传.pdf"), "note": "经接口"},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert answer.status_code == 201, answer.json
    assert answer.json["size"] == len(PDF)
    item = db.session.get(Evidence, answer.json["id"])
    assert bucket.size(item.stored_name) == len(PDF)
    auth.login(user)
    assert client.get(f"/evidence/{item.id}").data == PDF


def test_size_and_type_are_checked_before_anything_reaches_the_bucket(client, reporter, task, bucket, app, monkeypatch):
    assert upload(client, task, "伪装.pdf", b"\x89PNG\r\n\x1a\n" + b"0" * 100).status_code == 422
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    assert upload(client, task, "太大.pdf", PDF + b"0" * (1024 * 1024)).status_code == 422
    assert list(bucket.names()) == [] and local_files(app) == []


def test_an_upload_whose_commit_fails_puts_nothing_into_the_bucket(client, reporter, task, bucket, app):
    def cut(_session):
        raise OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"))

    event.listen(Session, "before_commit", cut)
    try:
        assert upload(client, task).status_code == 503
    finally:
        event.remove(Session, "before_commit", cut)
    assert list(bucket.names()) == [] and local_files(app) == []


def test_an_upload_rolled_back_puts_nothing_into_the_bucket(task, reporter, bucket, app):
    evidence_service.add_file(task, reporter, io.BytesIO(PDF), "撤销.pdf")
    assert len(local_files(app)) == 1  # waiting on this machine for the commit
    db.session.rollback()
    assert list(bucket.names()) == [] and local_files(app) == []


def test_a_presigned_download_redirects_to_a_short_lived_address_of_the_object(
    client, reporter, task, bucket, app, monkeypatch
):
    assert upload(client, task).status_code == 200
    item = only_evidence(task)
    monkeypatch.setitem(app.config, "S3_PRESIGNED_SECONDS", 60)
    answer = client.get(f"/evidence/{item.id}")
    assert answer.status_code == 302 and answer.headers["Cache-Control"] == "no-store"
    address = answer.headers["Location"]
    assert address.startswith(app.config["S3_ENDPOINT_URL"]) and "Expires=" in address or "X-Amz-Expires=60" in address
    with urllib.request.urlopen(address, timeout=5) as response:
        assert response.read() == PDF
        assert "attachment" in response.headers["Content-Disposition"]
    unsigned = address.split("?", 1)[0]  # the object itself is not public
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 403


@pytest.mark.parametrize("presigned", [0, 60], ids=["streamed", "presigned"])
def test_another_units_user_gets_404_and_no_address(client, auth, task, bucket, app, make_user, monkeypatch, presigned):
    auth.login(make_user("reporter", "P11-QC"))
    assert upload(client, task).status_code == 200
    item = only_evidence(task)
    monkeypatch.setitem(app.config, "S3_PRESIGNED_SECONDS", presigned)
    auth.login(make_user("reporter", "P31-QC"))
    answer = client.get(f"/evidence/{item.id}")
    assert answer.status_code == 404 and "Location" not in answer.headers
    assert item.stored_name not in answer.get_data(as_text=True)
    auth.logout()
    assert client.get(f"/evidence/{item.id}").status_code in (302, 303)  # to the sign-in page
    assert "/login" in client.get(f"/evidence/{item.id}").headers["Location"]


@pytest.mark.parametrize("presigned", [0, 60], ids=["streamed", "presigned"])
def test_a_missing_object_answers_a_clear_404(client, reporter, task, bucket, app, monkeypatch, presigned):
    assert upload(client, task).status_code == 200
    item = only_evidence(task)
    bucket.delete(item.stored_name)
    monkeypatch.setitem(app.config, "S3_PRESIGNED_SECONDS", presigned)
    answer = client.get(f"/evidence/{item.id}")
    assert answer.status_code == 404 and "Location" not in answer.headers
    assert "文件存储中没有这个文件的内容" in answer.get_data(as_text=True)


def test_an_object_store_out_of_reach_answers_503_not_500(client, reporter, task, bucket, app, monkeypatch):
    assert upload(client, task).status_code == 200
    item = only_evidence(task)
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:1")
    for presigned in (0, 60):
        monkeypatch.setitem(app.config, "S3_PRESIGNED_SECONDS", presigned)
        answer = client.get(f"/evidence/{item.id}")
        assert answer.status_code == 503 and answer.headers["Retry-After"]
        assert "文件存储暂时无法访问" in answer.get_data(as_text=True)


def test_a_store_out_of_reach_at_the_commit_keeps_the_upload_for_the_repair(
    client, reporter, task, bucket, app, runner, monkeypatch
):
    endpoint = app.config["S3_ENDPOINT_URL"]
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:1")
    assert upload(client, task).status_code == 200  # the row committed; the put failed after it
    item = only_evidence(task)
    assert local_files(app) == [f".{item.stored_name}.part"]
    assert client.get(f"/evidence/{item.id}").status_code == 503
    down = runner.invoke(args=["evidence", "check"])
    assert down.exit_code == 1 and "cannot be reached" in down.output
    monkeypatch.setitem(app.config, "S3_ENDPOINT_URL", endpoint)
    assert client.get(f"/evidence/{item.id}").status_code == 404
    repaired = runner.invoke(args=["evidence", "check", "--repair"])
    assert f"file {item.stored_name} put in place" in repaired.output, repaired.output
    assert local_files(app) == [] and client.get(f"/evidence/{item.id}").data == PDF


def test_evidence_check_works_against_the_bucket(client, reporter, task, bucket, app, runner):
    assert upload(client, task, "完好.pdf").status_code == 200
    assert upload(client, task, "丢失.pdf").status_code == 200
    gone = db.session.scalars(select(Evidence).where(Evidence.original_name == "丢失.pdf")).one()
    bucket.delete(gone.stored_name)
    orphan = Path(app.config["UPLOAD_DIR"]) / "orphan.tmp"
    orphan.write_bytes(PDF)
    bucket.put_file("0123456789abcdef0123456789abcdef", orphan)
    stale = Path(app.config["UPLOAD_DIR"]) / ".feedfacefeedfacefeedfacefeedface.part"
    stale.write_bytes(PDF)
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    said = runner.invoke(args=["evidence", "check"]).output
    assert f"the bucket {bucket.bucket}" in said
    assert f"missing: evidence {gone.id}: file {gone.stored_name} is not there (restore it from a backup)" in said
    assert "orphan: file 0123456789abcdef0123456789abcdef has no row" in said and "stale: temporary file" in said
    assert "2 rows, 2 files" in said

    said = runner.invoke(args=["evidence", "check", "--repair"]).output
    assert "repaired: file 0123456789abcdef0123456789abcdef has no row: moved to orphaned/" in said
    kept = bucket.client.get_object(
        Bucket=bucket.bucket, Key=bucket.prefix + "orphaned/0123456789abcdef0123456789abcdef"
    )
    assert kept["Body"].read() == PDF and not stale.exists()
    assert bucket.size("0123456789abcdef0123456789abcdef") is None
    said = runner.invoke(args=["evidence", "check"]).output
    assert said.count("missing:") == 1 and "orphan" not in said


def test_a_schemes_document_goes_into_the_bucket_and_only_its_province_downloads_it(
    client, auth, bucket, make_user, app
):
    from tracker.models import Plan, Task
    from tracker.schemes import service as schemes

    national = db.session.scalar(select(Plan).where(Plan.key == "tumor-2021"))
    template = db.session.scalar(
        select(Task).where(Task.plan_id == national.id, Task.title == "制定印发本省份工作方案", ~Task.ref.contains("@"))
    )
    schemes.set_requirement(national, make_user("coordinator", "NHC"), template)
    beijing = make_user("coordinator", "P11")
    scheme = schemes.start_scheme(national, beijing, "北京市实施方案")
    db.session.commit()
    auth.login(beijing)
    sent = client.post(
        f"/schemes/{scheme.id}/document",
        data={"file": (io.BytesIO(PDF), "实施方案.pdf")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 303
    db.session.refresh(scheme)
    assert bucket.size(scheme.stored_name) == len(PDF) and local_files(app) == []
    download = client.get(f"/schemes/{scheme.id}/document")
    assert download.status_code == 200 and download.data == PDF
    auth.login(make_user("coordinator", "P12"))
    assert client.get(f"/schemes/{scheme.id}/document").status_code == 404
    auth.login(beijing)
    bucket.delete(scheme.stored_name)
    assert client.get(f"/schemes/{scheme.id}/document").status_code == 404


def test_healthz_tells_whether_the_bucket_answers(client, bucket, s3_app, monkeypatch):
    up = client.get("/healthz").get_json()
    assert up["status"] == "ok" and up["storage"] == {"ok": True, "backend": "s3"}
    monkeypatch.setitem(s3_app.config, "S3_BUCKET", "no-such-bucket-here")
    gone = client.get("/healthz")
    assert gone.status_code == 200  # the pages still work: the node stays in the pool
    assert gone.get_json()["status"] == "degraded" and gone.get_json()["storage"]["ok"] is False
    monkeypatch.setitem(s3_app.config, "S3_BUCKET", bucket.bucket)
    monkeypatch.setitem(s3_app.config, "S3_ENDPOINT_URL", "http://127.0.0.1:1")
    down = client.get("/healthz").get_json()
    assert down["storage"] == {"ok": False, "backend": "s3", "error": "unreachable"}
    assert "127.0.0.1" not in client.get("/healthz").get_data(as_text=True)  # no address in a public answer
