"""My work, "assigned to me" (the tasks naming me 责任人) or "my unit" (the default), kept in the URL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tracker.plans.queries import my_work
from tracker.timeutil import local_today

HX = {"HX-Request": "true", "HX-Target": "my-work"}


@pytest.fixture
def work(make_user, make_task, make_unit):
    make_unit("P11-QC-H2", "P11-QC")
    me, colleague = make_user("reporter", "P11-QC"), make_user("reporter", "P11-QC")
    coordinator = make_user("coordinator", "P11")
    late = local_today() - timedelta(days=4)
    tasks = {
        "mine": make_task("P11-QC", title="我负责的逾期任务", due_on=late, responsible_user_id=me.id),
        "theirs": make_task("P11-QC", title="同事负责的逾期任务", due_on=late, responsible_user_id=colleague.id),
        "nobody": make_task("P11-QC", title="未指定责任人的逾期任务", due_on=late),
        "returned": make_task("P11-QC", title="退回给我的任务", status="returned", responsible_user_id=me.id),
        # named responsible once, since given to a unit I cannot see: no longer mine to do
        "elsewhere": make_task("P31-QC", title="已转交外省的任务", due_on=late, responsible_user_id=me.id),
        "submitted": make_task("P11-QC", title="待省级审核的任务", status="submitted", responsible_user_id=me.id),
    }
    return {"me": me, "colleague": colleague, "coordinator": coordinator, **tasks}


def _ids(tasks) -> set[int]:
    return {t.id for t in tasks}


def _active(page: str) -> list[tuple[str, str]]:
    """(scope, href) of the toggle's current button."""
    return re.findall(r'active" data-scope="(\w+)"\s+href="([^"]+)" aria-current="page"', page)


def test_assigned_to_me_lists_only_the_tasks_naming_me(work):
    mine = my_work(work["me"], scope="me")
    assert mine.scope == "me"
    assert _ids(mine.lists["overdue"]) == {work["mine"].id}
    assert mine.counts["overdue"] == 1
    assert _ids(mine.lists["returned"]) == {work["returned"].id} and mine.counts["returned"] == 1
    unit = my_work(work["me"])
    assert unit.scope == "unit"
    assert {work["mine"].id, work["theirs"].id, work["nobody"].id} <= _ids(unit.lists["overdue"])
    assert work["elsewhere"].id not in _ids(unit.lists["overdue"]) | _ids(mine.lists["overdue"])
    assert my_work(work["colleague"], scope="me").counts["overdue"] == 1


def test_a_reviewer_reviews_the_same_submissions_either_way(work):
    coordinator = work["coordinator"]
    for scope in ("unit", "me"):
        assert work["submitted"].id in _ids(my_work(coordinator, scope=scope).lists["review"])


def test_an_unknown_scope_is_my_units(work):
    assert my_work(work["me"], scope="everyone").scope == "unit"


def test_the_toggle_is_kept_in_the_url(client, auth, work):
    auth.login(work["me"])
    page = client.get("/?assigned=me").get_data(as_text=True)
    assert "<html" in page
    assert _active(page) == [("me", "/?assigned=me")]
    assert "我负责的逾期任务" in page and "同事负责的逾期任务" not in page and "未指定责任人的逾期任务" not in page
    default = client.get("/").get_data(as_text=True)
    assert _active(default) == [("unit", "/")]
    assert "我负责的逾期任务" in default and "同事负责的逾期任务" in default and "未指定责任人的逾期任务" in default
    bogus = client.get("/?assigned=everyone").get_data(as_text=True)
    assert _active(bogus) == [("unit", "/")]


def test_with_htmx_the_toggle_answers_the_work_alone(client, auth, work):
    auth.login(work["me"])
    response = client.get("/?assigned=me", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in body and 'id="my-work"' not in body  # the inside of #my-work
    assert 'id="work-scope"' in body and 'id="work-counts"' in body and _active(body) == [("me", "/?assigned=me")]
    assert "我负责的逾期任务" in body and "同事负责的逾期任务" not in body
    assert 'hx-target="#my-work" hx-push-url="true"' in body
    back = client.get("/", headers=HX).get_data(as_text=True)
    assert "同事负责的逾期任务" in back
    full = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"}).get_data(as_text=True)
    assert "<html" in full  # a boosted request gets the page
