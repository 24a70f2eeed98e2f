"""Hostile input through every page's query parameters and the main forms: no 500, a message,
nothing stored wrongly, nothing executed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import JournalEntry, Task

CORPUS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "'; DROP TABLE tasks; --",
    "%' AND 1=0 UNION SELECT password_hash FROM users --",
    "x" * 100_000,
    "\u202e\u200b\ufeff𠜎𠜱👩‍⚕️",
    "\x00\x01\x07\x1b[31m",
    "2024-02-30",
    "-1",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "../../etc/passwd",
    "{{ 7*7 }}",
    "",
]
PARAMS = [
    "q",
    "status",
    "owner",
    "phase",
    "overdue",
    "due_from",
    "due_to",
    "page",
    "unit",
    "plan",
    "by",
    "escalated",
    "unread",
    "next",
    "year",
    "period",
    "level",
    "kind",
]


def _get_routes(app, task_id: int, plan_key: str):
    """Every GET page of the app, its URL arguments filled with real ids."""
    fill = {"key": plan_key, "task_id": task_id, "code": "zh_CN", "fmt": "csv", "name": "htmx.min.js"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor"):
            continue
        args = {}
        for arg in rule.arguments:
            if arg not in fill:
                break
            args[arg] = fill[arg]
        else:
            with app.test_request_context():
                from flask import url_for

                urls.append(url_for(rule.endpoint, **args))
    return urls


@pytest.fixture
def target(make_task):
    return make_task("P11-QC", title="原始标题", due_on=None)


def test_no_page_fails_on_hostile_query_parameters(app, client, auth, make_user, target):
    auth.login(make_user("coordinator", "P11"))
    urls = _get_routes(app, target.id, "ncc-qc-2024")
    assert len(urls) > 20
    tried = 0
    for url in urls:
        for value in CORPUS:
            response = client.get(url, query_string={name: value for name in PARAMS})
            tried += 1
            assert response.status_code < 500, (url, value[:40], response.status_code)
            body = response.get_data(as_text=True) if response.mimetype.startswith("text/html") else ""
            response.close()  # a streamed export holds its request context until closed
            assert "<script>alert(1)</script>" not in body and "<img src=x onerror" not in body, url
    assert tried >= 20 * len(CORPUS)


@pytest.mark.parametrize("value", CORPUS)
def test_the_task_edit_form_refuses_or_stores_safely(client, auth, make_user, target, value):
    auth.login(make_user("coordinator", "P11"))
    owner = target.owner_unit_id
    response = client.post(
        f"/tasks/{target.id}/edit",
        data={
            "version": target.version,
            "title": value,
            "description": value,
            "owner": owner,
            "co_owners": value,
            "due_on": value,
            "deliverable": value,
            "weight": value,
            "comment": value,
        },
    )
    assert response.status_code in (200, 303, 400, 409, 422), response.status_code
    db.session.expire_all()
    task = db.session.get(Task, target.id)
    if response.status_code in (400, 422):
        assert task.title == "原始标题"  # refused: nothing changed
        assert "invalid-feedback" in response.get_data(as_text=True) or "alert" in response.get_data(as_text=True)
    page = client.get(f"/tasks/{target.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x onerror" not in page
    assert "\x00" not in task.title


@pytest.mark.parametrize("value", ["-1", "101", "abc", "1e309", "99999999999999999999999", ""])
def test_the_percent_form_refuses_out_of_range_values(client, auth, make_user, target, value):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(f"/tasks/{target.id}/percent", data={"version": target.version, "percent": value})
    assert response.status_code in (400, 422)
    db.session.expire_all()
    assert db.session.get(Task, target.id).percent == 0


@pytest.mark.parametrize("value", CORPUS)
def test_comments_keep_the_text_escaped_and_refuse_what_is_too_long(client, auth, make_user, target, value):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(f"/tasks/{target.id}/comments", data={"text": value})
    assert response.status_code in (200, 303, 400, 422)
    stored = db.session.scalar(
        select(JournalEntry.comment).where(JournalEntry.task_id == target.id, JournalEntry.action == "comment")
    )
    if len(value) > 5000 or not value.strip():
        assert stored is None and response.status_code in (400, 422)
    page = client.get(f"/tasks/{target.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x onerror" not in page


@pytest.mark.parametrize("action", ["accepted", "nonsense", "<script>", "", "cancelled"])
def test_unknown_or_unallowed_status_changes_are_refused(client, auth, make_user, target, action):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.post(
        f"/tasks/{target.id}/status", data={"version": target.version, "target": action, "action": action}
    )
    assert response.status_code in (400, 403, 409, 422)
    db.session.expire_all()
    assert db.session.get(Task, target.id).status == "not_started"


def test_a_nul_character_is_refused_with_a_readable_page(client, auth, make_user, target):
    auth.login(make_user("reporter", "P11-QC"))
    response = client.get("/tasks", query_string={"q": "a\x00b"})
    assert response.status_code == 400 and "<html" in response.get_data(as_text=True)
    posted = client.post(f"/tasks/{target.id}/comments", data={"text": "意见\x00"})
    assert posted.status_code == 400
    assert (
        db.session.scalar(
            select(JournalEntry).where(JournalEntry.task_id == target.id, JournalEntry.action == "comment")
        )
        is None
    )


# --- every GET route as an HTMX fragment, for every role (issue 16, finding 8) ---------------------------

HX_TARGET = re.compile(r'hx-target="#([\w-]+)"')


@pytest.fixture
def walk_world(app, client, tmp_path, make_user, make_task):
    """One object of each kind a route takes, all within Wuzhong (WZ): a task with evidence and a
    child, an indicator period with a submitted form, a draft, a provincial scheme and an account."""
    import io
    import uuid
    from datetime import date

    from tests.conftest import store_bytes, unit
    from tracker.importer.draft import service as drafts
    from tracker.indicators import service as indicators
    from tracker.models import Cascade, Evidence, IndicatorForm, Plan
    from tracker.schemes import service as schemes

    users = {
        "admin": make_user("admin", "NHC"),
        "coordinator": make_user("coordinator", "WZ"),
        "reporter": make_user("reporter", "WZ-LT"),
        "leader": make_user("leader", "NHC"),
    }
    task = make_task("WZ-LT", title="漫游任务", due_on=date(2030, 1, 31))
    child = make_task("WZ-LT", parent=task, title="漫游子任务")
    evidence = Evidence(
        task=task,
        user=users["reporter"],
        kind="file",
        note="",
        original_name="证据.pdf",
        stored_name=uuid.uuid4().hex + ".pdf",
        size=9,
        mime_type="application/pdf",
    )
    db.session.add(evidence)
    wuzhong = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = indicators.open_period(
        wuzhong, users["coordinator"], "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ")
    )
    db.session.commit()
    store_bytes(evidence.stored_name, b"%PDF-1.4\n")
    form = db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit("WZ-LT").id)
    )
    layout = indicators.layout_for(period)
    indicators.save_form(
        form, users["reporter"], {f"v-{f.code}": "2" for f in layout.fields if f.required}, submit=True
    )
    national = db.session.scalar(select(Plan).where(Plan.key == "tumor-2021"))
    province = make_user("coordinator", "P64")
    scheme = schemes.start_scheme(national, province, "宁夏回族自治区肿瘤诊疗质量提升行动实施方案")
    schemes.upload_document(scheme, province, io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"), "方案.pdf")
    db.session.commit()

    previous = app.config.get("DRAFT_DIR")
    app.config["DRAFT_DIR"] = str(tmp_path / "drafts")
    from tests.conftest import Auth

    Auth(client).login(users["coordinator"])
    notice = "关于印发《方案》的通知\n一、工作任务\n（一）建设卒中地图。吴忠市卫生健康委要于2026年5月31日前公布。\n"
    uploaded = client.post(
        "/drafts", data={"document": (io.BytesIO(notice.encode()), "fangan.txt")}, content_type="multipart/form-data"
    )
    assert uploaded.status_code == 303, uploaded.status_code
    draft_id = uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    draft = drafts.load_draft(draft_id, users["coordinator"])
    uid = next(iter(drafts.walk(draft["tasks"])))["uid"]
    cascade = db.session.scalar(select(Cascade.id).order_by(Cascade.id).limit(1))
    from tracker.exports import jobs as export_jobs

    job = export_jobs.start_export(users["coordinator"], "tasks", "csv", {})
    db.session.commit()
    fill = {
        "job_id": job.id,
        "key": "ncc-qc-2024",
        "task_id": task.id,
        "evidence_id": evidence.id,
        "period_id": period.id,
        "form_id": form.id,
        "draft_id": draft_id,
        "uid": uid,
        "cascade_id": cascade,
        "scheme_id": scheme.id,
        "user_id": users["reporter"].id,
        "code": "WZ",
        "fmt": "csv",
        "token": "no-such-token",
        "anything": "nowhere",
    }
    keys = {
        "indicators.plan_page": "wuzhong-2016",
        "schemes.scheme_overview": "tumor-2021",
        "plans.tree_children_page": task.plan.key,
    }
    yield users, fill, keys, {"task": task, "child": child, "form": form}
    app.config["DRAFT_DIR"] = previous


def _walk_urls(app, fill, keys, child_id):
    from flask import url_for

    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor"):
            continue
        args = {name: fill[name] for name in rule.arguments}
        if "key" in args:
            args["key"] = keys.get(rule.endpoint, args["key"])
        if rule.endpoint == "plans.tree_children_page":
            args["task_id"] = child_id
        with app.test_request_context():
            urls.append((rule.endpoint, url_for(rule.endpoint, **args)))
    return urls


class _Failed:
    """An exception the test client propagated (TESTING): in production a 500."""

    status_code, mimetype = 500, "text/plain"

    def __init__(self, exc):
        self.exc = exc

    def get_data(self, as_text=False):
        return repr(self.exc)

    def close(self):
        pass


def _answer(client, url, headers=None):
    try:
        return client.get(url, headers=headers or {})
    except Exception as exc:  # noqa: BLE001 - every failure of the walk is reported, not the first
        db.session.rollback()
        return _Failed(exc)


def test_every_get_route_answers_an_htmx_request_for_every_role_without_a_500(app, client, auth, walk_world):
    """Each GET route, first as a page and then as an HTMX request aimed at #main and at every
    target the page itself swaps into (the fragment a block renders alone), for each role."""
    users, fill, keys, objects = walk_world
    urls = _walk_urls(app, fill, keys, objects["task"].id)
    assert len(urls) > 60
    failures, fragments = [], 0
    for role, user in users.items():
        auth.login(user)
        for endpoint, url in urls:
            page = _answer(client, url)
            body = page.get_data(as_text=True) if page.mimetype == "text/html" else ""
            page.close()
            if page.status_code >= 500:
                failures.append((role, endpoint, url, None, page.status_code))
            for target in ["main", None, *sorted(set(HX_TARGET.findall(body)))]:
                headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost" + url}
                if target:
                    headers["HX-Target"] = target
                response = _answer(client, url, headers)
                response.close()
                fragments += 1
                if response.status_code >= 500:
                    failures.append((role, endpoint, url, target, response.get_data(as_text=True)[:120]))
    assert failures == [], "\n".join(map(str, failures))
    assert fragments > 4 * len(urls) * 2


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_approving_or_returning_an_indicator_form_wrongly_answers_a_form_error_never_a_500(
    client, auth, walk_world, htmx
):
    """A reason missing or too long, or a form approved twice: 400 with the error on the form."""
    users, _fill, _keys, objects = walk_world
    form = objects["form"]
    headers = {"HX-Request": "true", "HX-Target": "main"} if htmx else {}
    auth.login(users["coordinator"])
    for data in ({"reason": ""}, {"reason": "   "}, {"reason": "x" * 2001}, {"reason": CORPUS[0]}, {}):
        response = client.post(f"/indicators/forms/{form.id}/return", data=data, headers=headers)
        assert response.status_code in (303, 400), (data, response.status_code)
        if response.status_code == 400:
            assert 'id="form-error"' in response.text and "<script>alert(1)</script>" not in response.text
        if response.status_code == 303:  # the harmless reason was taken: submit it again for the next round
            break
    assert client.post(f"/indicators/forms/{form.id}/approve", headers=headers).status_code == 400  # returned now
    response = client.post(f"/indicators/forms/{form.id}/approve", headers=headers)
    assert response.status_code == 400 and 'id="form-error"' in response.text
    assert "Only a submitted form can be approved or returned." in response.text or "已提交" in response.text
    auth.login(users["reporter"])  # the reporting unit itself may not review: refused, not a 500
    assert client.post(f"/indicators/forms/{form.id}/approve", headers=headers).status_code in (400, 403)
    assert client.post(f"/indicators/forms/{form.id}/return", data={"reason": "x"}, headers=headers).status_code in (
        400,
        403,
    )


@pytest.mark.parametrize(
    "target",
    ["/tasks\r\nSet-Cookie: x=1", "\r\n/", "/\n", "/tasks?q=\r\nX: 1", "/%0d%0a", "/\u2028", "/é"],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_a_sign_in_with_cr_or_lf_in_next_lands_on_a_safe_page(client, make_user, target, htmx):
    from tests.conftest import PASSWORD

    user = make_user("reporter", "P11-QC")
    headers = {"HX-Request": "true"} if htmx else {}
    assert client.get("/login", query_string={"next": target}, headers=headers).status_code == 200
    response = client.post(
        "/login", query_string={"next": target}, data={"username": user.username, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "Set-Cookie" not in str(response.headers).split("\n", 1)[0]
    for posted in ("/lang/en", "/notifications/read-all"):
        answer = client.post(posted, data={"next": target}, headers=headers)
        assert answer.status_code < 500 and "\n" not in answer.headers.get("Location", "")


def test_no_page_template_defines_or_imports_anything_outside_its_blocks(app):
    """A template that extends another runs its top level only for the whole page: a macro, an
    import or a `set` there is undefined when HTMX asks for one block alone (a 500). They belong
    inside the block that uses them (or in a _macros file imported there)."""
    from jinja2 import nodes

    root = Path(app.root_path) / "templates"
    outside = []
    for path in sorted(root.rglob("*.html")):
        tree = app.jinja_env.parse(path.read_text(encoding="utf-8"))
        if not any(isinstance(node, nodes.Extends) for node in tree.body):
            continue
        for node in tree.body:
            if isinstance(node, (nodes.FromImport, nodes.Import, nodes.Macro, nodes.Assign, nodes.AssignBlock)):
                outside.append(f"{path.relative_to(root)}:{node.lineno} {type(node).__name__}")
    assert outside == []


def test_a_lazy_message_shows_what_a_user_typed_as_text(app):
    """Flask-Babel's lazy strings are safe markup to Jinja; ours escape (a field error that quotes
    the input, e.g. the unit picker's "No unit found: …", must not run the input as HTML)."""
    from flask import render_template_string

    from tracker.lazy_text import lazy_gettext

    with app.test_request_context():
        shown = render_template_string(
            "{{ m }}", m=lazy_gettext("No unit found: %(text)s", text="<img src=x onerror=alert(1)>")
        )
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown


def test_no_module_uses_flask_babels_lazy_gettext_directly():
    root = Path(__file__).resolve().parent.parent / "tracker"
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "lazy_text.py" and re.search(r"from flask_babel import[^\n]*lazy_", path.read_text("utf-8"))
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("path", ["/api/v1/tasks/1/evidence", "/tasks/1/evidence", "/login"])
def test_a_multipart_part_without_a_readable_name_is_a_400_not_a_500(client, path):
    """Found by the API fuzzer: a part named `"\\"` reaches the form with the name None."""
    boundary = "6f9cf19471cdba90f3de805033f91d6e"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="\\"\r\n\r\nnull\r\n--{boundary}--\r\n'
    response = client.post(path, data=body.encode(), content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400


POST_FIELDS = [
    "title",
    "note",
    "reason",
    "status",
    "target",
    "percent",
    "due_on",
    "unit",
    "owner",
    "next",
    "back",
    "q",
    "version",
    "message",
    "text",
    "comment",
    "parent",
    "task",
    "name",
    "query",
]
CSRF_TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')  # base.html's hx-headers


def _post_urls(app, fill, keys, child_id):
    """Every POST route, its URL arguments filled with the walk's real ids, and once more with a
    number that is no object's id (where the route takes one)."""
    from flask import url_for

    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods:
            continue
        args = {name: fill.get(name, 10**9) for name in rule.arguments}
        if "key" in args:
            args["key"] = keys.get(rule.endpoint, args["key"])
        missing = {name: 10**9 if isinstance(value, int) else value for name, value in args.items()}
        with app.test_request_context():
            urls.append((rule.endpoint, url_for(rule.endpoint, **args)))
            if missing != args:
                urls.append((rule.endpoint, url_for(rule.endpoint, **missing)))
                huge = {name: 10**20 if isinstance(value, int) else value for name, value in args.items()}
                urls.append((rule.endpoint, url_for(rule.endpoint, **huge)))
    return urls


def _post(client, url, data, headers):
    try:
        return client.post(url, data=data, headers=headers)
    except Exception as exc:  # noqa: BLE001 - every failure of the walk is reported, not the first
        db.session.rollback()
        return _Failed(exc)


def test_every_post_route_answers_hostile_bodies_over_htmx_without_a_500(app, client, auth, walk_world):
    """Each POST route, as a coordinator and as a reporter, with HTMX headers and a valid CSRF
    token: a body per corpus value, that value in every common field name."""
    users, fill, keys, objects = walk_world
    urls = _post_urls(app, fill, keys, objects["task"].id)
    assert len(urls) > 60
    failures, sent = [], 0
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for role in ("coordinator", "reporter"):
            for endpoint, url in urls:
                auth.login(users[role])  # a route may have signed the user out (logout, sign out everywhere)
                page = client.get("/account", follow_redirects=True)
                found = CSRF_TOKEN.search(page.get_data(as_text=True))
                assert found, (role, endpoint, page.status_code, page.headers.get("Location"))
                token = found.group(1)
                headers = {"HX-Request": "true", "HX-Current-URL": "http://localhost/", "X-CSRFToken": token}
                for value in CORPUS:
                    data = {name: value for name in POST_FIELDS} | {"csrf_token": token}
                    response = _post(client, url, data, headers)
                    response.close()
                    sent += 1
                    if response.status_code >= 500:
                        failures.append((role, endpoint, url, value[:30], response.get_data(as_text=True)[:160]))
                        break
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert failures == [], "\n".join(map(str, failures))
    assert sent > 2 * len(urls) * 10
