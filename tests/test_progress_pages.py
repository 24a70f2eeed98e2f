"""Progress pages and exports: scoped, fragment vs page, bounded statements, real Excel types."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from conftest import count_queries
from test_progress import TODAY, plan_tree  # noqa: F401  (the hand-built plan)
from tracker.extensions import db
from tracker.models import Task

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    import tracker.progress.routes as routes

    monkeypatch.setattr(routes, "local_today", lambda: TODAY)


def test_the_matrix_page_and_its_drill_down_fragment(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    page = client.get("/progress/progress-plan")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in text and 'data-unit="P11"' in text and 'data-unit="P31"' in text
    assert 'data-completion="25.0"' in text  # Shanghai's section 一
    fragment = client.get("/progress/progress-plan?unit=P11", headers={**HX, "HX-Target": "matrix"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'data-unit="P11-QC"' in body and 'data-unit="P31"' not in body
    by_phase = client.get("/progress/progress-plan?by=phases").get_data(as_text=True)
    assert "启动阶段" in by_phase and "实施阶段" in by_phase


def test_a_province_cannot_open_another_provinces_matrix(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("coordinator", "P11"))
    assert client.get("/progress/progress-plan?unit=P31").status_code == 404
    own = client.get("/progress/progress-plan").get_data(as_text=True)
    assert 'data-unit="P11-QC"' in own and 'data-unit="P31' not in own
    assert client.get("/progress/progress-plan?unit=NOPE").status_code == 404
    assert client.get("/progress/no-such-plan").status_code == 404


def test_progress_pages_run_a_bounded_number_of_statements_whatever_the_units(
    client, auth, make_user, make_task, plan_tree
):  # noqa: F811
    _, s1, _, _ = plan_tree
    section_id = s1.id
    auth.login(make_user("leader", "NHC"))
    pages = [
        "/progress/progress-plan",
        "/progress/progress-plan/phases",
        "/ranking",
        "/leadership",
        "/progress/progress-plan/timeline",
    ]  # the new tasks are overdue: the timeline lists them
    client.get("/plans")  # warm up (first request of the session)
    before = {}
    for url in pages:
        db.session.expunge_all()  # each request starts with an empty session, as in production
        with count_queries() as n:
            assert client.get(url).status_code == 200
        before[url] = n()
    section = db.session.get(Task, section_id)
    # owned below the rows of the matrix (a province's QC centre): no page may load them one by one
    for code in ("P12-QC", "P13-QC", "P14-QC", "P15-QC", "P21-QC", "P22-QC", "P23-QC", "P32-QC", "P33-QC", "P34-QC"):
        make_task(code, plan_key="progress-plan", parent=section, due_on=date(2024, 5, 5))
    for url in pages:
        db.session.expunge_all()
        with count_queries() as n:
            client.get(url)
        assert n() == before[url], url


def test_phase_page_and_leadership_screen(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    phases = client.get("/progress/progress-plan/phases").get_data(as_text=True)
    assert 'data-phase="startup"' in phases and 'data-chart="burnup-startup-option"' in phases
    assert "echarts.min.js" in phases
    leadership = client.get("/leadership").get_data(as_text=True)
    assert 'data-plan="progress-plan"' in leadership and 'id="behind"' in leadership
    assert "@media print" in client.get("/static/app.css").get_data(as_text=True)
    assert client.get("/vendor/echarts.min.js").status_code == 200


def test_ranking_page(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    text = client.get("/ranking?plan=progress-plan").get_data(as_text=True)
    assert text.index('data-unit="P11"') < text.index('data-unit="P31"')


def test_matrix_excel_has_headers_types_and_values(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    response = client.get("/progress/progress-plan/matrix.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header_index = next(i for i, r in enumerate(rows) if r[0] == "单位")
    assert rows[header_index][:4] == ("单位", "部分", "工作项", "已完成")
    assert sheet.freeze_panes == f"A{header_index + 2}"
    shanghai = next(r for r in rows if r[0] == "上海市卫生健康委" and r[1].startswith("一"))
    assert shanghai[2] == 2 and isinstance(shanghai[2], int) and shanghai[7] == 25.0
    total = rows[-1]
    assert total[1] == "合计" and total[2] == 5 and total[7] == 61.7


def test_task_list_exports_excel_with_real_dates_and_csv(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    response = client.get("/tasks/export.xlsx?plan=progress-plan&status=accepted")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[1]
    assert header[:5] == ("计划", "编号", "标题", "责任单位", "截止")
    data = rows[2:]
    assert len(data) == 2 and all(r[5] == "已通过" for r in data)
    due = {r[1]: r[4] for r in data}
    assert due["一.1"].date() == date(2024, 4, 30)  # a real date cell, not text
    text = client.get("/tasks/export.csv?plan=progress-plan").data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][0] == "计划" and len(lines) == 1 + 8  # the two section headings and six tasks
    scoped = make_user("reporter", "P31-QC")
    auth.login(scoped)
    text = client.get("/tasks/export.csv?plan=progress-plan").data.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(text)))) == 2  # only Shanghai QC's own task


def test_phase_and_ranking_exports(client, auth, make_user, plan_tree):  # noqa: F811
    auth.login(make_user("leader", "NHC"))
    sheet = load_workbook(io.BytesIO(client.get("/progress/progress-plan/phases.xlsx").data)).active
    rows = list(sheet.iter_rows(values_only=True))
    startup = next(r for r in rows if r[0] == "启动阶段")
    assert startup[1].date() == date(2024, 4, 1) and startup[3] == 3
    ranking = client.get("/ranking.csv?plan=progress-plan").data.decode("utf-8-sig")
    assert "北京市卫生健康委" in ranking
    assert client.get("/ranking.pdf").status_code == 404


def test_the_timeline_spans_each_section_and_marks_overdue_items(client, auth, make_user, plan_tree):  # noqa: F811
    import json

    auth.login(make_user("leader", "NHC"))
    page = client.get("/progress/progress-plan/timeline").get_data(as_text=True)
    assert 'data-section="一"' in page
    option = json.loads(
        page[page.index('id="timeline-option">') + len('id="timeline-option">') :].split("</script>")[0]
    )
    bars = option["series"][0]["data"]
    assert bars[0][1:3] == [
        "2024-04-30",
        "2024-09-30",
    ]  # section 一: earliest and latest due dates (cancelled left out)
    overdue = option["series"][1]["data"]
    assert [item["value"][1] for item in overdue] == ["2024-04-30"]  # Shanghai's item, 61 days late
    assert option["series"][1]["markLine"]["data"][0]["xAxis"] == "2024-06-30"
    assert [a[0]["name"] for a in option["series"][0]["markArea"]["data"]] == ["启动阶段", "实施阶段"]
    beijing = client.get("/progress/progress-plan/timeline?unit=P11").get_data(as_text=True)
    option = json.loads(
        beijing[beijing.index('id="timeline-option">') + len('id="timeline-option">') :].split("</script>")[0]
    )
    assert option["series"][1]["data"] == []
