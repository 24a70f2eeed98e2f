"""The API's resources through the client with tokens: plans and tasks with the export's field
names, the task list's filters and keyset pages, task actions with optimistic locking, evidence
refusals, units, progress figures equal to the matrix's, notifications, indicator forms."""

# ruff: noqa: F811  (the api_as fixture is imported from tests/api_support.py)
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.api_support import ApiClient, api_as, token_for  # noqa: F401
from tests.conftest import unit
from tracker.extensions import db
from tracker.models import Evidence, JournalEntry, Notification, Plan, Task
from tracker.plans.evidence import ALLOWED
from tracker.plans.export import export_plan
from tracker.timeutil import local_today

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# -- plans ----------------------------------------------------------------------------------------


def test_plans_carry_the_exports_field_names_and_values(api_as, make_user):
    api = api_as(make_user("reporter", "P11-QC"))
    listed = api.get("/api/v1/plans").json["items"]
    assert "ncc-qc-2024" in {p["key"] for p in listed}
    detail = api.get("/api/v1/plans/ncc-qc-2024").json
    exported = export_plan(db.session.scalar(select(Plan).where(Plan.key == "ncc-qc-2024")))
    for name in (
        "export_version",
        "key",
        "title",
        "doc_number",
        "issuer",
        "issuer_unit",
        "issued",
        "period",
        "source",
        "repairs",
        "phases",
    ):
        assert detail[name] == exported[name], name
    assert set(detail) <= set(exported)
    assert api.get("/api/v1/plans/no-such-plan").status_code == 404


def _nodes(tasks):
    for node in tasks:
        yield node
        yield from _nodes(node["children"])


def test_tasks_carry_the_exports_field_names_and_values(api_as, make_user):
    api = api_as(make_user("admin", "NHC"))
    plan = db.session.scalar(select(Plan).where(Plan.key == "ncc-qc-2024"))
    exported = {node["ref"]: node for node in _nodes(export_plan(plan)["tasks"])}
    tasks = db.session.scalars(select(Task).where(Task.plan_id == plan.id).order_by(Task.id).limit(40))
    compared = 0
    for task in tasks:
        body = api.get(f"/api/v1/tasks/{task.id}").json
        node = exported[body["ref"]]
        shared = set(body) & set(node)
        assert {
            "ref",
            "title",
            "description",
            "owner",
            "co_owners",
            "start",
            "due",
            "deliverable",
            "phase",
            "weight",
            "recurrence",
            "status",
            "percent",
            "origin",
            "notes",
        } <= shared
        for name in shared - {"children"}:
            assert body[name] == node[name], (task.ref, name)
        compared += 1
    assert compared == 40


# -- the task list ---------------------------------------------------------------------------------


def _all_pages(api, url: str, limit: int) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        page = api.get(f"{url}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")).json
        items += page["items"]
        pages += 1
        cursor = page["next"]
        if not cursor:
            return items
        assert pages < 1000


def test_keyset_pages_walk_the_whole_list_once_in_order(api_as, make_user, make_task):
    for i, due in enumerate([date(2030, 1, 3), None, date(2030, 1, 1), date(2030, 1, 3), None, date(2030, 1, 2)]):
        make_task("P11-QC", title=f"分页任务{i}", due_on=due)
    api = api_as(make_user("reporter", "P11-QC"))
    one_page = api.get("/api/v1/tasks?q=分页任务&limit=200").json
    assert one_page["next"] is None and len(one_page["items"]) == 6
    for limit in (1, 2, 4):
        assert [t["id"] for t in _all_pages(api, "/api/v1/tasks?q=分页任务", limit)] == [
            t["id"] for t in one_page["items"]
        ]
    dues = [t["due"] for t in one_page["items"]]
    assert dues == ["2030-01-01", "2030-01-02", "2030-01-03", "2030-01-03", None, None]


def test_the_task_lists_filters(api_as, make_user, make_task):
    today = local_today()
    late = make_task("P11-QC", title="筛选-逾期", due_on=today - timedelta(days=3))
    make_task("P11-QC", title="筛选-未到期", due_on=today + timedelta(days=3))
    done = make_task("P11-QC", title="筛选-完成", due_on=today - timedelta(days=3), status="accepted")
    child = make_task("P11-QC-H" if False else "P11-QC", title="筛选-别的", due_on=today)
    api = api_as(make_user("coordinator", "P11-QC"))
    overdue = api.get("/api/v1/tasks?q=筛选&overdue=true&mine=true").json["items"]
    assert [t["id"] for t in overdue] == [late.id] and overdue[0]["overdue"] is True
    assert [t["id"] for t in api.get("/api/v1/tasks?q=筛选&status=accepted").json["items"]] == [done.id]
    ranged = api.get(f"/api/v1/tasks?q=筛选&due_from={today.isoformat()}&due_to={today.isoformat()}").json["items"]
    assert [t["id"] for t in ranged] == [child.id]
    assert api.get("/api/v1/tasks?q=筛选&owner=P11-QC&plan=fixture-plan").json["items"]
    assert api.get("/api/v1/tasks?q=筛选&plan=ncc-qc-2024").json["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=x",
        "status=done",
        "due_from=2024-02-30",
        "due_from=2024-03-02&due_to=2024-03-01",
        "cursor=!!!",
        "cursor=eyJ4IjoxfQ",
        "overdue=perhaps",
    ],
)
def test_bad_list_parameters_answer_422_naming_the_field(api_as, make_user, query):
    response = api_as(make_user("reporter", "P11-QC")).get(f"/api/v1/tasks?{query}")
    assert response.status_code == 422, query
    assert response.json["error"] == "invalid" and response.json["errors"][0]["field"].startswith("query.")


# -- one task and its actions -----------------------------------------------------------------------


def test_one_task_with_children_evidence_and_journal(api_as, make_user, make_task):
    parent = make_task("P11-QC", title="父任务")
    kids = [make_task("P11-QC", parent=parent, title=f"子任务{i}") for i in range(3)]
    make_task("P31-QC", parent=parent, title="别省的子任务")  # not visible to P11-QC
    user = make_user("reporter", "P11-QC")
    api = api_as(user)
    assert api.post(f"/api/v1/tasks/{kids[0].id}/comments", json={"text": "进展顺利"}).status_code == 201
    upload = api.client.post(
        f"/api/v1/tasks/{kids[0].id}/evidence",
        headers={"Authorization": f"Bearer {api.secret}"},
        data={"file": (io.BytesIO(PDF), "总结.pdf"), "note": "第一版"},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.json
    assert upload.json["name"] == "总结.pdf" and upload.json["size"] == len(PDF) and len(upload.json["sha256"]) == 64
    detail = api.get(f"/api/v1/tasks/{parent.id}").json
    assert detail["children"] == [k.id for k in kids]
    kid = api.get(f"/api/v1/tasks/{kids[0].id}").json
    assert kid["parent"] == parent.id
    assert [e["note"] for e in kid["evidence"]] == ["第一版"]
    assert [j["action"] for j in kid["journal"]][:2] == ["evidence", "comment"]
    assert kid["allowed_status"] == ["in_progress"]


def test_optimistic_locking_a_stale_version_gets_409_with_the_current_task(api_as, make_user, make_task):
    task = make_task("P11-QC", title="并发")
    first, second = api_as(make_user("reporter", "P11-QC")), api_as(make_user("reporter", "P11-QC"))
    seen = first.get(f"/api/v1/tasks/{task.id}").json["version"]
    ok = first.post(f"/api/v1/tasks/{task.id}/percent", json={"percent": 40, "version": seen})
    assert ok.status_code == 200 and ok.json["percent"] == 40 and ok.json["status"] == "in_progress"
    assert ok.json["version"] > seen
    stale = second.post(f"/api/v1/tasks/{task.id}/percent", json={"percent": 90, "version": seen})
    assert stale.status_code == 409
    assert stale.json["error"] == "conflict"
    assert stale.json["task"]["percent"] == 40 and stale.json["task"]["version"] == ok.json["version"]
    also_stale = second.post(f"/api/v1/tasks/{task.id}/status", json={"target": "submitted", "version": seen})
    assert also_stale.status_code == 409
    db.session.refresh(task)
    assert task.percent == 40 and task.status == "in_progress"
    retried = second.post(
        f"/api/v1/tasks/{task.id}/status", json={"target": "submitted", "version": stale.json["task"]["version"]}
    )
    assert retried.status_code == 200 and retried.json["status"] == "submitted"


def test_the_state_machine_refuses_over_the_api_as_on_the_pages(api_as, make_user, make_task):
    task = make_task("P11-QC", title="状态", status="submitted")
    reporter, reviewer = api_as(make_user("reporter", "P11-QC")), api_as(make_user("coordinator", "P11"))
    accept = reporter.post(f"/api/v1/tasks/{task.id}/status", json={"target": "accepted", "version": task.version})
    assert accept.status_code == 422 and accept.json["error"] == "refused"
    no_reason = reviewer.post(f"/api/v1/tasks/{task.id}/status", json={"target": "returned", "version": task.version})
    assert no_reason.status_code == 422
    returned = reviewer.post(
        f"/api/v1/tasks/{task.id}/status", json={"target": "returned", "version": task.version, "comment": "缺附件"}
    )
    assert returned.status_code == 200 and returned.json["status"] == "returned"
    leader = api_as(make_user("leader", "NHC"))
    assert leader.post(f"/api/v1/tasks/{task.id}/comments", json={"text": "批示"}).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"target": "in_progress"},  # no version
        {"target": "in_progress", "version": "1"},  # a string is not a number here
        {"target": "finished", "version": 1},  # no such status
        {"target": "in_progress", "version": 1, "colour": "red"},  # no such field
        {"target": "in_progress", "version": 0},
        [],
    ],
)
def test_a_bad_body_answers_422_naming_the_field(api_as, make_user, make_task, body):
    task = make_task("P11-QC")
    response = api_as(make_user("reporter", "P11-QC")).post(f"/api/v1/tasks/{task.id}/status", json=body)
    assert response.status_code == 422 and response.json["errors"], body
    assert all(e["field"].startswith("body") for e in response.json["errors"])


def test_a_body_that_is_not_json_or_too_large(api_as, make_user, make_task, app):
    task = make_task("P11-QC")
    api = api_as(make_user("reporter", "P11-QC"))
    url = f"/api/v1/tasks/{task.id}/comments"
    auth = {"Authorization": f"Bearer {api.secret}"}
    assert (
        api.client.post(url, data="text=hi", headers=auth, content_type="application/x-www-form-urlencoded").status_code
        == 415
    )
    assert api.client.post(url, data="{not json", headers=auth, content_type="application/json").status_code == 422
    big = api.client.post(url, json={"text": "长" * 200_000}, headers=auth)
    assert big.status_code == 413 and big.json["error"] == "too_large"
    nul = api.post(url, json={"text": "a\x00b"})
    assert nul.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.task_id == task.id)) == 0


def _upload(api, task_id, content: bytes, name: str, **extra):
    data = {"file": (io.BytesIO(content), name), **extra}
    return api.client.post(
        f"/api/v1/tasks/{task_id}/evidence",
        data=data,
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {api.secret}"},
    )


def test_evidence_uploads_are_refused_as_on_the_task_page(app, api_as, make_user, make_task):
    from pathlib import Path

    task, other = make_task("P11-QC"), make_task("P11-QC")
    api = api_as(make_user("reporter", "P11-QC"))
    folder = Path(app.config["UPLOAD_DIR"])
    before = set(folder.iterdir()) if folder.exists() else set()
    refusals = {
        "a PNG named .pdf": _upload(api, task.id, PNG, "报告.pdf"),
        "an empty file": _upload(api, task.id, b"", "空.pdf"),
        "a program": _upload(api, task.id, b"MZ\x90\x00", "setup.exe"),
        "no extension": _upload(api, task.id, PDF, "报告"),
    }
    for what, response in refusals.items():
        assert response.status_code == 422, what
        assert response.json["error"] == "refused", what
    no_file = api.client.post(
        f"/api/v1/tasks/{task.id}/evidence",
        data={"note": "x"},
        content_type="multipart/form-data",
        headers={"Authorization": f"Bearer {api.secret}"},
    )
    assert no_file.status_code == 422 and no_file.json["errors"][0]["field"] == "body.file"
    as_json = api.post(f"/api/v1/tasks/{task.id}/evidence", json={"file": "JVBERi0="})
    assert as_json.status_code == 415
    others = _upload(api, other.id, PDF, "别的.pdf")
    assert _upload(api, task.id, PDF, "替换.pdf", supersedes=str(others.json["id"])).status_code == 422
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    try:
        too_big = _upload(api, task.id, PDF + b"0" * 8192, "大.pdf")
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert too_big.status_code == 413 and too_big.json["error"] == "too_large"
    assert db.session.scalar(select(func.count()).select_from(Evidence).where(Evidence.task_id == task.id)) == 0
    left = (set(folder.iterdir()) if folder.exists() else set()) - before
    assert len(left) == 1  # the other task's accepted file only: refusals leave nothing behind
    leader = api_as(make_user("leader", "NHC"))
    assert _upload(leader, task.id, PDF, "领导.pdf").status_code == 403


def test_a_replacement_supersedes_the_old_evidence(api_as, make_user, make_task):
    task = make_task("P11-QC")
    api = api_as(make_user("reporter", "P11-QC"))
    first = _upload(api, task.id, PDF, "一.pdf").json
    second = _upload(api, task.id, PDF, "二.pdf", supersedes=str(first["id"]))
    assert second.status_code == 201
    evidence = {e["id"]: e for e in api.get(f"/api/v1/tasks/{task.id}").json["evidence"]}
    assert evidence[first["id"]]["superseded_by"] == second.json["id"]


def test_an_evidence_file_downloads_as_uploaded_for_those_who_see_its_task(app, api_as, make_user, make_task):
    task = make_task("P11-QC")
    api = api_as(make_user("reporter", "P11-QC"))
    uploaded = _upload(api, task.id, PDF, "自查报告 2024.pdf", note="自查").json
    got = api.get(f"/api/v1/evidence/{uploaded['id']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.mimetype == "application/pdf" and "attachment" in got.headers["Content-Disposition"]
    assert "%E8%87%AA%E6%9F%A5%E6%8A%A5%E5%91%8A" in got.headers["Content-Disposition"]  # the name, UTF-8
    assert got.headers["Cache-Control"] == "private, no-store" and int(got.headers["Content-Length"]) == len(PDF)
    assert api_as(make_user("coordinator", "P11")).get(f"/api/v1/evidence/{uploaded['id']}").data == PDF
    stranger = api_as(make_user("reporter", "P31")).get(f"/api/v1/evidence/{uploaded['id']}")
    assert stranger.status_code == 404 and stranger.json["error"] == "not_found"
    from tracker.plans.evidence import add_note

    note = add_note(db.session.get(Task, task.id), make_user("reporter", "P11-QC"), "只有说明")
    db.session.commit()
    assert api.get(f"/api/v1/evidence/{note.id}").status_code == 404  # a note has no file to download
    assert api.get("/api/v1/evidence/999999999").status_code == 404
    assert api.client.get(f"/api/v1/evidence/{uploaded['id']}").status_code == 401  # no token


def test_an_evidence_download_says_what_is_wrong_with_the_store(app, api_as, make_user, make_task, monkeypatch):
    from tracker.storage import StorageError, storage

    task = make_task("P11-QC")
    api = api_as(make_user("reporter", "P11-QC"))
    item = db.session.get(Evidence, _upload(api, task.id, PDF, "报告.pdf").json["id"])
    store = storage()
    store.delete(item.stored_name)
    missing = api.get(f"/api/v1/evidence/{item.id}")
    assert missing.status_code == 404 and "backup" in missing.json["message"]

    def unreachable(name):
        raise StorageError("connection refused")

    monkeypatch.setattr(store, "open", unreachable)
    down = api.get(f"/api/v1/evidence/{item.id}")
    assert down.status_code == 503 and down.json["error"] == "unavailable" and down.headers["Retry-After"]


def test_the_description_gives_the_download_as_bytes(client):
    spec = client.get("/api/v1/openapi.json").json
    answer = spec["paths"]["/api/v1/evidence/{evidence_id}"]["get"]["responses"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert answer["200"]["content"]["application/pdf"] == binary
    assert set(answer["200"]["content"]) == set(ALLOWED.values())  # each type an upload may have
    assert {"404", "503", "401"} <= set(answer)


# -- units and progress ---------------------------------------------------------------------------


def test_the_unit_tree_is_scoped_and_paged(api_as, make_user, make_unit):
    make_unit("P11-H1", "P11")
    make_unit("P11-H1-A", "P11-H1")
    make_unit("P11-H2", "P11")
    reporter = api_as(make_user("reporter", "P11"))
    mine = _all_pages(reporter, "/api/v1/units?x=1", 2)
    codes = [u["code"] for u in mine]
    assert codes[0] == "P11" and "P31" not in codes and "NHC" not in codes
    assert len(codes) == len(set(codes)) > 3
    positions = {u["code"]: i for i, u in enumerate(mine)}
    assert all(positions[u["parent"]] < positions[u["code"]] for u in mine[1:])  # parents first
    assert reporter.get("/api/v1/units/P31").status_code == 404
    detail = reporter.get("/api/v1/units/P11").json
    assert detail["parent"] == "NHC" and {c["code"] for c in detail["children"]} <= set(codes)
    admin = api_as(make_user("admin", "NHC"))
    assert admin.get("/api/v1/units?limit=1").json["items"][0]["depth"] == 0


def _matrix_numbers(plan_key: str, unit_code: str, by: str) -> dict:
    from tracker.progress import service

    plan = db.session.scalar(select(Plan).where(Plan.key == plan_key))
    m = service.unit_matrix(plan, unit(unit_code), by, local_today())
    rows = {
        u.code: (
            m.row_totals[u.id].items,
            m.row_totals[u.id].done,
            m.row_totals[u.id].overdue,
            m.row_totals[u.id].completion,
        )
        for u in m.rows
    }
    if m.own_row:
        own = m.row_totals[None]
        rows[None] = (own.items, own.done, own.overdue, own.completion)
    return {"rows": rows, "total": (m.total.items, m.total.done, m.total.overdue, m.total.completion)}


def _api_numbers(body: dict) -> dict:
    rows = {
        (r["unit"] or {}).get("code"): (
            r["total"]["items"],
            r["total"]["done"],
            r["total"]["overdue"],
            r["total"]["completion"],
        )
        for r in body["rows"]
    }
    t = body["total"]
    return {"rows": rows, "total": (t["items"], t["done"], t["overdue"], t["completion"])}


@pytest.mark.parametrize("summary", ["tasks", "folded"])
def test_plan_progress_has_the_matrix_numbers(api_as, make_user, make_task, summary):
    from tracker.progress import summary as progress_summary

    api = api_as(make_user("coordinator", "NHC"))
    tasks = list(
        db.session.scalars(
            select(Task)
            .join(Plan)
            .where(Plan.key == "ncc-qc-2024", Task.owner_selector.is_(None))
            .order_by(Task.id)
            .limit(6)
        )
    )
    for task in tasks[:3]:
        task.status, task.percent = "accepted", 100
    db.session.commit()
    if summary == "folded":
        progress_summary.rebuild(local_today())
        db.session.commit()
    for unit_code, by in (("NHC", "sections"), ("NHC", "phases"), ("P11", "sections")):
        body = api.get(f"/api/v1/plans/ncc-qc-2024/progress?unit={unit_code}&by={by}").json
        assert _api_numbers(body) == _matrix_numbers("ncc-qc-2024", unit_code, by), (unit_code, by)
        assert all(len(r["cells"]) == len(body["columns"]) for r in body["rows"])
    assert api.get("/api/v1/plans/ncc-qc-2024/progress").json["unit"]["code"] == "NHC"


def test_unit_progress_by_plan(api_as, make_user):
    from tracker.progress.service import plan_figures

    api = api_as(make_user("reporter", "P11"))
    body = api.get("/api/v1/units/P11/progress").json
    figures = plan_figures(unit("P11"), local_today())
    assert {p["plan"]: p["figures"]["items"] for p in body["plans"]} == {
        db.session.get(Plan, plan_id).key: f.items for plan_id, f in figures.items()
    }
    assert body["total"]["items"] == sum(f.items for f in figures.values())


# -- notifications ------------------------------------------------------------------------------------


def test_notifications_list_and_mark_read(api_as, make_user, make_task):
    from tracker.tasks.escalation import escalate

    due = date(2024, 4, 22)
    make_task("P11-QC", title="催办测试", due_on=due)
    reporter = make_user("reporter", "P11-QC")
    with time_machine.travel(date(2024, 4, 24), tick=False):
        escalate()
    db.session.commit()
    api = api_as(reporter)
    body = api.get("/api/v1/notifications").json
    # the seeded plan's tasks are overdue too; one pass inserts them in no set order
    [first] = [item["id"] for item in body["items"] if item["task_title"] == "催办测试"]
    assert body["unread"] >= 1
    read = api.post(f"/api/v1/notifications/{first}/read")
    assert read.status_code == 200 and read.json["read_at"]
    assert first not in {n["id"] for n in api.get("/api/v1/notifications?unread=true").json["items"]}
    stranger = api_as(make_user("reporter", "P31-QC"))
    assert stranger.post(f"/api/v1/notifications/{first}/read").status_code == 404
    assert api.post("/api/v1/notifications/read-all").json["changed"] == body["unread"] - 1
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == reporter.id, Notification.read_at.is_(None))
        )
        == 0
    )


# -- indicator forms ----------------------------------------------------------------------------------


@pytest.fixture
def period(make_user):
    from tracker.indicators.service import open_period

    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    found = open_period(plan, make_user("coordinator", "WZ"), "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ"))
    db.session.commit()
    return found


def test_indicator_forms_read_validate_every_field_save_and_submit(api_as, make_user, period):
    from tracker.indicators import service

    api = api_as(make_user("reporter", "WZ-LT"))
    forms = api.get("/api/v1/indicator-forms").json["items"]
    form = next(f for f in forms if f["period"]["id"] == period.id)
    detail = api.get(f"/api/v1/indicator-forms/{form['id']}").json
    assert detail["editable"] is True and detail["status"] == "draft"
    required = [f["code"] for f in detail["fields"] if f["required"]]
    numeric = [f for f in detail["fields"] if f["type"] == "count" and not f["derived"]]
    assert len(required) >= 2 and len(numeric) >= 2
    bad = {numeric[0]["code"]: "lots", numeric[1]["code"]: -3}
    refused = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"values": bad})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json["errors"]} == set(bad)
    assert service.form_values(db.session.get(service.IndicatorForm, form["id"])).numbers == {}
    saved = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"values": {numeric[0]["code"]: 3}})
    assert saved.status_code == 200, saved.json
    assert next(f for f in saved.json["fields"] if f["code"] == numeric[0]["code"])["value"] == 3
    incomplete = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"submit": True})
    assert incomplete.status_code == 422
    assert {e["field"] for e in incomplete.json["errors"]} == set(required) - {numeric[0]["code"]}
    unknown = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"values": {"NO_SUCH": 1}})
    assert unknown.status_code == 422 and unknown.json["errors"][0]["field"] == "NO_SUCH"
    values = {code: 2 for code in required}
    submitted = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"values": values, "submit": True})
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["status"] == "submitted" and submitted.json["editable"] is False
    locked = api.post(f"/api/v1/indicator-forms/{form['id']}/values", json={"values": values})
    assert locked.status_code == 409 and locked.json["error"] == "locked"
    other_county = api_as(make_user("reporter", "WZ-QTX" if unit_exists("WZ-QTX") else "P31-QC"))
    assert other_county.get(f"/api/v1/indicator-forms/{form['id']}").status_code == 404
    leader = api_as(make_user("leader", "NHC"))
    assert leader.get(f"/api/v1/indicator-forms/{form['id']}").status_code == 200


def unit_exists(code: str) -> bool:
    from tracker.auth.service import unit_by_code

    return unit_by_code(code) is not None


# -- the edges ------------------------------------------------------------------------------------------


def test_unknown_paths_and_methods_answer_in_json(api_as, make_user, make_task):
    api = api_as(make_user("reporter", "P11-QC"))
    missing = api.get("/api/v1/nothing/here")
    assert missing.status_code == 404 and missing.json["error"] == "not_found"
    wrong = api.client.delete("/api/v1/plans", headers={"Authorization": f"Bearer {api.secret}"})
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"] and wrong.json["error"] == "method_not_allowed"
    assert api.get("/api/v1/tasks/99999999999").status_code == 404
    assert api.get("/api/v1/tasks/0").status_code == 404


def test_the_description_and_its_page_are_served_locally(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"] == "3.1.0"
    assert "/api/v1/tasks/{task_id}/status" in spec.json["paths"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/tasks/{task_id}/status" in page and "StatusChange" in page
    assert "http://" not in page.replace("http://localhost", "") and "https://" not in page  # nothing from a CDN
