"""Watchers (关注): anyone who sees a task (leaders excepted) follows it from the task page and is
told of its changes once each (status, due date, 催办, 批示, comments, bulk changes of cascade
children); unfollowing stops it; a user moved to another unit or role follows nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import unit
from tracker.extensions import db
from tracker.models import Notification, TaskWatcher
from tracker.plans.operations import add_comment, change_status, edit_task
from tracker.supervision import service as supervision

HX = {"HX-Request": "true"}


@pytest.fixture
def people(make_user):
    return {
        "reporter": make_user("reporter", "P11-QC"),
        "province_coordinator": make_user("coordinator", "P11"),
        "national_coordinator": make_user("coordinator", "NHC"),
        "leader": make_user("leader", "NHC"),
        "elsewhere": make_user("coordinator", "P12-QC"),
    }


@pytest.fixture
def task(make_task):
    return make_task("P11-QC", title="制定死亡病例抽查工作计划", status="in_progress")


def told(user, task) -> Counter:
    return Counter(
        db.session.scalars(
            select(Notification.kind).where(Notification.user_id == user.id, Notification.task_id == task.id)
        )
    )


def follow(client, auth, user, task, on=True):
    auth.login(user)
    response = client.post(f"/tasks/{task.id}/watch", data={"on": "1" if on else "0"}, headers=HX)
    auth.logout()
    return response


def test_following_from_the_task_page_shows_the_state_and_the_count(client, auth, people, task):
    auth.login(people["national_coordinator"])
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'id="watch-form"' in page and 'data-watchers="0"' in page
    response = client.post(f"/tasks/{task.id}/watch", data={"on": "1"}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'aria-pressed="true"' in body and 'data-watchers="1"' in body
    # a second click of the same state changes nothing (idempotent), no error
    assert client.post(f"/tasks/{task.id}/watch", data={"on": "1"}, headers=HX).status_code == 200
    assert db.session.scalars(select(TaskWatcher.user_id).where(TaskWatcher.task_id == task.id)).all() == [
        people["national_coordinator"].id
    ]
    # without HTMX: back to the task page
    plain = client.post(f"/tasks/{task.id}/watch", data={"on": "0"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith(f"/tasks/{task.id}")
    assert supervision.watcher_count(task) == 0


def test_a_watcher_is_told_of_each_change_once_and_nothing_after_unfollowing(people, task):
    watcher = people["national_coordinator"]
    supervision.set_watching(task, watcher, True)
    db.session.commit()
    change_status(task, people["reporter"], "submitted")  # the watcher is also a reviewer: told once
    change_status(task, people["province_coordinator"], "returned", "请补充材料")
    edit_task(task, people["province_coordinator"], {"due_on": date(2026, 6, 30)})
    supervision.urge_task(task, people["province_coordinator"], "请抓紧")
    supervision.instruct_task(task, people["leader"], "务必按期完成")
    add_comment(task, people["reporter"], "已在办理")
    db.session.commit()
    assert told(watcher, task) == Counter(
        {"submitted": 1, "returned": 1, "changed": 1, "urged": 1, "instructed": 1, "commented": 1}
    )
    supervision.set_watching(task, watcher, False)
    db.session.commit()
    change_status(task, people["reporter"], "in_progress")
    change_status(task, people["reporter"], "submitted")
    change_status(task, people["province_coordinator"], "accepted")
    db.session.commit()
    after = told(watcher, task)
    assert after["accepted"] == 0
    assert after["submitted"] == 2  # the second submission reached them as a reviewer, not a watcher


def test_a_watcher_of_a_cascade_child_is_told_of_the_templates_new_due_date(people, make_task):
    from tracker.notifications.notices import notify_each
    from tracker.models.notify import CHANGED

    child = make_task("P11-QC", title="子任务")
    watcher = people["province_coordinator"]
    supervision.set_watching(child, watcher, True)
    db.session.commit()
    notify_each(CHANGED, [child.id], people["national_coordinator"], audience="owners", message="截止日期")
    db.session.commit()
    assert told(watcher, child)["changed"] == 1


def test_who_may_follow(client, auth, people, task):
    # a leader's writes are 批示 and 催办 only; a user who cannot see the task gets 404
    assert follow(client, auth, people["leader"], task).status_code == 403
    assert follow(client, auth, people["elsewhere"], task).status_code == 404
    assert follow(client, auth, people["reporter"], task).status_code == 200
    assert db.session.scalars(select(TaskWatcher.user_id).where(TaskWatcher.task_id == task.id)).all() == [
        people["reporter"].id
    ]


def test_a_user_moved_to_another_unit_follows_nothing_they_chose_before(people, task, make_user):
    from tracker.users.service import AccountValues, edit_account

    admin = make_user("admin", "NHC")
    mover = people["reporter"]
    supervision.set_watching(task, mover, True)
    db.session.commit()
    values = AccountValues(
        display_name=mover.display_name,
        unit=unit("P12-QC"),
        role=mover.role,
        email=mover.email or "",
        phone=mover.phone or "",
    )
    edit_account(admin, mover, values)
    db.session.commit()
    assert supervision.watcher_count(task) == 0
