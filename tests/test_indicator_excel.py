"""Excel in the annex layout: export an empty form, fill it with openpyxl, import it, read back
the same values; a broken file is refused with a precise message and nothing is stored."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask_babel import force_locale
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.conftest import unit
from tracker.extensions import db
from tracker.indicators import excel, service
from tracker.indicators.aggregate import aggregate
from tracker.indicators.service import FormLocked, open_period
from tracker.models import IndicatorForm, IndicatorValue, Plan


@pytest.fixture(autouse=True)
def english(app):
    with app.test_request_context(), force_locale("en"):
        yield


@pytest.fixture
def form(make_user):
    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(
        plan, make_user("coordinator", "WZ"), "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ")
    )
    db.session.commit()
    return db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit("WZ-LT").id)
    )


@pytest.fixture
def reporter(make_user):
    return make_user("reporter", "WZ-LT")


def export(form) -> bytes:
    layout = service.layout_for(form.period)
    values = service.with_rates(layout, service.form_values(form))
    return excel.export_form(form, layout, values, "2016 second half").read()


def rows_by_code(sheet) -> dict[str, int]:
    return {sheet.cell(row, 7).value: row for row in range(4, sheet.max_row + 1) if sheet.cell(row, 7).value}


def fill(data: bytes, values: dict[str, object], items: dict[str, object] = (), extra_sheet: str = "") -> io.BytesIO:
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook["Form"]
    rows = rows_by_code(sheet)
    for code, value in values.items():
        sheet.cell(rows[code], 5).value = value
    for code, value in dict(items).items():
        sheet.cell(rows[code], 6).value = value
    if extra_sheet:
        workbook.create_sheet(extra_sheet)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def stored_count(form) -> int:
    return db.session.scalar(select(func.count()).select_from(IndicatorValue).where(IndicatorValue.form_id == form.id))


def test_the_exported_form_has_the_annex_layout(form):
    sheet = load_workbook(io.BytesIO(export(form)))["Form"]
    assert sheet["A1"].value == "吴忠市关于做好2016-2017年度提升医疗质量相关工作实施方案"
    assert "利通区卫生计生局" in sheet["A2"].value and sheet["G2"].value == "form:WZ-LT:2016H2:county"
    assert [c.value for c in sheet[3]] == [
        "Category",
        "Indicator",
        "Of which",
        "Unit",
        "Value",
        "Disease / technique (code)",
        "Code",
    ]
    rows = rows_by_code(sheet)
    assert len(rows) == 66
    merged = {str(r) for r in sheet.merged_cells.ranges}
    first, last = rows["QC_CENTERS"], rows["GRASSROOTS_TRAINING"]
    assert f"A{first}:A{last}" in merged  # the group cell spans its rows
    assert sheet.cell(first, 1).value == "医疗质量管理与控制体系建设"
    consults = rows["REMOTE_CONSULTS"]
    assert f"B{consults}:B{consults + 2}" in merged  # 其中 … rows beside their total
    assert sheet.cell(rows["REMOTE_PATHOLOGY"], 3).value == "其中远程病理会诊病例数量"
    assert sheet.cell(rows["DS_CASES_L3"], 3).value == "三级医院"
    assert sheet.cell(rows["DS_TOP_COST_1"], 4).value == "元"
    assert sheet.cell(rows["DS_FOLLOW_UP_RATE"], 4).value == "%"
    assert sheet.cell(consults, 5).value is None


def test_an_excel_round_trip_reads_back_the_same_values(form, reporter):
    filled = fill(
        export(form),
        {
            "QC_CENTERS": 3,
            "EQA_ITEMS": "12",
            "REMOTE_CONSULTS": 100,
            "REMOTE_PATHOLOGY": 30,
            "DS_FOLLOW_UP_RATE": 96.5,
            "DS_TOP_COST_1": 1234.5,
            "DOWN_REFERRAL_RATE_1": 12,
        },
        items={"DOWN_REFERRAL_RATE_1": "I10", "DS_TOP_COST_1": "腹股沟疝修补术"},
    )
    excel.import_form(form, reporter, filled)
    db.session.commit()
    values = service.form_values(form)
    assert {k: v for k, v in values.numbers.items() if v is not None} == {
        "QC_CENTERS": 3,
        "EQA_ITEMS": 12,
        "REMOTE_CONSULTS": 100,
        "REMOTE_PATHOLOGY": 30,
        "DS_FOLLOW_UP_RATE": 96.5,
        "DS_TOP_COST_1": 1234.5,
        "DOWN_REFERRAL_RATE_1": 12,
    }
    assert values.items == {"DOWN_REFERRAL_RATE_1": "I10", "DS_TOP_COST_1": "腹股沟疝修补术"}
    assert form.task.status == "in_progress"
    # exported again, the file carries what was imported
    sheet = load_workbook(io.BytesIO(export(form)))["Form"]
    rows = rows_by_code(sheet)
    assert (
        sheet.cell(rows["QC_CENTERS"], 5).value,
        sheet.cell(rows["DS_TOP_COST_1"], 5).value,
        sheet.cell(rows["DOWN_REFERRAL_RATE_1"], 6).value,
    ) == (3, 1234.5, "I10")


def test_text_in_a_number_cell_is_refused_with_sheet_row_and_column(form, reporter):
    data = export(form)
    row = rows_by_code(load_workbook(io.BytesIO(data))["Form"])["EQA_ITEMS"]
    with pytest.raises(excel.ImportRefused) as refused:
        excel.import_form(form, reporter, fill(data, {"QC_CENTERS": 3, "EQA_ITEMS": "十二"}))
    assert refused.value.problems == [f"Sheet 'Form', row {row}, column E (Value): '十二' is not a number."]
    db.session.rollback()
    assert stored_count(form) == 0


def test_an_unknown_sheet_is_refused_and_nothing_stored(form, reporter):
    with pytest.raises(excel.ImportRefused) as refused:
        excel.import_form(form, reporter, fill(export(form), {"QC_CENTERS": 3}, extra_sheet="Sheet2"))
    assert refused.value.problems == ["Unknown sheet 'Sheet2': the workbook must hold only the sheet 'Form'."]
    db.session.rollback()
    assert stored_count(form) == 0


def test_every_broken_cell_is_named_and_breakdown_rules_apply(form, reporter):
    data = export(form)
    rows = rows_by_code(load_workbook(io.BytesIO(data))["Form"])
    with pytest.raises(excel.ImportRefused) as refused:
        excel.import_form(
            form,
            reporter,
            fill(
                data,
                {"REMOTE_CONSULTS": 10, "REMOTE_PATHOLOGY": 12, "DS_FOLLOW_UP_RATE": 130},
                items={"DOWN_REFERRAL_RATE_1": "高血压"},
            ),
        )
    assert refused.value.problems == [
        f"Sheet 'Form', row {rows['REMOTE_PATHOLOGY']}, column E (Value): Above its total, 年度开展远程会诊病例数量 (10).",
        f"Sheet 'Form', row {rows['DOWN_REFERRAL_RATE_1']}, column F (Disease / technique (code)): '高血压' is not a valid ICD10 code (for example I63.9).",
        f"Sheet 'Form', row {rows['DS_FOLLOW_UP_RATE']}, column E (Value): A percentage lies between 0 and 100.",
    ]
    db.session.rollback()
    assert stored_count(form) == 0


def test_another_units_file_and_a_non_excel_file_are_refused(form, reporter, make_user):
    data = export(form)
    other = db.session.scalar(
        select(IndicatorForm).where(
            IndicatorForm.period_id == form.period_id, IndicatorForm.unit_id == unit("WZ-YC").id
        )
    )
    with pytest.raises(excel.ImportRefused) as refused:
        excel.import_form(other, make_user("reporter", "WZ-YC"), fill(data, {"QC_CENTERS": 1}))
    assert refused.value.problems == [
        "Sheet 'Form', row 2, column G (Code): this file is not the form of 盐池县卫生计生局 for 2016H2."
    ]
    with pytest.raises(excel.ImportRefused, match="not an Excel workbook"):
        excel.import_form(form, reporter, io.BytesIO(b"QC_CENTERS,3\n"))


def test_an_approved_form_refuses_an_import(form, reporter, make_user):
    service.save_form(
        form,
        reporter,
        {"v-QC_CENTERS": "3", **{f"v-{f.code}": "1" for f in service.layout_for(form.period).fields if f.required}},
        submit=True,
    )
    service.approve_form(form, make_user("coordinator", "WZ"))
    with pytest.raises(FormLocked):
        excel.import_form(form, reporter, fill(export(form), {"QC_CENTERS": 9}))


def test_the_aggregate_table_exports_with_units_across(form, reporter, make_user):
    required = {f"v-{f.code}": "2" for f in service.layout_for(form.period).fields if f.required}
    service.save_form(form, reporter, dict(required, **{"v-QC_CENTERS": "3"}), submit=True)
    db.session.commit()
    table = aggregate(form.period, unit("WZ"))
    sheet = load_workbook(io.BytesIO(excel.export_aggregate(table, "2016 second half").read()))["Aggregate"]
    assert [c.value for c in sheet[3]] == ["Category", "Indicator", "Unit", "Target", "利通区卫生计生局", "Total"]
    codes = [r.field.code for r in table.rows]
    row = 4 + codes.index("QC_CENTERS")
    assert (sheet.cell(row, 2).value, sheet.cell(row, 3).value, sheet.cell(row, 5).value, sheet.cell(row, 6).value) == (
        "市级各专业质控中心数量",
        "个",
        3,
        3,
    )
