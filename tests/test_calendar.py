"""The personal calendar feed: a secret URL with the user's due dates, valid iCalendar, revocable."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import count_queries
from tracker.calendar import service as feed
from tracker.extensions import db
from tracker.models.cascade import CalendarToken

NOW = datetime(2024, 5, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def reporter(make_user, make_unit):
    make_unit("P11-H9", "P11", name="北京市某医院")
    return make_user("reporter", "P11-H9")


@pytest.fixture
def tasks(make_task):
    return {
        "plan": make_task(
            "P11-H9", ref="一.(一)", title="制定死亡病例抽查工作计划", due_on=date(2024, 5, 20), deliverable="工作计划"
        ),
        "monthly": make_task(
            "P11-H9", ref="一.(三).2#2024-05-31", title="季度抽查", due_on=date(2024, 5, 31), origin="recurrence"
        ),
        "done": make_task("P11-H9", ref="一.(二)", title="已完成的任务", due_on=date(2024, 5, 25), status="accepted"),
        "no_due": make_task("P11-H9", ref="一.(四)", title="没有期限"),
        "other": make_task("P31-QC", ref="一.(五)", title="上海的任务", due_on=date(2024, 5, 22)),
    }


def parse(body: bytes) -> list:
    return [c for c in Calendar.from_ical(body).walk("VEVENT")]


def test_the_feed_parses_and_carries_the_units_open_due_dates(client, reporter, tasks):
    token = feed.create_token(reporter)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        with count_queries() as statements:
            response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar
    events = parse(response.data)
    by_uid = {str(e["UID"]): e for e in events}
    assert set(by_uid) == {f"task-{tasks['plan'].id}@127.0.0.1", f"task-{tasks['monthly'].id}@127.0.0.1"}
    first = by_uid[f"task-{tasks['plan'].id}@127.0.0.1"]
    assert first.decoded("DTSTART") == date(2024, 5, 20) and first.decoded("DTEND") == date(2024, 5, 21)
    assert str(first["SUMMARY"]) == "一.(一) 制定死亡病例抽查工作计划"
    assert "工作计划" in str(first["DESCRIPTION"]) and str(first["URL"]).endswith(f"/tasks/{tasks['plan'].id}")
    assert str(by_uid[f"task-{tasks['monthly'].id}@127.0.0.1"]["SUMMARY"]) == "一.(三).2 季度抽查"
    assert statements() <= 5


def test_a_revoked_or_replaced_token_gets_404(client, reporter, tasks):
    old = feed.create_token(reporter)
    db.session.commit()
    assert client.get(f"/calendar/{old}.ics").status_code == 200
    new = feed.create_token(reporter)
    db.session.commit()
    assert client.get(f"/calendar/{old}.ics").status_code == 404
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    feed.revoke_tokens(reporter)
    db.session.commit()
    assert client.get(f"/calendar/{new}.ics").status_code == 404
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_only_a_hash_of_the_token_is_kept(reporter):
    token = feed.create_token(reporter)
    row = db.session.scalars(select(CalendarToken).where(CalendarToken.user_id == reporter.id)).one()
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_an_inactive_users_feed_is_gone(client, reporter, tasks):
    token = feed.create_token(reporter)
    reporter.active = False
    db.session.commit()
    assert client.get(f"/calendar/{token}.ics").status_code == 404


def test_the_settings_page_shows_the_address_once_and_revokes_it(client, auth, reporter, tasks):
    assert client.get("/calendar").status_code == 302  # login first
    auth.login(reporter)
    page = client.get("/calendar").get_data(as_text=True)
    assert 'id="calendar-none"' in page
    made = client.post("/calendar/token")
    text = made.get_data(as_text=True)
    assert made.status_code == 200 and 'id="calendar-url"' in text and made.headers["Cache-Control"] == "no-store"
    url = text.split('id="calendar-url"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    path = url.split("localhost", 1)[1]
    assert path.startswith("/calendar/") and client.get(path).status_code == 200
    assert 'id="calendar-active"' in client.get("/calendar").get_data(as_text=True)
    assert url not in client.get("/calendar").get_data(as_text=True)
    assert client.post("/calendar/revoke").status_code == 303
    assert client.get(path).status_code == 404
