"""Provincial schemes (备案): a province files its implementation scheme against the national plan;
accepting it fulfils that province's "issue the provincial work plan" task, and only that one."""

import io
from datetime import date

import pytest
from flask import current_app
from sqlalchemy import func, select

from tests.conftest import count_queries, unit
from tracker.schemes import service as schemes
from tracker.schemes.service import NewSchemeTask, SchemeError, SchemeNotAllowed
from tracker.extensions import db
from tracker.models import JournalEntry, Plan, Task
from tracker.models.cascade import SchemeTaskLink

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HX = {"HX-Request": "true"}


def message(exc) -> str:
    with current_app.test_request_context():
        return str(exc)


@pytest.fixture
def national():
    return db.session.scalar(select(Plan).where(Plan.key == "tumor-2021"))


@pytest.fixture
def work_plan_template(national):
    return db.session.scalar(
        select(Task).where(Task.plan_id == national.id, Task.title == "制定印发本省份工作方案", ~Task.ref.contains("@"))
    )


@pytest.fixture
def nhc(make_user):
    return make_user("coordinator", "NHC")


@pytest.fixture
def beijing(make_user):
    return make_user("coordinator", "P11")


@pytest.fixture
def called(national, work_plan_template, nhc):
    schemes.set_requirement(national, nhc, work_plan_template)
    db.session.commit()
    return national


def provincial_task(template: Task, code: str) -> Task:
    return db.session.scalar(select(Task).where(Task.plan_id == template.plan_id, Task.ref == f"{template.ref}@{code}"))


def filed_scheme(national, beijing):
    scheme = schemes.start_scheme(
        national, beijing, "北京市肿瘤诊疗质量提升行动实施方案", "京卫医〔2021〕88号", date(2021, 10, 20)
    )
    schemes.upload_document(scheme, beijing, io.BytesIO(PDF), "实施方案.pdf")
    national_ref = db.session.scalar(select(Task.ref).where(Task.plan_id == national.id, Task.ref == "二.(三)"))
    schemes.add_tasks(
        scheme,
        beijing,
        [
            NewSchemeTask("1", "完善本市肿瘤诊疗服务体系", "P11", date(2022, 6, 30), "体系建设方案", national_ref),
            NewSchemeTask("2", "市肿瘤质控中心开展抽查", "P11-QC", date(2022, 12, 31), "", ""),
        ],
    )
    schemes.file_scheme(scheme, beijing)
    db.session.commit()
    return scheme


def test_filing_and_accepting_beijings_scheme_fulfils_beijings_task_and_no_other(
    called, work_plan_template, nhc, beijing
):
    scheme = filed_scheme(called, beijing)
    beijing_task = provincial_task(work_plan_template, "P11")
    assert scheme.state == "filed" and scheme.filed_at is not None
    assert beijing_task.status == "submitted"
    schemes.review_scheme(scheme, nhc, accept=True)
    db.session.commit()
    assert scheme.state == "accepted" and scheme.reviewed_by_id == nhc.id
    assert beijing_task.status == "accepted" and beijing_task.percent == 100
    others = db.session.scalars(
        select(Task.status).where(Task.parent_id == work_plan_template.id, Task.id != beijing_task.id)
    ).all()
    assert len(others) == 31 and set(others) == {"not_started"}
    journal = db.session.scalars(
        select(JournalEntry)
        .where(JournalEntry.task_id == beijing_task.id, JournalEntry.action == "status")
        .order_by(JournalEntry.id)
    ).all()
    assert [(e.new_value, e.user_id) for e in journal] == [
        ("in_progress", beijing.id),
        ("submitted", beijing.id),
        ("accepted", nhc.id),
    ]


def test_the_scheme_is_a_plan_of_the_province_with_its_tasks_mapped_to_national_ones(called, beijing):
    scheme = filed_scheme(called, beijing)
    assert (scheme.plan.issuer_unit.code, scheme.plan.doc_number, scheme.plan.issued_on) == (
        "P11",
        "京卫医〔2021〕88号",
        date(2021, 10, 20),
    )
    rows = schemes.scheme_tasks(scheme)
    assert [(t.ref, t.owner_unit.code, n.ref if n else None) for t, n in rows] == [
        ("1", "P11", "二.(三)"),
        ("2", "P11-QC", None),
    ]
    assert scheme.original_name == "实施方案.pdf" and scheme.size == len(PDF) and scheme.mime_type == "application/pdf"


def test_the_national_view_shows_who_filed_when_and_who_has_not(called, beijing, nhc):
    filed_scheme(called, beijing)
    with count_queries() as statements:
        overview = schemes.filing_overview(called, nhc)
    assert statements() <= 6  # requirement, children, units, schemes (+ reloading the expired user and plan)
    assert len(overview.rows) == 32
    filed = [r for r in overview.rows if r.filed]
    assert [(r.unit.code, r.scheme.state) for r in filed] == [("P11", "filed")]
    assert len(overview.not_filed) == 31 and "P12" in {r.unit.code for r in overview.not_filed}


def test_a_returned_scheme_returns_the_task_and_can_be_filed_again(called, work_plan_template, nhc, beijing):
    scheme = filed_scheme(called, beijing)
    with pytest.raises(SchemeError):
        schemes.review_scheme(scheme, nhc, accept=False, comment="")
    schemes.review_scheme(scheme, nhc, accept=False, comment="缺少时间表")
    db.session.commit()
    task = provincial_task(work_plan_template, "P11")
    assert (scheme.state, task.status) == ("returned", "returned")
    schemes.file_scheme(scheme, beijing)
    db.session.commit()
    assert (scheme.state, task.status) == ("filed", "submitted")


def test_filing_needs_the_document_and_tasks(called, beijing):
    scheme = schemes.start_scheme(called, beijing, "北京市方案")
    with pytest.raises(SchemeError) as caught:
        schemes.file_scheme(scheme, beijing)
    assert "document" in message(caught.value).lower() or "文件" in message(caught.value)
    schemes.upload_document(scheme, beijing, io.BytesIO(PDF), "方案.pdf")
    with pytest.raises(SchemeError):
        schemes.file_scheme(scheme, beijing)


def test_a_document_must_be_what_its_name_says(called, beijing):
    scheme = schemes.start_scheme(called, beijing, "北京市方案")
    with pytest.raises(SchemeError):
        schemes.upload_document(scheme, beijing, io.BytesIO(b"MZ not a pdf"), "方案.pdf")
    assert scheme.stored_name is None


@pytest.mark.parametrize("who", ["reporter-P11", "coordinator-P12", "coordinator-P11"])
def test_only_a_coordinator_above_the_province_reviews(called, beijing, make_user, who):
    scheme = filed_scheme(called, beijing)
    role, code = who.split("-")
    with pytest.raises(SchemeNotAllowed):
        schemes.review_scheme(scheme, make_user(role, code), accept=True)


def test_a_province_cannot_edit_another_provinces_scheme_nor_a_filed_one(called, beijing, make_user):
    scheme = filed_scheme(called, beijing)
    with pytest.raises(SchemeNotAllowed):
        schemes.add_tasks(scheme, make_user("coordinator", "P12"), [NewSchemeTask("9", "x")])
    with pytest.raises(SchemeError):
        schemes.add_tasks(scheme, beijing, [NewSchemeTask("9", "x")])


def test_an_import_is_checked_whole_and_writes_nothing_when_a_line_is_wrong(called, beijing):
    scheme = schemes.start_scheme(called, beijing, "北京市方案")
    header = "ref,title,owner,due,deliverable,implements"
    good = "1,建立会诊制度,P11,2022-03-31,会诊制度,三.(一)"
    with pytest.raises(SchemeError) as caught:
        schemes.parse_import("\n".join([header, good, "3,日期错误,,2022-02-30,,"]))
    assert "2022-02-30" in message(caught.value)
    wrong = [header, good, "2,超出辖区,P12,2022-03-31,,", "1,重复编号,,,,", "4,无此国家任务,,,,九.(九)", "5,,,,,"]
    with pytest.raises(SchemeError) as caught:
        schemes.add_tasks(scheme, beijing, schemes.parse_import("\n".join(wrong)))
    problems = message(caught.value).splitlines()
    assert len(problems) == 4
    assert "P12" in problems[0] and "1" in problems[1] and "九.(九)" in problems[2]
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.plan_id == scheme.plan_id)) == 0
    created = schemes.add_tasks(scheme, beijing, schemes.parse_import("\n".join([header, good])))
    assert [(t.ref, t.due_on, t.deliverable) for t in created] == [("1", date(2022, 3, 31), "会诊制度")]
    assert db.session.get(SchemeTaskLink, created[0].id).national_task.ref == "三.(一)"
    with pytest.raises(SchemeError):
        schemes.parse_import("编号,名称\n1,x")


# --- pages -------------------------------------------------------------------------------------------


def test_a_province_files_through_the_pages_and_the_commission_accepts(
    client, auth, called, work_plan_template, nhc, beijing
):
    auth.login(beijing)
    overview = client.get(f"/plans/{called.key}/schemes")
    assert overview.status_code == 200 and 'id="start-form"' in overview.get_data(as_text=True)
    started = client.post(
        f"/plans/{called.key}/schemes", data={"title": "北京市实施方案", "doc_number": "", "issued_on": ""}
    )
    assert started.status_code == 303
    scheme_url = started.headers["Location"]
    scheme = schemes.scheme_for(called, unit("P11"))
    bad = client.post(
        f"{scheme_url}/document", data={"file": (io.BytesIO(b"hello"), "x.exe")}, content_type="multipart/form-data"
    )
    assert bad.status_code == 400 and 'id="document-form"' in bad.get_data(as_text=True)
    ok = client.post(
        f"{scheme_url}/document", data={"file": (io.BytesIO(PDF), "方案.pdf")}, content_type="multipart/form-data"
    )
    assert ok.status_code == 303
    imported = client.post(
        f"{scheme_url}/import",
        data={"text": "ref,title,owner,due,deliverable,implements\n1,完善体系,,2022-06-30,,二.(三)\n"},
    )
    assert imported.status_code == 303
    task = schemes.scheme_tasks(scheme)[0][0]
    national_task = db.session.scalar(select(Task).where(Task.plan_id == called.id, Task.ref == "三.(一)"))
    mapped = client.post(f"{scheme_url}/tasks/{task.id}/map", data={"national": national_task.id}, headers=HX)
    body = mapped.get_data(as_text=True)
    assert (
        mapped.status_code == 200 and body.strip().startswith(f'<tr id="scheme-task-{task.id}"') and "<html" not in body
    )
    assert db.session.get(SchemeTaskLink, task.id).national_task_id == national_task.id
    without_htmx = client.post(f"{scheme_url}/tasks/{task.id}/map", data={"national": 0})
    assert without_htmx.status_code == 303 and db.session.get(SchemeTaskLink, task.id) is None
    assert client.post(f"{scheme_url}/file").status_code == 303
    auth.login(nhc)
    page = client.get(scheme_url).get_data(as_text=True)
    assert 'id="review-form"' in page
    assert client.post(f"{scheme_url}/review", data={"decision": "return", "comment": ""}).status_code == 400
    assert client.post(f"{scheme_url}/review", data={"decision": "accept"}).status_code == 303
    assert provincial_task(work_plan_template, "P11").status == "accepted"
    table = client.get(f"/plans/{called.key}/schemes").get_data(as_text=True)
    assert 'data-unit="P11" data-state="accepted"' in table and 'data-unit="P12" data-state="none"' in table


def test_the_requirement_is_set_by_the_national_coordinator_only(
    client, auth, national, work_plan_template, nhc, beijing
):
    auth.login(beijing)
    assert (
        client.post(f"/plans/{national.key}/schemes/requirement", data={"template": work_plan_template.id}).status_code
        == 403
    )
    auth.login(nhc)
    assert client.post(f"/plans/{national.key}/schemes/requirement", data={"template": 999999}).status_code == 400
    assert (
        client.post(f"/plans/{national.key}/schemes/requirement", data={"template": work_plan_template.id}).status_code
        == 303
    )
    assert schemes.requirement_for(national).template_task_id == work_plan_template.id


def test_another_province_cannot_see_beijings_scheme(client, auth, called, beijing, make_user):
    scheme = filed_scheme(called, beijing)
    auth.login(make_user("coordinator", "P12"))
    assert client.get(f"/schemes/{scheme.id}").status_code == 404
    assert client.get(f"/schemes/{scheme.id}/document").status_code == 404
    auth.login(beijing)
    download = client.get(f"/schemes/{scheme.id}/document")
    assert download.status_code == 200 and download.data == PDF
