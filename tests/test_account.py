"""One's own account: password (current one required, the policy applies), e-mail, telephone, language."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import PASSWORD
from tracker.extensions import db
from tracker.models import AuditEntry


def _actions(user) -> list[tuple]:
    return [
        (e.action, e.field)
        for e in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "user", AuditEntry.subject_id == user.id)
            .order_by(AuditEntry.id)
        )
    ]


def test_a_user_changes_their_password_with_the_current_one(app, client, make_user):
    user = make_user("reporter", "P11-QC", username="changer")
    client.post("/login", data={"username": "changer", "password": PASSWORD})
    wrong = client.post(
        "/account/password", data={"current": "not-it-1", "new": "another-9x", "repeated": "another-9x"}
    )
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.get_data(as_text=True)
    for new, repeated, message in [
        ("another-9x", "another-9y", "不一致"),
        ("onlyletters", "onlyletters", "字母和数字"),
        ("changer-123", "changer-123", "用户名"),
        (PASSWORD, PASSWORD, "不能与当前密码相同"),
    ]:
        response = client.post("/account/password", data={"current": PASSWORD, "new": new, "repeated": repeated})
        assert response.status_code == 422 and message in response.get_data(as_text=True), new
    response = client.post(
        "/account/password", data={"current": PASSWORD, "new": "another-9x", "repeated": "another-9x"}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert client.get("/plans").status_code == 200  # this browser stays signed in
    db.session.refresh(user)
    assert user.check_password("another-9x") and not user.check_password(PASSWORD)
    assert _actions(user) == [("change_password", "password")]
    assert app.test_client().post("/login", data={"username": "changer", "password": "another-9x"}).status_code == 303


def test_a_user_sets_their_email_phone_and_language(client, auth, make_user):
    user = auth.login(make_user("reporter", "P11-QC"))
    assert "我的账号" in client.get("/account").get_data(as_text=True)
    bad = client.post("/account", data={"email": "nope", "phone": "", "language": ""})
    assert bad.status_code == 422
    response = client.post("/account", data={"email": "me@example.cn", "phone": "0951-1234567", "language": "en"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert (user.email, user.phone, user.language) == ("me@example.cn", "0951-1234567", "en")
    assert "My account" in client.get("/account").get_data(as_text=True)  # the language applies at once
    assert sorted(_actions(user)) == [("account", "email"), ("account", "language"), ("account", "phone")]


def test_the_language_of_the_account_applies_at_sign_in(app, make_user):
    user = make_user("reporter", "P11-QC", username="speaks_en")
    user.language = "en"
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "speaks_en", "password": PASSWORD})
    assert "My work" in client.get("/").get_data(as_text=True)


def test_the_nav_links_to_the_account(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    assert 'href="/account"' in client.get("/").get_data(as_text=True)


# --- 通知设置: per kind, inbox only or also by e-mail ------------------------------------------------


def _choices(**overrides) -> dict:
    from tracker.models.notify import KINDS, LEADER_GROUP

    data = {f"email-{kind}": "email" for kind in KINDS if kind != LEADER_GROUP}
    data.update({f"email-{kind}": value for kind, value in overrides.items()})
    return data


def _email_on(user) -> dict:
    from tracker.models import NotificationPreference

    return dict(
        db.session.execute(
            select(NotificationPreference.kind, NotificationPreference.email).where(
                NotificationPreference.user_id == user.id
            )
        ).all()
    )


def test_the_account_page_sets_per_kind_inbox_only_or_also_email(app, client, auth, make_user):
    user = auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/account").get_data(as_text=True)
    assert "通知设置" in page and "退回" in page and "仅站内" in page and "站内和邮件" in page
    assert "各单位逾期汇总" not in page  # a leader's kind, not a reporter's
    assert "checked" in page.split('id="pref-returned-email"')[1].split(">")[0]  # no row: also by e-mail
    response = client.post("/account/notifications", data=_choices(returned="inbox", commented="inbox"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/account#notification-settings")
    assert _email_on(user) == {"returned": False, "commented": False}
    page = client.get("/account").get_data(as_text=True)
    assert 'value="inbox" id="pref-returned-inbox"' in page
    returned_inbox = page.split('id="pref-returned-inbox"')[1].split(">")[0]
    assert "checked" in returned_inbox
    # back to e-mail: the row says so; journaled in words
    client.post("/account/notifications", data=_choices(commented="inbox"))
    assert _email_on(user) == {"returned": True, "commented": False}
    assert _actions(user).count(("notification_preference", "notifications")) == 3
    from tracker.models import AuditEntry

    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.subject_id == user.id)).first()
    assert entry.old_value == "已退回: 站内和邮件" and entry.new_value == "已退回: 仅站内"


def test_bad_notification_settings_are_refused_and_nothing_is_written(app, client, auth, make_user):
    user = auth.login(make_user("reporter", "P11-QC"))
    for data in (_choices(returned="fax"), {"email-returned": "inbox"}, _choices(leader_group="inbox")):
        response = client.post("/account/notifications", data=data)
        assert response.status_code == 422 and "仅站内或同时邮件" in response.get_data(as_text=True)
    assert _email_on(user) == {}
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/account/notifications", data=_choices(returned="inbox")).status_code in (400, 422)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _email_on(user) == {}


def test_a_user_with_email_off_for_returned_gets_no_mail_for_it_while_another_does(
    app, client, auth, make_user, make_task
):
    from tests.delivery_rig import SMTPServer
    from tracker.models import Notification
    from tracker.notifications.delivery import deliver_pending
    from tracker.plans.operations import change_status

    quiet, keen = make_user("reporter", "P11-QC"), make_user("reporter", "P11-QC")
    quiet.email, keen.email = "quiet@example.cn", "keen@example.cn"
    reviewer = make_user("coordinator", "P11")
    db.session.commit()
    auth.login(quiet)
    client.post("/account/notifications", data=_choices(returned="inbox"))
    task = make_task("P11-QC", title="退回邮件测试任务", status="submitted")
    with SMTPServer() as smtp:
        app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port)
        try:
            change_status(task, reviewer, "returned", "材料不全")
            db.session.commit()
            states = dict(
                db.session.execute(
                    select(Notification.user_id, Notification.email_state).where(
                        Notification.task_id == task.id, Notification.kind == "returned"
                    )
                ).all()
            )
            assert states == {quiet.id: "none", keen.id: "pending"}
            report = deliver_pending()
        finally:
            app.config.update(SMTP_HOST="", SMTP_PORT=25)
    assert report.mails_sent == 1, report.errors
    recipients = [rcpts for _key, rcpts, _tasks, _body in smtp.mailbox.messages]
    assert recipients == [("keen@example.cn",)]
    body = smtp.mailbox.messages[0][3]
    assert f"/tasks/{task.id}" in body and "退回" in body
