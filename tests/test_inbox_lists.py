"""The inbox as a list people work in: filters by kind, read or unread, day range and plan; newest
or oldest first; page numbers and page size; 标记已读 on a selection and on the whole filtered
result; grouping by day and kind kept; a bounded number of SQL statements."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from tests.conftest import count_queries
from tracker.extensions import db
from tracker.models import Notification

HX = {"HX-Request": "true"}


@pytest.fixture
def reporter(make_user):
    return make_user("reporter", "P11-QC")


@pytest.fixture
def tasks(make_task):
    return {
        "a": make_task("P11-QC", plan_key="plan-a", title="甲计划的任务"),
        "b": make_task("P11-QC", plan_key="plan-b", title="乙计划的任务"),
    }


def notice(user, kind, task, day, read=False):
    n = Notification(
        user_id=user.id,
        kind=kind,
        task_id=task.id if task else None,
        level=kind,
        day=day,
        read_at=datetime(2026, 1, 1, tzinfo=timezone.utc) if read else None,
    )
    db.session.add(n)
    db.session.flush()
    return n


@pytest.fixture
def inbox(reporter, tasks):
    made = {
        "old_comment": notice(reporter, "commented", tasks["a"], date(2026, 3, 1)),
        "old_urge": notice(reporter, "urged", tasks["b"], date(2026, 3, 1), read=True),
        "mid_comment": notice(reporter, "commented", tasks["b"], date(2026, 3, 10)),
        "new_accept": notice(reporter, "accepted", tasks["a"], date(2026, 3, 20)),
    }
    db.session.commit()
    return made


def shown(page: str, made: dict) -> set[str]:
    return {name for name, n in made.items() if f'id="notification-{n.id}"' in page}


def unread_ids(user) -> set[int]:
    return set(
        db.session.scalars(
            select(Notification.id).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
    )


def test_a_reporter_filters_the_inbox_by_kind_state_days_and_plan(client, auth, reporter, inbox):
    auth.login(reporter)
    get = lambda query: client.get(f"/notifications?{query}").get_data(as_text=True)  # noqa: E731
    assert shown(get(""), inbox) == set(inbox)
    assert shown(get("kind=commented"), inbox) == {"old_comment", "mid_comment"}
    assert shown(get("state=unread"), inbox) == {"old_comment", "mid_comment", "new_accept"}
    assert shown(get("unread=1"), inbox) == {"old_comment", "mid_comment", "new_accept"}  # the old link
    assert shown(get("state=read"), inbox) == {"old_urge"}
    assert shown(get("day_from=2026-03-05&day_to=2026-03-15"), inbox) == {"mid_comment"}
    assert shown(get("plan=plan-a"), inbox) == {"old_comment", "new_accept"}
    assert shown(get("plan=plan-b&kind=commented"), inbox) == {"mid_comment"}


def test_newest_or_oldest_first_with_the_groups_of_day_and_kind_kept(client, auth, reporter, inbox):
    auth.login(reporter)
    newest = client.get("/notifications").get_data(as_text=True)
    oldest = client.get("/notifications?sort=old").get_data(as_text=True)
    position = lambda page, name: page.index(f'id="notification-{inbox[name].id}"')  # noqa: E731
    assert position(newest, "new_accept") < position(newest, "mid_comment") < position(newest, "old_comment")
    assert position(oldest, "old_comment") < position(oldest, "mid_comment") < position(oldest, "new_accept")
    # one group per day and kind: 3-01 has two kinds, 3-10 and 3-20 one each
    assert oldest.count('class="d-flex align-items-center gap-2 mt-3 mb-1 inbox-group"') == 4


def test_bad_filters_are_shown_next_to_their_field_never_a_500(client, auth, reporter, inbox):
    auth.login(reporter)
    response = client.get("/notifications?day_from=2026-03-20&day_to=2026-03-01")
    assert response.status_code == 400
    assert "结束日期早于开始日期" in response.get_data(as_text=True) or "The end is before" in response.get_data(
        as_text=True
    )
    assert client.get("/notifications?kind=nonsense").status_code == 400
    assert client.get("/notifications?day_from=x").status_code == 400
    assert client.get("/notifications?plan=no-such-plan").status_code == 400


def test_the_pager_and_page_size_keep_the_filters(client, auth, reporter, tasks):
    for i in range(45):
        notice(reporter, "commented", tasks["a"], date(2026, 2, 1 + i % 28))
    db.session.commit()
    auth.login(reporter)
    page = client.get("/notifications?kind=commented&per_page=20").get_data(as_text=True)
    assert "45 条通知" in page or "45 notices" in page
    assert "kind=commented" in page.split('aria-label="分页"')[-1] if 'aria-label="分页"' in page else True
    assert 'href="/notifications?kind=commented&amp;per_page=20&amp;page=2"' in page
    fragment = client.get("/notifications?kind=commented&per_page=20&page=3", headers={**HX, "HX-Target": "inbox-list"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and body.count('name="notice"') == 5


def test_mark_the_ticked_notices_read_only_ones_own(client, auth, reporter, inbox, make_user, tasks):
    someone = make_user("reporter", "P11-QC")
    theirs = notice(someone, "commented", tasks["a"], date(2026, 3, 1))
    db.session.commit()
    auth.login(reporter)
    response = client.post(
        "/notifications/read-selected",
        data={"scope": "selected", "notice": [inbox["old_comment"].id, theirs.id], "next": "/notifications"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "bulk-done" in response.headers["HX-Trigger"] and 'hx-swap-oob="true"' in response.get_data(as_text=True)
    assert unread_ids(reporter) == {inbox["mid_comment"].id, inbox["new_accept"].id}
    assert unread_ids(someone) == {theirs.id}
    # nothing ticked: a message, nothing written
    refused = client.post("/notifications/read-selected", data={"scope": "selected"}, headers=HX)
    assert refused.status_code == 422 and "至少" in refused.get_data(as_text=True)


def test_mark_the_whole_filtered_result_read_not_only_its_page(client, auth, reporter, inbox, tasks):
    for i in range(30):
        notice(reporter, "commented", tasks["a"], date(2026, 2, 1 + i % 28))
    db.session.commit()
    auth.login(reporter)
    response = client.post(
        "/notifications/read-selected",
        data={"scope": "matching", "next": "/notifications?kind=commented&plan=plan-a&per_page=20"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/notifications?kind=commented&plan=plan-a&per_page=20")
    # the 30 and the old comment of plan A are read; plan B's comment and the acceptance are not
    assert unread_ids(reporter) == {inbox["mid_comment"].id, inbox["new_accept"].id}
    # a `next` elsewhere goes back to the inbox and reads the whole unfiltered result
    response = client.post("/notifications/read-selected", data={"scope": "matching", "next": "//evil.example/"})
    assert response.headers["Location"].endswith("/notifications")
    assert unread_ids(reporter) == set()
    assert client.post("/notifications/read-selected", data={"scope": "what"}).status_code == 400


def test_the_inbox_is_a_bounded_number_of_statements(client, auth, reporter, tasks):
    auth.login(reporter)
    counts = {}
    for n in (10, 50):
        db.session.execute(Notification.__table__.delete().where(Notification.user_id == reporter.id))
        for i in range(n):
            notice(reporter, ("commented", "urged", "accepted")[i % 3], tasks["ab"[i % 2]], date(2026, 3, 1 + i % 20))
        db.session.commit()
        with count_queries() as statements:
            response = client.get("/notifications?state=unread&plan=plan-a&sort=old&per_page=50")
        assert response.status_code == 200
        counts[n] = statements()
    assert counts[10] == counts[50] and counts[50] <= 9, (
        counts
    )  # 8 on SQLite: session, plans, count, page, explanations, groups, unread, nav badges
    total = db.session.scalar(select(func.count()).where(Notification.user_id == reporter.id))
    assert total == 50
