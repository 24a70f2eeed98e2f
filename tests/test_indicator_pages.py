"""The indicator pages through the client: opening a period, filling in a form with inline
validation, approving, returning, Excel download and upload, completeness and aggregate pages."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import count_queries, unit
from tracker.extensions import db
from tracker.indicators import service
from tracker.indicators.service import open_period
from tracker.models import IndicatorForm, Plan, ReportingPeriod


@pytest.fixture(autouse=True)
def english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"


@pytest.fixture
def wz_coord(make_user):
    return make_user("coordinator", "WZ")


@pytest.fixture
def period(wz_coord):
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(plan, wz_coord, "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ"))
    db.session.commit()
    return period


def form_of(period, code):
    return db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit(code).id)
    )


def required_values(period, value="2") -> dict:
    return {f"v-{f.code}": value for f in service.layout_for(period).fields if f.required}


def test_a_coordinator_opens_a_period_from_the_plan_page(client, auth, wz_coord):
    auth.login(wz_coord)
    page = client.get("/indicators/plans/wuzhong-2016")
    assert page.status_code == 200 and "市级各专业质控中心数量" in page.text and "Open a reporting period" in page.text
    response = client.post(
        "/indicators/plans/wuzhong-2016",
        data={
            "kind": "year",
            "year": "2017",
            "number": "1",
            "due_on": "2017-11-10",
            "level": "county",
            "unit_kind": "",
            "under": "WZ",
        },
    )
    assert response.status_code == 303
    period = db.session.scalar(select(ReportingPeriod).where(ReportingPeriod.year == 2017))
    assert response.headers["Location"].endswith(f"/indicators/periods/{period.id}")
    assert service.form_count(period) == 5


def test_bad_period_input_rerenders_the_form_with_400(client, auth, wz_coord, period):
    auth.login(wz_coord)
    response = client.post(
        "/indicators/plans/wuzhong-2016",
        data={"kind": "half", "year": "2016", "number": "2", "due_on": "2016-12-12", "level": "county", "under": "WZ"},
    )
    assert response.status_code == 400 and "This period is already open for this level." in response.text
    response = client.post(
        "/indicators/plans/wuzhong-2016",
        data={"kind": "year", "year": "abc", "number": "1", "due_on": "", "level": "county", "under": "NOPE"},
    )
    assert response.status_code == 400 and "Open a reporting period" in response.text


def test_a_reporter_cannot_open_a_period(client, auth, make_user):
    auth.login(make_user("reporter", "WZ-LT"))
    response = client.post(
        "/indicators/plans/wuzhong-2016",
        data={"kind": "year", "year": "2017", "number": "1", "due_on": "2017-11-10", "level": "county", "under": "WZ"},
    )
    assert response.status_code == 403


def test_inline_validation_returns_every_message_slot_out_of_band(client, auth, make_user, period):
    form = form_of(period, "WZ-LT")
    auth.login(make_user("reporter", "WZ-LT"))
    response = client.post(
        f"/indicators/forms/{form.id}/check",
        data={"v-QC_CENTERS": "x", "v-REMOTE_CONSULTS": "10", "v-REMOTE_PATHOLOGY": "12"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert (
        '<div class="field-error small text-danger" id="err-QC_CENTERS" hx-swap-oob="true">&#39;x&#39; is not a number.</div>'
        in response.text
    )
    assert "Above its total, 年度开展远程会诊病例数量 (10)." in response.text
    assert 'id="err-EQA_ITEMS" hx-swap-oob="true"></div>' in response.text  # required only on submission
    assert "HX-Request" in response.headers["Vary"]


def test_saving_with_an_error_rerenders_the_form_with_400_and_keeps_what_was_typed(client, auth, make_user, period):
    form = form_of(period, "WZ-LT")
    auth.login(make_user("reporter", "WZ-LT"))
    response = client.post(
        f"/indicators/forms/{form.id}", data={"action": "save", "v-QC_CENTERS": "3", "v-EQA_ITEMS": "lots"}
    )
    assert response.status_code == 400
    assert "&#39;lots&#39; is not a number." in response.text and 'value="lots"' in response.text
    assert service.form_values(form).numbers == {}


def test_fill_submit_return_resubmit_approve(client, auth, make_user, period, wz_coord):
    form = form_of(period, "WZ-LT")
    reporter = make_user("reporter", "WZ-LT")
    auth.login(reporter)
    assert client.post(f"/indicators/forms/{form.id}", data={"action": "save", "v-QC_CENTERS": "3"}).status_code == 303
    response = client.post(f"/indicators/forms/{form.id}", data={"action": "submit", "v-QC_CENTERS": "3"})
    assert response.status_code == 400 and "Required." in response.text
    response = client.post(f"/indicators/forms/{form.id}", data=dict(required_values(period), action="submit"))
    assert response.status_code == 303
    assert client.get(f"/indicators/forms/{form.id}").text.count("readonly") > 60
    assert client.post(f"/indicators/forms/{form.id}/approve").status_code == 403  # not their own
    auth.login(wz_coord)
    page = client.get(f"/indicators/forms/{form.id}")
    assert 'id="review-panel"' in page.text
    assert client.post(f"/indicators/forms/{form.id}/return", data={"reason": ""}).status_code == 400
    assert client.post(f"/indicators/forms/{form.id}/return", data={"reason": "请补充病种编码"}).status_code == 303
    db.session.expire_all()
    assert form.status == "returned"
    auth.login(reporter)
    page = client.get(f"/indicators/forms/{form.id}")
    assert "请补充病种编码" in page.text and 'id="submit-form"' in page.text
    assert (
        client.post(f"/indicators/forms/{form.id}", data=dict(required_values(period), action="submit")).status_code
        == 303
    )
    auth.login(wz_coord)
    assert client.post(f"/indicators/forms/{form.id}/approve").status_code == 303
    db.session.expire_all()
    assert (form.status, form.task.status) == ("approved", "accepted")
    auth.login(reporter)
    response = client.post(f"/indicators/forms/{form.id}", data=dict(required_values(period, "9"), action="save"))
    assert response.status_code == 400 and "locked" in response.text


def test_another_county_does_not_see_the_form(client, auth, make_user, period):
    form = form_of(period, "WZ-LT")
    auth.login(make_user("reporter", "WZ-YC"))
    assert client.get(f"/indicators/forms/{form.id}").status_code == 404
    assert client.post(f"/indicators/forms/{form.id}", data={"v-QC_CENTERS": "1"}).status_code == 404


def test_excel_download_and_upload_through_the_pages(client, auth, make_user, period):
    form = form_of(period, "WZ-LT")
    auth.login(make_user("reporter", "WZ-LT"))
    download = client.get(f"/indicators/forms/{form.id}.xlsx")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(download.data))
    sheet = workbook["Form"]
    rows = {sheet.cell(r, 7).value: r for r in range(4, sheet.max_row + 1)}
    sheet.cell(rows["QC_CENTERS"], 5).value = "three"
    broken = io.BytesIO()
    workbook.save(broken)
    broken.seek(0)
    response = client.post(
        f"/indicators/forms/{form.id}/import", data={"file": (broken, "form.xlsx")}, content_type="multipart/form-data"
    )
    assert response.status_code == 400
    assert (
        f"Sheet &#39;Form&#39;, row {rows['QC_CENTERS']}, column E (Value): &#39;three&#39; is not a number."
        in response.text
    )
    sheet.cell(rows["QC_CENTERS"], 5).value = 3
    good = io.BytesIO()
    workbook.save(good)
    good.seek(0)
    response = client.post(
        f"/indicators/forms/{form.id}/import", data={"file": (good, "form.xlsx")}, content_type="multipart/form-data"
    )
    assert response.status_code == 303
    assert service.form_values(form).numbers["QC_CENTERS"] == 3


def test_the_period_page_shows_completeness_in_bounded_queries(client, auth, make_user, period, wz_coord):
    for code in ("WZ-LT", "WZ-YC"):
        service.save_form(form_of(period, code), make_user("reporter", code), required_values(period), submit=True)
    db.session.commit()
    auth.login(wz_coord)
    with count_queries() as statements:
        page = client.get(f"/indicators/periods/{period.id}")
    assert page.status_code == 200
    assert statements() <= 14
    assert 'id="completeness-chart"' in page.text
    total = page.text.split('id="completeness-total"')[1].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in total.split("</td>")[:8]] == [
        "Total",
        "5",
        "2",
        "0",
        "0",
        "3",
        "40.0 %",
        "0.0 %",
    ]
    fragment = client.get(
        f"/indicators/periods/{period.id}?status=submitted", headers={"HX-Request": "true", "HX-Target": "forms"}
    )
    assert fragment.text.startswith('\n<div id="forms">') or fragment.text.lstrip().startswith('<div id="forms">')
    assert fragment.text.count("/indicators/forms/") == 2


def test_the_aggregate_page_and_its_export(client, auth, make_user, period, wz_coord):
    for code, qc in (("WZ-LT", "3"), ("WZ-YC", "4")):
        service.save_form(
            form_of(period, code),
            make_user("reporter", code),
            dict(required_values(period), **{"v-QC_CENTERS": qc}),
            submit=True,
        )
    db.session.commit()
    auth.login(wz_coord)
    with count_queries() as statements:
        page = client.get(f"/indicators/periods/{period.id}/aggregate")
    assert page.status_code == 200 and statements() <= 12
    row = page.text.split('id="agg-QC_CENTERS"')[1].split("</tr>")[0]
    assert ">3<" in row and ">4<" in row and ">7<" in row
    export = client.get(f"/indicators/periods/{period.id}/aggregate.xlsx")
    sheet = load_workbook(io.BytesIO(export.data)).active
    assert sheet.cell(3, 5).value == "利通区卫生计生局"


def test_a_county_sees_only_its_own_subtree_on_the_period_page(client, auth, make_user, period):
    auth.login(make_user("reporter", "WZ-LT"))
    page = client.get(f"/indicators/periods/{period.id}?unit=WZ")
    assert page.status_code == 200 and "盐池县卫生计生局" not in page.text
    assert "利通区卫生计生局" in page.text


def test_the_index_lists_my_forms_and_plans(client, auth, make_user, period):
    auth.login(make_user("reporter", "WZ-LT"))
    page = client.get("/indicators")
    assert page.status_code == 200
    assert f"/indicators/forms/{form_of(period, 'WZ-LT').id}" in page.text
    assert "吴忠市关于做好2016-2017年度提升医疗质量相关工作实施方案" in page.text
