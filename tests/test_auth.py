"""Signing in and out, CSRF on the login form, the users CLI."""

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tracker import create_app
from tracker.config import TestConfig
from tracker.extensions import db
from tracker.models import User


def test_login_page_is_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and "用户名" in page and "密码" in page


def test_pages_need_a_login(client):
    response = client.get("/plans")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_user_signs_in_and_out(client, make_user):
    user = make_user("reporter", "P11-QC", username="bj_reporter")
    response = client.post("/login", data={"username": "bj_reporter", "password": PASSWORD})
    assert response.status_code == 303
    assert client.get("/plans").status_code == 200
    assert client.post("/logout").status_code == 303
    assert client.get("/plans").status_code == 302
    assert user.check_password(PASSWORD)


def test_a_wrong_password_is_refused_with_a_message(client, make_user):
    make_user("reporter", "P11-QC", username="bj_reporter")
    response = client.post("/login", data={"username": "bj_reporter", "password": "wrong-password"})
    assert response.status_code == 400
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_passwords_are_hashed(make_user):
    user = make_user("reporter", "P11-QC")
    assert PASSWORD not in user.password_hash


def test_login_after_login_goes_to_plans_and_next_is_kept_local(client, make_user):
    make_user("reporter", "P11-QC", username="bj_reporter")
    response = client.post("/login?next=https://evil.example/x", data={"username": "bj_reporter", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_the_login_form_needs_its_csrf_token(database_url):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=database_url, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page


def test_language_switch_to_english(client):
    client.post("/lang/en", data={"next": "/login"})
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_users_create_cli(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "hn_coord",
            "--role",
            "coordinator",
            "--unit",
            "P46",
            "--password",
            "long-enough-1",
            "--name",
            "海南督办员",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "hn_coord"))
    assert user.unit.code == "P46" and user.role == "coordinator"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--unit", "P46"], "Unknown role 'boss'"),
        (["--role", "reporter", "--unit", "P99"], "Unknown unit code 'P99'"),
    ],
)
def test_users_create_cli_refuses_bad_input_in_one_line(runner, args, message):
    result = runner.invoke(args=["users", "create", "someone", *args, "--password", "long-enough-1"])
    assert result.exit_code != 0
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert db.session.scalar(select(User).where(User.username == "someone")) is None


def test_users_create_cli_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["users", "create", "someone", "--role", "reporter", "--unit", "P11", "--password", "short"]
    )
    assert result.exit_code != 0 and "at least 8" in result.output


def test_demo_users_are_created_once(runner):
    first = runner.invoke(args=["demo", "users"])
    assert first.exit_code == 0 and "13 created" in first.output
    second = runner.invoke(args=["demo", "users"])
    assert "0 created" in second.output


def test_without_secret_key_the_app_keeps_one_key_in_its_instance_folder(tmp_path, monkeypatch):
    from tracker import create_app
    from tracker.config import Config

    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    monkeypatch.setattr(Config, "SECRET_KEY", None)
    first = create_app(Config, SQLALCHEMY_DATABASE_URI="sqlite://")
    second = create_app(Config, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_cli_creates_a_user_with_an_email_and_refuses_a_bad_one(runner):
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import User

    ok = runner.invoke(
        args=[
            "users",
            "create",
            "mail-user",
            "--role",
            "reporter",
            "--unit",
            "P11-QC",
            "--email",
            "qc@bj.example",
            "--password",
            "long-enough-1",
        ]
    )
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(User.email).where(User.username == "mail-user")) == "qc@bj.example"
    bad = runner.invoke(
        args=[
            "users",
            "create",
            "mail-user-2",
            "--role",
            "reporter",
            "--unit",
            "P11-QC",
            "--email",
            "not an address",
            "--password",
            "long-enough-1",
        ]
    )
    assert bad.exit_code != 0 and "e-mail" in bad.output
    assert db.session.scalar(select(User).where(User.username == "mail-user-2")) is None
