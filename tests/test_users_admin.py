"""Accounts in the web: an admin (and a coordinator, under their own unit) creates, edits,
disables, re-enables and resets accounts and imports them from a sheet; every change journaled."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import PASSWORD, unit
from tracker.auth.sessions import count_sessions
from tracker.extensions import db
from tracker.models import AuditEntry, Notification, OrgUnit, User
from tracker.models.notify import NONE, PENDING


def _password_on(page: str) -> str:
    found = re.findall(r'<code class="temporary-password">([^<]+)</code>', page)
    assert found, page[:2000]
    return found[0]


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _journal(user: User) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "user", AuditEntry.subject_id == user.id)
            .order_by(AuditEntry.id)
        )
    )


def _new(client, **values):
    data = {
        "username": "new_rep",
        "display_name": "新填报员",
        "unit": str(unit("P11-QC").id),
        "role": "reporter",
        "email": "rep@example.cn",
        "phone": "010-12345678",
    }
    data.update(values)
    return client.post("/admin/users/new", data=data)


def test_an_admin_creates_an_account_that_signs_in_with_its_temporary_password_and_must_change_it(
    client, auth, make_user
):
    auth.login(make_user("admin", "NHC"))
    response = _new(client)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    word = _password_on(response.get_data(as_text=True))
    user = _user("new_rep")
    assert (user.display_name, user.unit.code, user.role, user.email, user.phone) == (
        "新填报员",
        "P11-QC",
        "reporter",
        "rep@example.cn",
        "010-12345678",
    )
    assert user.must_change_password and word not in user.password_hash
    assert [e.action for e in _journal(user)] == ["create"]
    auth.logout()
    response = client.post("/login", data={"username": "new_rep", "password": word})
    assert response.status_code == 303 and response.headers["Location"] == "/account/password"
    assert client.get("/plans").headers["Location"] == "/account/password"  # every page leads there
    response = client.post(
        "/account/password", data={"current": word, "new": "fresh-pass-42", "repeated": "fresh-pass-42"}
    )
    assert response.status_code == 303
    assert client.get("/plans").status_code == 200
    db.session.refresh(user)
    assert not user.must_change_password and user.check_password("fresh-pass-42") and user.last_login_at is not None


def test_an_account_needs_a_free_well_formed_user_name_and_good_contacts(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    make_user("reporter", "P11-QC", username="taken_name")
    for values, message in [
        ({"username": "taken_name"}, "已被占用"),
        ({"username": "有 空格"}, "用户名"),
        ({"email": "not-mail"}, "不是有效的电子邮件地址"),
        ({"phone": "abc"}, "不是电话号码"),
    ]:
        response = _new(client, **values)
        assert response.status_code == 422, values
        assert message in response.get_data(as_text=True), values
    assert _user("new_rep") is None


def test_a_coordinator_manages_accounts_only_under_their_unit_and_never_gives_admin(client, auth, make_user):
    coordinator = auth.login(make_user("coordinator", "P11"))
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert 'value="admin"' not in page and 'value="leader"' not in page
    assert _new(client, role="admin").status_code == 422
    assert _new(client, role="leader").status_code == 422
    assert _new(client, unit=str(unit("P31-QC").id)).status_code == 422  # another province
    assert _user("new_rep") is None
    assert _new(client).status_code == 200
    outside = make_user("reporter", "P31-QC")
    admin_here = make_user("admin", "P11")
    assert client.get(f"/admin/users/{outside.id}").status_code == 404
    assert client.post(f"/admin/users/{outside.id}/disable").status_code == 404
    assert client.post(f"/admin/users/{outside.id}/reset-password").status_code == 404
    assert client.get(f"/admin/users/{admin_here.id}").status_code == 403
    assert client.post(f"/admin/users/{admin_here.id}/disable").status_code == 403
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "new_rep" in listing and outside.username not in listing
    assert coordinator.username in listing


def test_a_coordinator_cannot_edit_an_account_into_a_unit_outside_their_subtree(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    target = make_user("reporter", "P11-QC")
    target.email = "before@example.cn"
    db.session.commit()
    elsewhere = unit("P31-QC")
    response = client.post(
        f"/admin/users/{target.id}",
        data={
            "display_name": "改名",
            "unit": str(elsewhere.id),
            "role": "reporter",
            "email": "after@example.cn",
            "phone": "",
            "comment": "调到外省",
        },
    )
    assert response.status_code == 422
    # the unit's error, naming the unit refused
    assert f"单位“{elsewhere.name}”不是本单位或下级单位。" in response.get_data(as_text=True)
    db.session.expire_all()
    target = db.session.get(User, target.id)
    assert (target.unit.code, target.display_name, target.email) == ("P11-QC", target.username, "before@example.cn")
    assert _journal(target) == []  # nothing half-written, nothing journaled
    assert client.get(f"/admin/users/{target.id}").status_code == 200  # still theirs to manage


def test_reporters_and_leaders_have_no_accounts_pages(client, auth, make_user):
    for role in ("reporter", "leader"):
        auth.login(make_user(role, "P11"))
        assert client.get("/admin/users").status_code == 403
        assert client.get("/admin/users/import").status_code == 403


def test_an_edit_is_journaled_field_by_field(client, auth, make_user):
    admin = auth.login(make_user("admin", "NHC"))
    target = make_user("reporter", "P11-QC")
    response = client.post(
        f"/admin/users/{target.id}",
        data={
            "display_name": "改名",
            "unit": str(unit("P31-QC").id),
            "role": "coordinator",
            "email": "x@example.cn",
            "phone": "",
            "comment": "调动",
        },
    )
    assert response.status_code == 303
    db.session.refresh(target)
    assert (target.display_name, target.unit.code, target.role, target.email) == (
        "改名",
        "P31-QC",
        "coordinator",
        "x@example.cn",
    )
    rows = {(e.field, e.old_value, e.new_value) for e in _journal(target)}
    names = dict(
        db.session.execute(select(OrgUnit.code, OrgUnit.name).where(OrgUnit.code.in_(("P11-QC", "P31-QC")))).all()
    )
    moved = ("unit_id", names["P11-QC"], names["P31-QC"])  # the journal names units, never by code
    assert {moved, ("role", "reporter", "coordinator"), ("email", "", "x@example.cn")} <= rows
    assert all(e.actor_id == admin.id and e.comment == "调动" for e in _journal(target))


def test_a_disabled_account_cannot_sign_in_loses_its_session_and_its_mail_until_enabled_again(
    app, client, auth, make_user, make_task
):
    target = make_user("reporter", "P11-QC", username="to_disable")
    from tracker.models import Escalation

    task = make_task("P11-QC")
    escalation = Escalation(
        task_id=task.id, due_on=task.created_at.date(), rank=1, level="overdue", state="fired", run_id="r"
    )
    db.session.add(escalation)
    db.session.flush()
    db.session.add(
        Notification(
            user_id=target.id, escalation_id=escalation.id, task_id=task.id, level="overdue", email_state=PENDING
        )
    )
    db.session.commit()
    other, idle = app.test_client(), app.test_client()
    for browser in (other, idle):
        assert browser.post("/login", data={"username": "to_disable", "password": PASSWORD}).status_code == 303
    assert other.get("/plans").status_code == 200
    assert count_sessions(target) == 2
    auth.login(make_user("admin", "NHC"))
    assert client.post(f"/admin/users/{target.id}/disable", data={"comment": "离职"}).status_code == 303
    db.session.refresh(target)
    assert not target.active
    assert count_sessions(target) == 0  # the session records end with the disabling
    assert other.get("/plans").status_code == 302  # signed out at the next request
    assert other.post("/login", data={"username": "to_disable", "password": PASSWORD}).status_code == 400
    assert db.session.scalar(select(Notification.email_state).where(Notification.user_id == target.id)) == NONE
    assert client.post(f"/admin/users/{target.id}/enable").status_code == 303
    # re-enabling brings no old session back: a browser untouched since the disabling must sign in again
    assert idle.get("/plans").status_code == 302
    assert app.test_client().post("/login", data={"username": "to_disable", "password": PASSWORD}).status_code == 303
    assert [(e.action, e.comment) for e in _journal(target)] == [("disable", "离职"), ("enable", "")]


def test_a_disabled_account_gets_no_escalation_notices(make_user, make_task):
    from datetime import datetime, timedelta, timezone

    from tracker.tasks.escalation import escalate
    from tracker.timeutil import local_today

    kept = make_user("reporter", "P11-QC")
    gone = make_user("reporter", "P11-QC")
    gone.active = False
    db.session.commit()
    task = make_task("P11-QC", due_on=local_today() - timedelta(days=2), status="in_progress")
    escalate(datetime.now(timezone.utc))
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.task_id == task.id)))
    assert kept.id in told and gone.id not in told


def test_no_one_disables_themselves(client, auth, make_user):
    admin = auth.login(make_user("admin", "NHC"))
    client.post(f"/admin/users/{admin.id}/disable")
    db.session.refresh(admin)
    assert admin.active


def test_a_reset_password_must_be_changed_at_the_next_sign_in(app, client, auth, make_user):
    target = make_user("reporter", "P11-QC", username="forgetful")
    auth.login(make_user("coordinator", "P11"))
    response = client.post(f"/admin/users/{target.id}/reset-password")
    assert response.status_code == 200
    word = _password_on(response.get_data(as_text=True))
    other = app.test_client()
    assert other.post("/login", data={"username": "forgetful", "password": PASSWORD}).status_code == 400
    assert (
        other.post("/login", data={"username": "forgetful", "password": word}).headers["Location"]
        == "/account/password"
    )
    weak = other.post("/account/password", data={"current": word, "new": "short1", "repeated": "short1"})
    assert weak.status_code == 422 and "至少" in weak.get_data(as_text=True)
    assert (
        other.post(
            "/account/password", data={"current": word, "new": "better-pass-7", "repeated": "better-pass-7"}
        ).status_code
        == 303
    )
    assert [e.action for e in _journal(target)] == ["reset_password", "change_password"]


def test_the_last_sign_in_is_shown(client, auth, make_user, app):
    target = make_user("reporter", "P11-QC", username="signs_in")
    app.test_client().post("/login", data={"username": "signs_in", "password": PASSWORD})
    auth.login(make_user("admin", "NHC"))
    page = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert 'id="last-sign-in">从未' not in page and re.search(r'id="last-sign-in">\d{4}-\d\d-\d\d \d\d:\d\d', page)


def test_the_list_filters_by_search_unit_role_and_state(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    a = make_user("reporter", "P11-QC", username="find_me_1")
    b = make_user("coordinator", "P31-QC", username="find_me_2")
    b.active = False
    db.session.commit()
    page = client.get("/admin/users?q=find_me").get_data(as_text=True)
    assert a.username in page and b.username in page
    page = client.get("/admin/users?q=find_me&unit=P11").get_data(as_text=True)
    assert a.username in page and b.username not in page
    page = client.get("/admin/users?q=find_me&state=disabled").get_data(as_text=True)
    assert a.username not in page and b.username in page
    fragment = client.get("/admin/users?q=find_me&role=reporter", headers={"HX-Request": "true"})
    assert "app-navbar" not in fragment.get_data(as_text=True) and a.username in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


# --- import ---------------------------------------------------------------------------------------

HEADINGS = ["用户名", "姓名", "单位", "角色", "邮箱", "电话"]


def _rows(n: int) -> list[list[str]]:
    units = ["P11-QC", "北京市卫生健康委", "P31-QC", "上海市卫生健康委"]
    roles = ["reporter", "填报员", "coordinator", "督办员"]
    return [
        [f"hosp{i:03d}", f"医院{i:03d} 填报员", units[i % 4], roles[i % 4], f"h{i}@example.cn", f"0951-{1000000 + i}"]
        for i in range(n)
    ]


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADINGS)
    for row in rows:
        sheet.append(row)
    handle = io.BytesIO()
    workbook.save(handle)
    return handle.getvalue()


def _csv(rows: list[list[str]]) -> bytes:
    handle = io.StringIO()
    writer = csv.writer(handle)
    writer.writerow(HEADINGS)
    writer.writerows(rows)
    return handle.getvalue().encode("utf-8-sig")


def _import(client, data: bytes, name: str):
    return client.post(
        "/admin/users/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def _count_hosp() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.username.like("hosp%")))


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_300_row_sheet_with_3_bad_rows_names_all_3_and_stores_nothing_then_the_fixed_one_stores_300(
    client, auth, make_user, kind
):
    auth.login(make_user("admin", "NHC"))
    rows = _rows(300)
    rows[9][2] = "不存在的单位"  # sheet row 11, column C
    rows[149][3] = "superuser"  # sheet row 151, column D
    rows[299][0] = rows[0][0]  # sheet row 301, column A: the same user name as row 2
    build = _xlsx if kind == "xlsx" else _csv
    response = _import(client, build(rows), f"accounts.{kind}")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    problems = re.findall(r"<li>(第 \d+ 行.*?)</li>", page)
    assert len(problems) == 3, problems
    assert "第 11 行，C 列（单位）" in problems[0] and "不存在的单位" in problems[0]
    assert "第 151 行，D 列（角色）" in problems[1] and "superuser" in problems[1]
    assert "第 301 行，A 列（用户名）" in problems[2] and "第 2 行" in problems[2]
    assert _count_hosp() == 0
    rows[9][2], rows[149][3], rows[299][0] = "P11-QC", "reporter", "hosp299"
    response = _import(client, build(rows), f"accounts.{kind}")
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert _count_hosp() == 300
    assert len(re.findall(r'class="temporary-password"', response.get_data(as_text=True))) == 300
    assert _user("hosp001").unit.code == "P11" and _user("hosp003").role == "coordinator"
    assert all(_user("hosp007").must_change_password for _ in [0])
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "create", AuditEntry.comment.like("%accounts.%"))
        )
        == 300
    )


def test_a_coordinator_imports_only_into_their_subtree_and_roles(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    rows = [
        ["bj1", "甲", "P11-QC", "reporter", "", ""],
        ["sh1", "乙", "P31-QC", "reporter", "", ""],
        ["bj2", "丙", "P11", "admin", "", ""],
    ]
    response = _import(client, _xlsx(rows), "a.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "第 3 行，C 列（单位）" in page and "第 4 行，D 列（角色）" in page
    assert _user("bj1") is None


def test_an_ambiguous_unit_name_asks_for_the_code(client, auth, make_user, make_unit):
    auth.login(make_user("admin", "NHC"))
    make_unit("DUP-A", "P11", name="同名医院")
    make_unit("DUP-B", "P31", name="同名医院")
    response = _import(client, _xlsx([["dup1", "甲", "同名医院", "reporter", "", ""]]), "a.xlsx")
    assert response.status_code == 422 and "DUP-A" in response.get_data(as_text=True)


def test_a_file_that_is_no_sheet_or_lacks_columns_is_refused(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    assert "不是 Excel" in _import(client, b"not a zip", "a.xlsx").get_data(as_text=True)
    response = _import(client, "用户名,姓名\nx,y\n".encode(), "a.csv")
    assert response.status_code == 422 and "缺少" in response.get_data(as_text=True)


def test_the_template_sheet_downloads_and_its_example_row_imports(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    response = client.get("/admin/users/import/template.xlsx")
    assert response.status_code == 200
    data = response.get_data()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[1]][:4] == ["用户名 *", "显示名称 *", "单位（代码或全称） *", "角色 *"]
    assert _import(client, data, "template.xlsx").status_code == 200
    assert _user("bj_hosp01") is not None
