"""A coordinator drafts a plan from its document, reviews it and creates the plan."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from sqlalchemy import func, select

from conftest import count_queries
from tracker.extensions import db
from tracker.importer.draft import service
from tracker.importer.draft.service import DraftError
from tracker.models import Plan, Task

NOTICE = """\
宁卫医函〔2026〕8号
关于印发《全区卒中救治质量提升方案》的通知
各地级市卫生健康委：
现将《全区卒中救治质量提升方案》印发给你们，请认真执行。
宁夏回族自治区卫生健康委
2026年2月3日
全区卒中救治质量提升方案
一、工作任务
（一）建设卒中地图。各地级市卫生健康委要于2026年5月31日前公布辖区卒中地图。
（二）开展质控督查。医疗机构要每月开展卒中病例自查。
二、保障措施
（一）加强宣传。各地级市卫生健康委要加强卒中急救知识宣传。
"""


@pytest.fixture(autouse=True)
def draft_dir(app, tmp_path):
    previous = app.config.get("DRAFT_DIR")
    app.config["DRAFT_DIR"] = str(tmp_path / "drafts")
    yield tmp_path / "drafts"
    app.config["DRAFT_DIR"] = previous


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", "P64")


def upload(client, text=NOTICE, name="fangan.txt"):
    data = {"document": (io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text), name)}
    return client.post("/drafts", data=data, content_type="multipart/form-data")


def plan_rows() -> tuple[int, int]:
    return db.session.scalar(select(func.count(Plan.id))), db.session.scalar(select(func.count(Task.id)))


def only_draft(draft_dir) -> dict:
    files = list(draft_dir.glob("*.json"))
    assert len(files) == 1
    return json.loads(files[0].read_text(encoding="utf-8"))


def item_uid(draft: dict, ref: str) -> str:
    return next(t["uid"] for t in service.walk(draft["tasks"]) if t["ref"] == ref)


def test_a_coordinator_uploads_a_notice_and_reviews_its_draft_without_touching_the_plans(
    client, auth, coordinator, draft_dir
):
    auth.login(coordinator)
    before = plan_rows()
    response = upload(client)
    assert response.status_code == 303
    draft = only_draft(draft_dir)
    assert response.headers["Location"].endswith(f"/drafts/{draft['id']}")
    page = client.get(f"/drafts/{draft['id']}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "全区卒中救治质量提升方案" in body
    assert "建设卒中地图" in body and "2026-05-31" in body
    assert "«各地级市卫生健康委要于2026年5月31日前公布辖区卒中地图。»" in body  # the quoted source sentence
    assert "FREQ=MONTHLY;BYMONTHDAY=-1" in body
    assert plan_rows() == before  # nothing is written to the plan tables before the plan is created


def test_the_review_page_runs_a_bounded_number_of_queries(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client, NOTICE + "".join(f"（{n}）任务{n}。医疗机构要落实第{n}项。\n" for n in "三四五六七八九十"))
    draft = only_draft(draft_dir)
    with count_queries() as queries:
        assert client.get(f"/drafts/{draft['id']}").status_code == 200
    assert queries() <= 6


@pytest.mark.parametrize(
    "content, name",
    [
        (b"\xd0\xcf\x11\xe0old word", "fangan.doc"),
        (b"", "empty.txt"),
        ("没有编号的一段话。".encode("utf-8"), "plain.txt"),
        (b"PK\x03\x04broken", "broken.docx"),
    ],
)
def test_a_file_that_is_not_a_readable_document_is_a_form_error(client, auth, coordinator, content, name, draft_dir):
    auth.login(coordinator)
    response = upload(client, content, name)
    assert response.status_code == 400
    assert 'id="upload-form"' in response.get_data(as_text=True)
    assert not list(draft_dir.glob("*.json")) if draft_dir.exists() else True


def test_an_upload_without_a_file_is_a_form_error(client, auth, coordinator):
    auth.login(coordinator)
    response = client.post("/drafts", data={}, content_type="multipart/form-data")
    assert response.status_code == 400


@pytest.mark.parametrize("role, unit", [("reporter", "P64-QC"), ("leader", "NHC")])
def test_reporters_and_leaders_do_not_draft_plans(client, auth, make_user, role, unit):
    auth.login(make_user(role, unit))
    assert client.get("/drafts").status_code == 403
    assert upload(client).status_code == 403


def test_a_draft_is_seen_only_by_the_coordinator_who_made_it(client, auth, coordinator, make_user, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    auth.login(make_user("coordinator", "P11"))
    assert client.get(f"/drafts/{draft['id']}").status_code == 404
    assert client.get("/drafts/not-a-draft-id").status_code == 404


def test_editing_an_item_returns_the_item_to_htmx_and_redirects_otherwise(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    uid = item_uid(draft, "一.(一)")
    url = f"/drafts/{draft['id']}/items/{uid}/edit"
    form = client.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200 and "HX-Request" in form.headers["Vary"]
    assert "<html" not in form.get_data(as_text=True) and 'name="due"' in form.get_data(as_text=True)
    values = {
        "ref": "一.(一)",
        "title": "建设并公布卒中地图",
        "owner": "P64",
        "co_owners": "each:institution//P64",
        "due": "2026-06-15",
        "start": "",
        "deliverable": "卒中地图",
        "recurrence": "",
        "phase": "",
        "description": "公布地图",
    }
    fragment = client.post(url, data=values, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert f'id="item-{uid}"' in text and "建设并公布卒中地图" in text and "2026-06-15" in text and "<html" not in text
    saved = next(t for t in service.walk(only_draft(draft_dir)["tasks"]) if t["uid"] == uid)
    assert saved["owner"] == "P64" and saved["co_owners"] == [{"each": {"kind": "institution", "under": "P64"}}]
    assert saved["sources"]["due"] == service.REVIEWER_SOURCE
    plain = client.post(url, data=dict(values, title="再改一次"))
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"#item-{uid}")


@pytest.mark.parametrize(
    "field, value", [("due", "2026-13-40"), ("owner", "NO-SUCH-UNIT"), ("recurrence", "EVERY SO OFTEN"), ("title", "")]
)
def test_a_bad_edit_is_refused_with_the_form_and_changes_nothing(client, auth, coordinator, draft_dir, field, value):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    uid = item_uid(draft, "一.(一)")
    values = {
        "ref": "一.(一)",
        "title": "建设卒中地图",
        "due": "2026-05-31",
        "owner": "",
        "co_owners": "",
        "start": "",
        "deliverable": "",
        "recurrence": "",
        "phase": "",
        "description": "",
        field: value,
    }
    response = client.post(f"/drafts/{draft['id']}/items/{uid}/edit", data=values, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert 'name="due"' in response.get_data(as_text=True)
    assert only_draft(draft_dir) == draft


def test_removing_and_adding_items(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    count = service.count_tasks(draft)
    removed = client.post(f"/drafts/{draft['id']}/items/{item_uid(draft, '二')}/delete", headers={"HX-Request": "true"})
    assert removed.status_code == 200
    assert f'id="item-count" class="badge text-bg-secondary" hx-swap-oob="true">{count - 2}<' in removed.get_data(
        as_text=True
    )
    parent = item_uid(draft, "一")
    added = client.post(
        f"/drafts/{draft['id']}/items",
        data={"parent": parent, "title": "建立卒中质控通报制度"},
        headers={"HX-Request": "true"},
    )
    assert added.status_code == 200 and "建立卒中质控通报制度" in added.get_data(as_text=True)
    refs = {t["ref"]: t["title"] for t in service.walk(only_draft(draft_dir)["tasks"])}
    assert "二" not in refs and refs["一.3"] == "建立卒中质控通报制度"
    assert client.post(f"/drafts/{draft['id']}/items", data={"parent": parent, "title": ""}).status_code == 400


def test_creating_the_plan_loads_the_draft_through_the_seed_loader(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    client.post(
        f"/drafts/{draft['id']}/plan",
        data={
            "key": "stroke-2026",
            "title": draft["title"],
            "doc_number": draft["doc_number"],
            "issuer": draft["issuer"],
            "issuer_unit": "P64",
            "issued": "2026-02-03",
        },
    )
    response = client.post(f"/drafts/{draft['id']}/create", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/plans/stroke-2026"
    plan = db.session.scalar(select(Plan).where(Plan.key == "stroke-2026"))
    assert plan.doc_number == "宁卫医函〔2026〕8号" and plan.issuer_unit.code == "P64"
    tasks = {t.ref: t for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))}
    task = tasks["一.(一)"]
    assert task.due_on.isoformat() == "2026-05-31"
    assert task.owner_selector == {"kind": "commission", "level": "prefecture", "under": "P64"}
    assert "due from «各地级市卫生健康委要于2026年5月31日前公布辖区卒中地图。»" in task.notes
    assert any(ref.startswith("一.(一)@") for ref in tasks)  # cascaded to each prefecture under Ningxia
    assert tasks["一.(二)"].recurrence == "FREQ=MONTHLY;BYMONTHDAY=-1"
    assert not list(draft_dir.glob("*.json"))  # the draft is gone once the plan exists


def test_a_plan_key_already_in_use_is_refused_and_nothing_is_written(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    draft["key"] = "tumor-2021"  # a seed plan's key
    service.save_draft(draft)
    before = plan_rows()
    response = client.post(f"/drafts/{draft['id']}/create")
    assert response.status_code == 400
    assert "tumor-2021" in response.get_data(as_text=True)
    assert plan_rows() == before
    assert only_draft(draft_dir)["id"] == draft["id"]


def test_a_coordinator_creates_plans_only_for_their_own_units(client, auth, make_user, draft_dir):
    auth.login(make_user("coordinator", "WZ"))
    upload(client)
    draft = only_draft(draft_dir)  # issued by the Ningxia commission, above Wuzhong
    response = client.post(f"/drafts/{draft['id']}/create")
    assert response.status_code == 400
    assert db.session.scalar(select(Plan).where(Plan.key == draft["key"])) is None


def test_a_bad_plan_key_is_a_form_error(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    response = client.post(
        f"/drafts/{draft['id']}/plan", data={"key": "Bad Key!", "title": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and 'id="plan-form"' in response.get_data(as_text=True)
    assert only_draft(draft_dir)["key"] == draft["key"]


def test_discarding_a_draft(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client)
    draft = only_draft(draft_dir)
    assert client.post(f"/drafts/{draft['id']}/discard").status_code == 303
    assert not list(draft_dir.glob("*.json"))


# --- services, without the client ---------------------------------------------------------


def test_service_edits_keep_the_reviewer_as_the_source(app, coordinator):
    draft = service.draft_from_file("fangan.txt", NOTICE.encode("utf-8"))
    uid = item_uid(draft, "二.(一)")
    service.update_task(draft, uid, {"owner": "each:commission/prefecture/P64", "due": "2026-09-30"})
    task, _ = service.find_task(draft, uid)
    assert task["owner"] == {"each": {"kind": "commission", "level": "prefecture", "under": "P64"}}
    assert task["due"] == "2026-09-30" and task["sources"]["due"] == service.REVIEWER_SOURCE
    with pytest.raises(DraftError):
        service.update_task(draft, uid, {"start": "2026-10-01", "due": "2026-09-30"})
    with pytest.raises(DraftError):
        service.update_task(draft, uid, {"ref": "一.(一)"})  # already used


# --- the command line -------------------------------------------------------------------------


def test_flask_plans_draft_prints_a_seed_plan_file(runner, tmp_path):
    source = tmp_path / "fangan.txt"
    source.write_text(NOTICE, encoding="utf-8")
    result = runner.invoke(args=["plans", "draft", str(source)])
    assert result.exit_code == 0, result.output
    plan = yaml.safe_load(result.output)
    assert plan["doc_number"] == "宁卫医函〔2026〕8号"
    assert plan["tasks"][0]["children"][0]["due"] == "2026-05-31"
    out = tmp_path / "draft.yaml"
    assert runner.invoke(args=["plans", "draft", str(source), "-o", str(out)]).exit_code == 0
    assert yaml.safe_load(out.read_text(encoding="utf-8")) == plan


def test_flask_plans_draft_of_a_docx_gives_the_same_plan(runner, tmp_path):
    from docx import Document

    document = Document()
    for line in NOTICE.splitlines():
        document.add_paragraph(line)
    document.save(tmp_path / "fangan.docx")
    (tmp_path / "fangan.txt").write_text(NOTICE, encoding="utf-8")
    from_docx = yaml.safe_load(runner.invoke(args=["plans", "draft", str(tmp_path / "fangan.docx")]).output)
    from_text = yaml.safe_load(runner.invoke(args=["plans", "draft", str(tmp_path / "fangan.txt")]).output)
    from_docx.pop("source"), from_text.pop("source")
    assert from_docx == from_text


def test_flask_plans_draft_of_an_unreadable_file_fails_in_one_line(runner, tmp_path):
    bad = tmp_path / "old.doc"
    bad.write_bytes(b"\xd0\xcf\x11\xe0 binary")
    result = runner.invoke(args=["plans", "draft", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "old.doc" in result.output


def test_the_review_page_names_what_the_draft_could_not_place(client, auth, coordinator, draft_dir):
    auth.login(coordinator)
    upload(client, NOTICE + "附件：1.评估表\n请各地级市卫生健康委于2026年11月30日前报送工作总结。\n")
    draft = only_draft(draft_dir)
    body = client.get(f"/drafts/{draft['id']}").get_data(as_text=True)
    assert 'id="draft-unplaced"' in body
    assert "请各地级市卫生健康委于2026年11月30日前报送工作总结。" in body
    upload(client)
    clean = max(draft_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
    clean_id = json.loads(clean.read_text(encoding="utf-8"))["id"]
    assert 'id="draft-unplaced"' not in client.get(f"/drafts/{clean_id}").get_data(as_text=True)
