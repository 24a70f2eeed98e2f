"""Zip bombs in Office uploads: every path that opens a .docx or .xlsx looks at the archive first
(entry count, declared size, compression ratio, nested archives) and refuses with a message,
before python-docx or openpyxl inflate anything."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import unit
from tracker.extensions import db
from tracker.indicators.excel import ImportRefused, read_form
from tracker.indicators import service as indicators
from tracker.indicators.service import open_period
from tracker.models import IndicatorForm, Plan
from tracker.office_archive import ArchiveRefused, check_office_archive
from tracker.schemes import service as schemes

HX = {"HX-Request": "true"}


def office(kind: str = "docx", extra: dict[str, bytes] | None = None, entries: int = 0) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml" if kind == "docx" else "xl/workbook.xml", "<x/>")
        for index in range(entries):
            archive.writestr(f"word/media/{index}.xml", "<x/>")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def bomb(kind: str = "docx", megabytes: int = 150) -> bytes:
    """A small file declaring `megabytes` of zeros (deflate squeezes 1 MB of zeros to ~1 KB)."""
    return office(kind, {"word/bomb.xml" if kind == "docx" else "xl/bomb.xml": b"\0" * (megabytes * 1024 * 1024)})


def text(exc) -> str:
    with current_app.test_request_context(), force_locale("en"):
        return str(exc.args[0] if exc.args else exc)


CASES = {
    "ratio": (lambda: bomb(megabytes=20), "compressed more than"),
    "size": (lambda: bomb(megabytes=120), "unpacks to more than"),
    "entries": (lambda: office(entries=1200), "more than 1000 parts"),
    "nested by name": (lambda: office(extra={"word/embeddings/inner.xlsx": b"not really"}), "another archive"),
    "nested by content": (lambda: office(extra={"word/media/image1.png": office("xlsx")}), "another archive"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_check_refuses_each_kind_of_bomb(case):
    make, words = CASES[case]
    data = make()
    assert len(data) < 1024 * 1024
    with pytest.raises(ArchiveRefused) as info:
        check_office_archive(data)
    assert words in text(info.value)


def test_an_ordinary_office_file_and_a_non_zip_pass(app):
    check_office_archive(office())
    check_office_archive(office("xlsx", {"xl/sharedStrings.xml": "<sst>" + "<si><t>医院</t></si>" * 2000 + "</sst>"}))
    check_office_archive(b"plain text, not a zip")


def test_the_limits_are_configurable(app):
    data = office(entries=20)
    app.config["OFFICE_MAX_ENTRIES"] = 10
    try:
        with pytest.raises(ArchiveRefused):
            check_office_archive(data)
    finally:
        app.config["OFFICE_MAX_ENTRIES"] = 1000


def test_the_draft_importer_refuses_a_bomb_with_a_form_message(client, auth, make_user, app, tmp_path):
    app.config["DRAFT_DIR"] = str(tmp_path / "drafts")
    auth.login(make_user("coordinator", "P64"))
    with client.session_transaction() as session:
        session["lang"] = "en"
    response = client.post(
        "/drafts", content_type="multipart/form-data", data={"document": (io.BytesIO(bomb()), "方案.docx")}
    )
    assert response.status_code == 400
    assert "possible zip bomb" in response.get_data(as_text=True)
    assert not list((tmp_path / "drafts").glob("*.json"))


def test_the_indicator_form_import_refuses_a_bomb(client, auth, make_user):
    wz = make_user("coordinator", "WZ")
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(plan, wz, "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ"))
    db.session.commit()
    form = db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit("WZ-LT").id)
    )
    with current_app.test_request_context(), force_locale("en"), pytest.raises(ImportRefused) as info:
        read_form(form, indicators.layout_for(period), io.BytesIO(bomb("xlsx")), {})
    assert "possible zip bomb" in info.value.problems[0]
    auth.login(make_user("reporter", "WZ-LT"))
    with client.session_transaction() as session:
        session["lang"] = "en"
    response = client.post(
        f"/indicators/forms/{form.id}/import",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(bomb("xlsx")), "form.xlsx")},
    )
    assert response.status_code == 400 and "possible zip bomb" in response.get_data(as_text=True)


def test_evidence_refuses_a_bomb_and_stores_nothing(client, auth, make_user, make_task):
    task = make_task("P11-QC")
    auth.login(make_user("reporter", "P11-QC"))
    with client.session_transaction() as session:
        session["lang"] = "en"
    for kind in ("docx", "xlsx"):
        response = client.post(
            f"/tasks/{task.id}/evidence",
            headers=HX,
            content_type="multipart/form-data",
            data={"file": (io.BytesIO(bomb(kind)), f"材料.{kind}"), "note": ""},
        )
        assert response.status_code == 422 and "possible zip bomb" in response.get_data(as_text=True)
    ok = client.post(
        f"/tasks/{task.id}/evidence",
        headers=HX,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(office()), "材料.docx"), "note": ""},
    )
    assert ok.status_code == 200


def test_a_scheme_document_is_checked_the_same_way(make_user):
    national = db.session.scalar(select(Plan).where(Plan.key == "tumor-2021"))
    beijing = make_user("coordinator", "P11")
    scheme = schemes.start_scheme(national, beijing, "北京市实施方案", "", date(2021, 10, 20))
    with pytest.raises(schemes.SchemeError) as info:
        schemes.upload_document(scheme, beijing, io.BytesIO(bomb()), "实施方案.docx")
    assert "zip bomb" in text(info.value)
    assert scheme.stored_name is None


def test_a_users_or_units_sheet_that_is_a_bomb_is_refused_before_openpyxl_reads_it():
    """tracker/sheets.py (the users import, and any sheet import built on it) checks the archive
    first: a named refusal, not openpyxl inflating 150 MB."""
    from tracker.sheets import Column, SheetRefused, read_table

    with pytest.raises(SheetRefused) as refused:
        read_table("users.xlsx", bomb("xlsx"), [Column("username", "用户名")])
    assert len(refused.value.problems) == 1 and "zip bomb" in refused.value.problems[0]
