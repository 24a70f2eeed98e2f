"""撤销通过: the reviewer who accepted a task may take the acceptance back for a short while
(ACCEPT_UNDO_MINUTES, default 10): the task awaits review again, the journal keeps the acceptance
and its comment with the undo, the roll-up follows, and the owners are not told twice. After the
window the button is gone and the route says why; a coordinator above can still reopen it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import JournalEntry, Notification, Task
from tracker.models.explanations import OverdueExplanation
from tracker.plans.operations import InvalidChange, change_status, undo_acceptance

HX = {"HX-Request": "true"}
MOMENT = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # 10:00 in Beijing


@pytest.fixture
def people(make_user):
    return {
        "reporter": make_user("reporter", "P11-QC"),
        "colleague": make_user("reporter", "P11-QC"),
        "reviewer": make_user("coordinator", "P11"),
        "other_reviewer": make_user("coordinator", "P11"),
        "national": make_user("coordinator", "NHC"),
        "leader": make_user("leader", "NHC"),
    }


@pytest.fixture
def task(make_task, people):
    section = make_task("P11", ref="二", title="总体安排")
    leaf = make_task(
        "P11-QC", parent=section, ref="二.(一)", title="报送年度质控报告", status="in_progress", percent=60
    )
    make_task("P11-QC", parent=section, ref="二.(二)", title="另一项", status="in_progress", percent=0)
    with time_machine.travel(MOMENT - timedelta(hours=1), tick=False):
        change_status(leaf, people["reporter"], "submitted")
        db.session.commit()
    return leaf


def accept(client, auth, people, task, comment="材料齐全"):
    auth.login(people["reviewer"])
    response = client.post(
        f"/tasks/{task.id}/status",
        data={"target": "accepted", "version": task.version, "comment": comment},
        headers=HX,
    )
    assert response.status_code == 200
    db.session.refresh(task)
    assert task.status == "accepted"
    return response


def notices(kind, task):
    return sorted(
        db.session.scalars(
            select(Notification.user_id).where(Notification.kind == kind, Notification.task_id == task.id)
        )
    )


def test_the_reviewer_undoes_an_acceptance_within_the_window(client, auth, people, task):
    parent = db.session.get(Task, task.parent_id)
    before = parent.progress
    with time_machine.travel(MOMENT, tick=False):
        panel = accept(client, auth, people, task).get_data(as_text=True)
        assert 'id="undo-accept-button"' in panel and "撤销通过" in panel and "10:10" in panel
        assert task.percent == 100 and task.completed_on == date(2026, 3, 2)
        db.session.refresh(parent)
        assert parent.progress == pytest.approx(50)
        # the full page offers it too, and the review bar does not show it as a second "submit"
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert page.count('id="undo-accept-button"') == 1 and 'data-target="submitted"' not in page
    with time_machine.travel(MOMENT + timedelta(minutes=9), tick=False):
        response = client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version}, headers=HX)
        assert response.status_code == 200 and 'id="undo-accept-button"' not in response.get_data(as_text=True)
    db.session.refresh(task)
    db.session.refresh(parent)
    assert (task.status, task.percent, task.completed_on) == ("submitted", 60, None)
    assert parent.progress == pytest.approx(before) and parent.progress < 50
    undo = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id == task.id, JournalEntry.action == "undo_accept")
    ).all()
    assert [(e.field, e.old_value, e.new_value) for e in undo] == [
        ("status", "accepted", "submitted"),
        ("percent", "100", "60"),
    ]
    assert undo[0].comment == "材料齐全" and undo[0].user_id == people["reviewer"].id
    # the acceptance itself stays in the journal
    assert (
        db.session.scalar(
            select(JournalEntry.comment).where(JournalEntry.task_id == task.id, JournalEntry.new_value == "accepted")
        )
        == "材料齐全"
    )
    with time_machine.travel(MOMENT + timedelta(minutes=9), tick=False):  # signed in at MOMENT
        history = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "撤销通过: 已通过 → 已提交" in history and "已撤销的通过意见：" in history
    # nobody had seen the acceptance: its notices are withdrawn, nothing else is sent
    assert notices("accepted", task) == [] and notices("changed", task) == []
    # accepted again: each owner hears of it once
    with time_machine.travel(MOMENT + timedelta(minutes=12), tick=False):
        accept(client, auth, people, task)
    assert notices("accepted", task) == sorted([people["reporter"].id, people["colleague"].id])


def test_who_saw_the_acceptance_is_told_once_it_was_undone(client, auth, people, task):
    with time_machine.travel(MOMENT, tick=False):
        accept(client, auth, people, task)
        seen = db.session.scalar(
            select(Notification).where(Notification.kind == "accepted", Notification.user_id == people["reporter"].id)
        )
        seen.read_at = MOMENT
        db.session.commit()
        assert client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version}).status_code == 303
    assert notices("accepted", task) == [people["reporter"].id]  # the one they read stays
    assert notices("changed", task) == [people["reporter"].id]  # and they alone are told of the undo
    auth.login(people["reporter"])
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "撤销通过" in inbox


def test_after_the_window_the_button_is_gone_and_the_route_refuses(client, auth, people, task):
    with time_machine.travel(MOMENT, tick=False):
        accept(client, auth, people, task)
    with time_machine.travel(MOMENT + timedelta(minutes=10, seconds=1), tick=False):
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert 'id="undo-accept-button"' not in page
        assert 'data-target="returned"' in page  # reopening (重新打开) remains
        response = client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version}, headers=HX)
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert "10 分钟" in text and "重新打开" in text
        # the state machine's own route refuses the same way
        refused = client.post(
            f"/tasks/{task.id}/status", data={"target": "submitted", "version": task.version}, headers=HX
        )
        assert refused.status_code == 422
    db.session.refresh(task)
    assert task.status == "accepted" and task.percent == 100
    assert not db.session.scalar(select(JournalEntry.id).where(JournalEntry.action == "undo_accept"))


def test_only_the_reviewer_who_accepted_may_undo(client, auth, people, task):
    with time_machine.travel(MOMENT, tick=False):
        accept(client, auth, people, task)
        auth.login(people["other_reviewer"])
        page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
        assert 'id="undo-accept-button"' not in page
        refused = client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version}, headers=HX)
        assert refused.status_code == 422 and "只有" in refused.get_data(as_text=True)
        for name in ("reporter", "leader"):
            auth.login(people[name])
            assert client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version}).status_code == 403
        auth.login(people["reviewer"])
        assert client.post(f"/tasks/{task.id}/undo-accept", data={"version": "x"}).status_code == 422
        stale = client.post(f"/tasks/{task.id}/undo-accept", data={"version": task.version - 1}, headers=HX)
        assert stale.status_code == 409
    db.session.refresh(task)
    assert task.status == "accepted"


def test_a_reopened_then_accepted_task_can_be_undone_only_for_the_new_acceptance(people, task, app):
    with time_machine.travel(MOMENT, tick=False):
        change_status(task, people["reviewer"], "accepted", "好")
        db.session.commit()
    with time_machine.travel(MOMENT + timedelta(minutes=20), tick=False):
        with pytest.raises(InvalidChange):
            undo_acceptance(task, people["reviewer"])
        change_status(task, people["national"], "returned", "重新核实")  # a coordinator above reopens
        db.session.commit()
        with pytest.raises(InvalidChange):
            undo_acceptance(task, people["reviewer"])  # nothing accepted now


def test_the_window_follows_the_configuration_and_an_undone_acceptance_reopens_its_explanation(people, task, app):
    explanation = OverdueExplanation(
        task_id=task.id, due_on=date(2026, 2, 1), reason="other", detail="样本未到", committed_on=date(2026, 3, 5)
    )
    db.session.add(explanation)
    db.session.commit()
    app.config["ACCEPT_UNDO_MINUTES"] = 1
    try:
        with time_machine.travel(MOMENT, tick=False):
            change_status(task, people["reviewer"], "accepted")
            db.session.commit()
        db.session.refresh(explanation)
        assert explanation.state == "kept"
        with time_machine.travel(MOMENT + timedelta(seconds=59), tick=False):
            undo_acceptance(task, people["reviewer"])
            db.session.commit()
        db.session.refresh(explanation)
        assert (explanation.state, explanation.resolved_on) == ("open", None)
        with time_machine.travel(MOMENT + timedelta(minutes=5), tick=False):
            change_status(task, people["reviewer"], "accepted")
            db.session.commit()
        with time_machine.travel(MOMENT + timedelta(minutes=6, seconds=1), tick=False):
            with pytest.raises(InvalidChange, match="1"):
                undo_acceptance(task, people["reviewer"])
    finally:
        app.config["ACCEPT_UNDO_MINUTES"] = 10
