"""Saved filters of the task list: a coordinator names the filters they use every morning, comes
back to them in one click, and deletes them; nobody sees, applies or deletes anyone else's; what
is saved is only the filter form's arguments, validated when saved and again when applied."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import SavedFilter
from tracker.plans import saved_filters as service
from tracker.plans.saved_filters import SavedFilterError

HX = {"HX-Request": "true"}


@pytest.fixture
def coordinator(make_user):
    return make_user("coordinator", "P11")


@pytest.fixture
def colleague(make_user):
    return make_user("coordinator", "P11")


@pytest.fixture
def in_request(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh"):
        yield


# --- the service ----------------------------------------------------------------------------------


def test_the_query_keeps_only_the_filter_forms_arguments_in_a_fixed_order():
    from werkzeug.datastructures import MultiDict

    args = MultiDict(
        [("page", "3"), ("sort", "-due"), ("status", "submitted"), ("csrf_token", "x"), ("q", " 抽查 "), ("owner", "")]
    )
    assert service.filter_query(args) == "q=%E6%8A%BD%E6%9F%A5&status=submitted&sort=-due"


def test_saving_under_the_same_name_replaces_and_each_user_sees_their_own(coordinator, colleague, in_request):
    first = service.save_filter(coordinator, "  待我审核  ", "status=submitted&page=2")
    assert (first.name, first.query) == ("待我审核", "status=submitted")
    again = service.save_filter(coordinator, "待我审核", "status=submitted&sort=-due")
    assert again.id == first.id and again.query == "status=submitted&sort=-due"
    service.save_filter(coordinator, "逾期", "overdue=y")
    service.save_filter(colleague, "同事的", "status=returned")
    db.session.commit()
    assert [f.name for f in service.saved_filters_of(coordinator)] == sorted(["待我审核", "逾期"])
    assert [f.name for f in service.saved_filters_of(colleague)] == ["同事的"]
    theirs = service.saved_filters_of(colleague)[0]
    assert service.saved_filter_of(coordinator, theirs.id) is None
    assert service.delete_filter(coordinator, theirs.id) is False
    assert service.delete_filter(colleague, theirs.id) is True


@pytest.mark.parametrize(
    "name,query,message",
    [
        ("", "status=submitted", "名称"),
        ("长" * 61, "status=submitted", "60"),
        ("空的", "page=2", "没有可保存"),
        ("坏排序", "sort=drop+table", "排序"),
        ("坏日期", "due_from=2026-13-40", "截止自"),
        ("坏状态", "status=nonsense", "状态"),
        ("坏每页", "per_page=7", "每页"),
        ("倒序", "due_from=2026-06-01&due_to=2026-01-01", "结束"),
    ],
)
def test_a_bad_name_or_bad_filters_are_refused(coordinator, in_request, name, query, message):
    with pytest.raises(SavedFilterError) as refused:
        service.save_filter(coordinator, name, query)
    assert message in str(refused.value) and refused.value.field == "name"
    assert db.session.scalar(select(func.count()).where(SavedFilter.user_id == coordinator.id)) == 0


def test_a_user_keeps_at_most_thirty(coordinator, in_request):
    for i in range(service.MAX_PER_USER):
        service.save_filter(coordinator, f"筛选{i:02d}", f"q={i}")
    with pytest.raises(SavedFilterError):
        service.save_filter(coordinator, "再来一个", "q=x")
    service.save_filter(coordinator, "筛选00", "q=replaced")  # replacing one is still fine


# --- the routes ------------------------------------------------------------------------------------


def test_save_from_the_task_list_with_htmx_then_apply_and_delete(client, auth, coordinator, make_task):
    make_task("P11-QC", title="已提交的抽查任务", status="submitted")
    make_task("P11-QC", title="进行中的任务", status="in_progress")
    auth.login(coordinator)
    page = client.get("/tasks?status=submitted&sort=-due&page=1").get_data(as_text=True)
    assert 'id="saved-filters"' in page and "保存当前筛选" in page
    assert 'name="query" value="status=submitted&amp;sort=-due"' in page  # the page number is not kept
    # the results fragment (a filter change) carries the current filters too
    fragment = client.get("/tasks?status=in_progress", headers={**HX, "HX-Target": "results"}).get_data(as_text=True)
    assert 'name="query" value="status=in_progress"' in fragment

    response = client.post(
        "/tasks/saved-filters", data={"name": "待审核", "query": "status=submitted&sort=-due"}, headers=HX
    )
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="saved-filters"') and "<html" not in body
    assert 'href="/tasks?status=submitted&amp;sort=-due"' in body and 'data-saved-filter="待审核"' in body

    applied = client.get("/tasks?status=submitted&sort=-due").get_data(as_text=True)
    assert "已提交的抽查任务" in applied and "进行中的任务" not in applied

    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == coordinator.id))
    response = client.post(f"/tasks/saved-filters/{saved.id}/delete", data={"query": "status=submitted"}, headers=HX)
    assert response.status_code == 200 and 'data-saved-filter="待审核"' not in response.get_data(as_text=True)
    assert db.session.get(SavedFilter, saved.id) is None


def test_without_javascript_save_and_delete_come_back_to_the_list(client, auth, coordinator):
    auth.login(coordinator)
    response = client.post("/tasks/saved-filters", data={"name": "逾期的", "query": "overdue=y"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks?overdue=y")
    page = client.get("/tasks?overdue=y").get_data(as_text=True)
    assert "已保存筛选“逾期的”" in page and 'data-saved-filter="逾期的"' in page
    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == coordinator.id))
    response = client.post(f"/tasks/saved-filters/{saved.id}/delete", data={"query": "overdue=y"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks?overdue=y")
    # a refused save says why, and keeps the list's filters
    response = client.post("/tasks/saved-filters", data={"name": "", "query": "overdue=y"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/tasks?overdue=y")


def test_a_refused_save_shows_the_error_next_to_the_name(client, auth, coordinator):
    auth.login(coordinator)
    for data, text in (
        ({"name": "", "query": "overdue=y"}, "筛选名称"),
        ({"name": "没有条件", "query": ""}, "没有可保存"),
        ({"name": "坏的", "query": "sort=%3Cscript%3E"}, "排序"),
    ):
        response = client.post("/tasks/saved-filters", data=data, headers=HX)
        body = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="saved-filter-error"' in body and text in body, (data, body)
        assert "<script>" not in body
    assert db.session.scalar(select(func.count()).where(SavedFilter.user_id == coordinator.id)) == 0


def test_nobody_sees_or_deletes_anyone_elses(client, auth, coordinator, colleague, make_user):
    mine = SavedFilter(user_id=coordinator.id, name="我的筛选", query="status=returned")
    db.session.add(mine)
    db.session.commit()
    for user in (colleague, make_user("leader", "NHC"), make_user("admin", "NHC")):
        auth.login(user)
        assert "我的筛选" not in client.get("/tasks").get_data(as_text=True)
        assert client.post(f"/tasks/saved-filters/{mine.id}/delete").status_code == 404
    assert db.session.get(SavedFilter, mine.id) is not None
    assert client.post("/tasks/saved-filters/99999999/delete").status_code == 404


def test_a_saved_query_that_became_invalid_is_refused_by_the_list_not_a_500(client, auth, coordinator):
    """A saved query is applied through the task list's own form: a stored one that no longer
    validates (hand-edited, an order since removed) shows the form's error."""
    stale = SavedFilter(user_id=coordinator.id, name="旧的", query="sort=oldest&status=submitted")
    db.session.add(stale)
    db.session.commit()
    auth.login(coordinator)
    page = client.get("/tasks").get_data(as_text=True)
    assert 'href="/tasks?sort=oldest&amp;status=submitted"' in page
    response = client.get("/tasks?" + stale.query)
    assert response.status_code == 200 and 'text-danger small">排序' in response.get_data(as_text=True)
    assert dict(parse_qsl(stale.query)) == {"sort": "oldest", "status": "submitted"}


# --- the plan, phase and responsible-person filters ----------------------------------------------


@pytest.fixture
def phased(make_task, make_user):
    """A plan with a phase, a Beijing task of it naming a Beijing reporter, a Shanghai reporter."""
    from tracker.models import Phase, Plan

    make_task("P11-QC", plan_key="saved-plan", title="阶段任务", status="in_progress")
    plan = db.session.scalar(select(Plan).where(Plan.key == "saved-plan"))
    phase = Phase(plan=plan, key="p1", name="第一阶段", position=1)
    db.session.add(phase)
    db.session.flush()
    named = make_user("reporter", "P11-QC")
    make_task(
        "P11-QC", plan_key="saved-plan", title="责任人的阶段任务", phase_id=phase.id, responsible_user_id=named.id
    )
    make_task("P11-QC", plan_key="saved-plan", title="我负责的任务", responsible_user_id=None)
    db.session.commit()
    return {"plan": plan, "phase": phase, "named": named, "far": make_user("reporter", "P31-QC")}


def test_a_saved_filter_keeps_the_plan_phase_and_responsible_person(client, auth, coordinator, phased):
    phase, named = str(phased["phase"].id), str(phased["named"].id)
    auth.login(coordinator)
    page = client.get(
        "/tasks", query_string={"responsible": named, "phase": phase, "plan": "saved-plan", "page": "2"}
    ).get_data(as_text=True)
    kept = f"plan=saved-plan&amp;phase={phase}&amp;responsible={named}"
    assert f'name="query" value="{kept}"' in page  # in the form's order, without the page
    response = client.post(
        "/tasks/saved-filters",
        data={"name": "阶段责任人", "query": f"plan=saved-plan&phase={phase}&responsible={named}"},
        headers=HX,
    )
    assert response.status_code == 200 and f'href="/tasks?{kept}"' in response.get_data(as_text=True)
    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.user_id == coordinator.id))
    assert saved.query == f"plan=saved-plan&phase={phase}&responsible={named}"
    applied = client.get(f"/tasks?{saved.query}").get_data(as_text=True)
    assert "责任人的阶段任务" in applied and "我负责的任务" not in applied and ">阶段任务</a>" not in applied
    # "assigned to me" is kept as such: it means whoever applies it
    mine = service.save_filter(coordinator, "我负责的", "responsible=me&sort=-due")
    assert mine.query == "responsible=me&sort=-due"


@pytest.mark.parametrize(
    "query,message",
    [
        ("plan=no-such-plan", "计划"),
        ("phase=PHASE", "阶段"),  # a phase without its plan
        ("plan=saved-plan&phase=999999", "阶段"),
        ("responsible=FAR", "责任人"),  # someone outside the coordinator's scope
        ("responsible=99999999999999999999", "责任人"),
    ],
)
def test_a_saved_filter_with_a_bad_plan_phase_or_person_is_refused(coordinator, phased, in_request, query, message):
    query = query.replace("PHASE", str(phased["phase"].id)).replace("FAR", str(phased["far"].id))
    with pytest.raises(SavedFilterError) as refused:
        service.save_filter(coordinator, "坏的", query)
    assert message in str(refused.value), str(refused.value)
