"""Workflow events notify the people concerned, once per event and person, never the actor:
submitted → the reviewers; returned (with its reason) and accepted → the owner unit's users and
the responsible person; a new task or a cascade child → the receiving unit's coordinators; a
comment → the participants and watchers; a changed due date or deliverable → the owners."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from tests.api_support import api_as  # noqa: F401 (a fixture)
from tests.conftest import count_queries, unit
from tracker.cascade.service import LIST, TargetSpec, cascade_task
from tracker.extensions import db
from tracker.models import NoticeEvent, Notification, TaskWatcher
from tracker.plans.operations import add_comment, change_status, edit_task

HX = {"HX-Request": "true"}


@pytest.fixture
def people(make_user):
    return {
        "reporter": make_user("reporter", "P11-QC"),
        "colleague": make_user("reporter", "P11-QC"),
        "qc_coordinator": make_user("coordinator", "P11-QC"),
        "province_coordinator": make_user("coordinator", "P11"),
        "province_reporter": make_user("reporter", "P11"),
        "national_coordinator": make_user("coordinator", "NHC"),
        "leader": make_user("leader", "NHC"),
        "elsewhere": make_user("coordinator", "P12-QC"),
    }


@pytest.fixture
def task(make_task):
    section = make_task("P11", ref="一", title="总体要求")
    return make_task("P11-QC", parent=section, ref="一.(一)", title="制定死亡病例抽查工作计划", status="in_progress")


def told(kind: str, task_id: int | None = None) -> Counter:
    """user id -> how many notices of `kind` (about `task_id`) they have."""
    query = select(Notification.user_id).where(Notification.kind == kind)
    if task_id is not None:
        query = query.where(Notification.task_id == task_id)
    return Counter(db.session.scalars(query))


def ids(people, *names) -> set[int]:
    return {people[name].id for name in names}


def once_each(counter: Counter, expected: set[int]) -> None:
    assert set(counter) == expected
    assert set(counter.values()) == {1}


def test_a_submission_tells_the_reviewers_above_once_and_not_the_submitter(client, auth, people, task):
    auth.login(people["reporter"])
    response = client.post(
        f"/tasks/{task.id}/status", data={"target": "submitted", "version": task.version}, headers=HX
    )
    assert response.status_code == 200
    once_each(told("submitted", task.id), ids(people, "province_coordinator", "national_coordinator"))
    event = db.session.scalar(select(NoticeEvent).where(NoticeEvent.kind == "submitted"))
    assert event.task_id == task.id and event.actor_id == people["reporter"].id


def test_a_return_tells_the_owners_and_the_responsible_person_with_the_reason(people, task):
    task.responsible_user_id = people["province_reporter"].id
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "returned", "请补充抽查样本清单")
    db.session.commit()
    once_each(told("returned", task.id), ids(people, "reporter", "colleague", "qc_coordinator", "province_reporter"))
    messages = set(db.session.scalars(select(NoticeEvent.message).where(NoticeEvent.kind == "returned")))
    assert messages == {"请补充抽查样本清单"}


def test_an_acceptance_tells_the_owners_once_even_when_the_responsible_person_is_one_of_them(people, task):
    task.responsible_user_id = people["colleague"].id  # an owner unit user already: told once
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "accepted")
    db.session.commit()
    once_each(told("accepted", task.id), ids(people, "reporter", "colleague", "qc_coordinator"))


def test_each_event_is_its_own_notice_and_one_event_never_two_per_person(people, task):
    reviewers = ids(people, "province_coordinator", "national_coordinator")
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "returned", "不完整")
    change_status(task, people["reporter"], "in_progress")
    change_status(task, people["reporter"], "submitted")
    db.session.commit()
    counts = told("submitted", task.id)
    assert set(counts) == reviewers and set(counts.values()) == {2}  # two submissions, two events
    per_event = db.session.execute(
        select(Notification.event_id, Notification.user_id, func.count())
        .where(Notification.task_id == task.id)
        .group_by(Notification.event_id, Notification.user_id)
    ).all()
    assert {n for *_key, n in per_event} == {1}
    assert db.session.scalar(select(func.count()).select_from(NoticeEvent).where(NoticeEvent.kind == "submitted")) == 2


def test_a_comment_tells_the_participants_and_watchers_but_not_its_writer(people, task):
    # the province coordinator has written on the task; "elsewhere" follows it
    add_comment(task, people["province_coordinator"], "请按期提交")
    db.session.add(TaskWatcher(task_id=task.id, user_id=people["elsewhere"].id))
    db.session.commit()
    before = told("commented", task.id)
    add_comment(task, people["reporter"], "已在办理")
    db.session.commit()
    after = told("commented", task.id) - before
    once_each(after, ids(people, "colleague", "qc_coordinator", "province_coordinator", "elsewhere"))
    assert "已在办理" in set(db.session.scalars(select(NoticeEvent.message).where(NoticeEvent.kind == "commented")))


def test_a_changed_due_date_or_deliverable_tells_the_owners_and_a_title_alone_nobody(people, task):
    edit_task(task, people["province_coordinator"], {"title": "制定抽查计划"})
    db.session.commit()
    assert told("changed") == Counter()
    edit_task(task, people["province_coordinator"], {"due_on": date(2026, 3, 31), "deliverable": "工作计划"})
    db.session.commit()
    once_each(told("changed", task.id), ids(people, "reporter", "colleague", "qc_coordinator"))
    message = db.session.scalar(select(NoticeEvent.message).where(NoticeEvent.kind == "changed"))
    assert "2026-03-31" in message and "工作计划" in message


def test_a_task_given_to_another_unit_tells_that_units_coordinators(people, task, make_unit, make_user):
    make_unit("P11-QC-A", "P11")
    new_coordinator = make_user("coordinator", "P11-QC-A")
    make_user("reporter", "P11-QC-A")
    edit_task(task, people["province_coordinator"], {"owner_unit_id": unit("P11-QC-A").id})
    db.session.commit()
    once_each(told("assigned", task.id), {new_coordinator.id})


def test_cascade_children_tell_each_receiving_units_coordinators_in_a_bounded_number_of_statements(
    people, make_task, make_user
):
    template = make_task("NHC", ref="三", title="制定省级实施方案", due_on=date(2025, 6, 30), status="not_started")
    second = make_user("coordinator", "P12-QC")
    make_user("reporter", "P12-QC")
    cascade_task(template, people["national_coordinator"], TargetSpec(LIST, codes=["P31"]))  # loads the template
    counts = []
    for codes in (["P11-QC", "P12-QC"], ["P13", "P14", "P15", "P21", "P22"]):
        with count_queries() as statements:
            cascade_task(template, people["national_coordinator"], TargetSpec(LIST, codes=codes))
        counts.append(statements())
    db.session.commit()
    assert counts[0] == counts[1]  # the same statements for 2 units as for 5
    by_user = db.session.execute(
        select(Notification.user_id, func.count()).where(Notification.kind == "assigned").group_by(Notification.user_id)
    ).all()
    assert dict(by_user) == {people["qc_coordinator"].id: 1, people["elsewhere"].id: 1, second.id: 1}
    owners = dict(
        db.session.execute(
            select(Notification.user_id, unit_code_of_task()).where(Notification.kind == "assigned")
        ).all()
    )
    assert owners == {people["qc_coordinator"].id: "P11-QC", people["elsewhere"].id: "P12-QC", second.id: "P12-QC"}


def unit_code_of_task():
    from tracker.models import OrgUnit, Task

    return (
        select(OrgUnit.code)
        .join(Task, Task.owner_unit_id == OrgUnit.id)
        .where(Task.id == Notification.task_id)
        .scalar_subquery()
    )


def test_the_api_notifies_too(api_as, people, task):
    api = api_as(people["reporter"])
    response = api.post(f"/api/v1/tasks/{task.id}/status", json={"target": "submitted", "version": task.version})
    assert response.status_code == 200, response.json
    once_each(told("submitted", task.id), ids(people, "province_coordinator", "national_coordinator"))


# --- the inbox --------------------------------------------------------------------------------


def test_the_inbox_says_what_happened_in_words_naming_the_task_and_the_actor(client, auth, people, task):
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "returned", "请补充<b>样本</b>清单")
    db.session.commit()
    name = people["province_coordinator"].display_name
    auth.login(people["reporter"])
    page = client.get("/notifications").get_data(as_text=True)
    assert f"{name} 退回了任务" in page and "理由：请补充&lt;b&gt;样本&lt;/b&gt;清单" in page
    assert f'href="/tasks/{task.id}"' in page and "制定死亡病例抽查工作计划" in page
    auth.login(people["province_coordinator"])
    page = client.get("/notifications").get_data(as_text=True)
    assert f"{people['reporter'].display_name} 提交了任务" in page and "请审核" in page


def test_each_kind_has_its_sentence(client, auth, people, task):
    add_comment(task, people["province_coordinator"], "请按期提交")
    edit_task(task, people["province_coordinator"], {"due_on": date(2026, 3, 31)})
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "accepted")
    db.session.commit()
    auth.login(people["colleague"])
    page = client.get("/notifications").get_data(as_text=True)
    actor = people["province_coordinator"].display_name
    assert f"{actor} 评论了任务" in page and "请按期提交" in page
    assert f"{actor} 调整了任务" in page and "截止日期：2026-03-31" in page
    assert f"{actor} 已验收任务" in page


def test_the_inbox_groups_by_day_and_kind_with_counts_and_marks_a_group_read(client, auth, people, task, app):
    add_comment(task, people["province_coordinator"], "第一条")
    add_comment(task, people["national_coordinator"], "第二条")
    edit_task(task, people["province_coordinator"], {"deliverable": "工作计划"})
    db.session.commit()
    reporter = people["reporter"]
    day = db.session.scalar(select(Notification.day).where(Notification.user_id == reporter.id))
    auth.login(reporter)
    page = client.get("/notifications").get_data(as_text=True)
    assert page.count('class="d-flex align-items-center gap-2 mt-3 mb-1 inbox-group"') == 2
    assert "共 2 条，未读 2 条" in page and "共 1 条，未读 1 条" in page
    response = client.post("/notifications/read-group", data={"day": day.isoformat(), "kind": "commented"}, headers=HX)
    assert response.status_code == 200 and 'hx-swap-oob="true"' in response.get_data(as_text=True)
    unread = dict(
        db.session.execute(
            select(Notification.kind, func.count())
            .where(Notification.user_id == reporter.id, Notification.read_at.is_(None))
            .group_by(Notification.kind)
        ).all()
    )
    assert unread == {"changed": 1}
    assert "共 2 条，未读 0 条" in client.get("/notifications").get_data(as_text=True)
    # another user's group is not touched
    colleague_unread = db.session.scalar(
        select(func.count()).where(Notification.user_id == people["colleague"].id, Notification.read_at.is_(None))
    )
    assert colleague_unread == 3
    # bad input is a 400, not a 500; without its CSRF token the form is refused
    assert client.post("/notifications/read-group", data={"day": "x", "kind": "commented"}).status_code == 400
    assert client.post("/notifications/read-group", data={"day": day.isoformat(), "kind": "x"}).status_code == 400
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = client.post("/notifications/read-group", data={"day": day.isoformat(), "kind": "changed"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert refused.status_code == 400
    assert 'name="csrf_token"' in client.get("/notifications").get_data(as_text=True)


def test_a_leaders_grouped_notice_names_the_unit_and_links_its_overdue_list(client, auth, people):
    leader = people["leader"]
    db.session.add(
        Notification(user_id=leader.id, kind="leader_group", unit_id=unit("P11").id, level="leadership", item_count=40)
    )
    db.session.commit()
    auth.login(leader)
    page = client.get("/notifications").get_data(as_text=True)
    assert f"{unit('P11').name}</a>：40 项逾期任务已上报领导" in page
    assert 'href="/overdue?unit=P11"' in page


def test_a_templates_new_due_date_tells_the_owners_of_the_children_that_follow_it(people, make_task, make_user):
    from tracker.models import CascadeChild

    template = make_task("NHC", ref="四", title="报送年度总结", due_on=date(2025, 6, 30), status="not_started")
    province_coordinator = people["province_coordinator"]
    p12 = make_user("reporter", "P12")
    cascade = cascade_task(template, people["national_coordinator"], TargetSpec(LIST, codes=["P11", "P12"]))
    db.session.commit()
    own = {
        link.unit_id: link
        for link in db.session.scalars(select(CascadeChild).where(CascadeChild.cascade_id == cascade.id))
    }
    own[unit("P12").id].due_overridden = True  # P12 keeps its own date
    db.session.commit()
    edit_task(template, people["national_coordinator"], {"due_on": date(2025, 9, 30)})
    db.session.commit()
    counts = told("changed")
    assert counts[province_coordinator.id] == 1 and counts[people["province_reporter"].id] == 1
    assert p12.id not in counts  # overridden: not changed, not told
    message = db.session.scalar(
        select(NoticeEvent.message).where(NoticeEvent.kind == "changed", NoticeEvent.task_id != template.id)
    )
    assert "2025-09-30" in message


def test_events_reach_the_group_chat_webhook_once_each_through_the_delivery_messages(app, monkeypatch, people, task):
    """Each workflow event is posted once: composed into a claimed delivery message like the
    escalations, so a second run (or a second deliverer) posts nothing again."""
    from tests.delivery_rig import WebhookServer
    from tracker.notifications.delivery import deliver_pending

    with WebhookServer() as hook:
        monkeypatch.setitem(app.config, "WEBHOOK_URL", f"http://127.0.0.1:{hook.port}/robot")
        change_status(task, people["reporter"], "submitted")
        change_status(task, people["province_coordinator"], "returned", "请补充抽查样本清单")
        db.session.commit()
        events = list(db.session.scalars(select(NoticeEvent.id).where(NoticeEvent.task_id == task.id)))
        first = deliver_pending()
        second = deliver_pending()
    keys = [key for post in hook.posts for key in post.item_keys]
    assert sorted(keys) == sorted(f"tracker.event.{event}" for event in events) and len(events) == 2
    assert first.webhook_items == 2 and second.webhook_items == 0
    content = "\n".join(post.content for post in hook.posts)
    assert f"/tasks/{task.id}" in content and "请补充抽查样本清单" in content
    states = set(db.session.scalars(select(NoticeEvent.webhook_state).where(NoticeEvent.task_id == task.id)))
    assert states == {"sent"}
