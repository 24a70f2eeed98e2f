"""督办 by hand: 催办 (urging), 批示 (a leader's instruction), 签收 (signing for a task) and
责任人 (the responsible person), on the task page and the overdue list."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import count_queries
from tracker.extensions import db
from tracker.models import JournalEntry, NoticeEvent, Notification, TaskUrge
from tracker.supervision import service
from tracker.timeutil import local_today

SH = ZoneInfo("Asia/Shanghai")
HX = {"HX-Request": "true"}


def notified(task, kind="urged") -> list[int]:
    return sorted(
        db.session.scalars(
            select(Notification.user_id).where(Notification.task_id == task.id, Notification.kind == kind)
        )
    )


def journaled(task, action) -> list[JournalEntry]:
    return list(
        db.session.scalars(select(JournalEntry).where(JournalEntry.task_id == task.id, JournalEntry.action == action))
    )


@pytest.fixture
def people(make_user, make_unit):
    make_unit("P11-QC-H", "P11-QC")
    return {
        "qc_reporter": make_user("reporter", "P11-QC"),
        "qc_coordinator": make_user("coordinator", "P11-QC"),
        "province": make_user("coordinator", "P11"),
        "province_reporter": make_user("reporter", "P11"),
        "hospital": make_user("reporter", "P11-QC-H"),
        "leader": make_user("leader", "NHC"),
        "stranger": make_user("coordinator", "P31"),
    }


@pytest.fixture
def late(make_task):
    return make_task("P11-QC", title="上报质控数据（催办测试）", due_on=local_today() - timedelta(days=8))


# --- 催办 ------------------------------------------------------------------------------------------


def test_a_provincial_coordinator_urges_a_task_below_and_its_owners_are_told_once(client, auth, people, late):
    late.responsible_user_id = people["hospital"].id  # a responsible person outside the unit is told too
    db.session.commit()
    auth.login(people["province"])
    response = client.post(f"/tasks/{late.id}/urge", data={"message": "请本周内报送"}, headers=HX)
    assert response.status_code == 200
    assert notified(late) == sorted([people["qc_reporter"].id, people["qc_coordinator"].id, people["hospital"].id])
    entry = journaled(late, "urge")
    assert [(e.user_id, e.comment) for e in entry] == [(people["province"].id, "请本周内报送")]
    assert db.session.scalar(select(NoticeEvent.message).where(NoticeEvent.task_id == late.id)) == "请本周内报送"
    body = response.get_data(as_text=True)
    assert 'data-unit-urges="1"' in body and 'id="task-history"' in body  # the panel, with its history

    again = client.post(f"/tasks/{late.id}/urge", data={"message": "再催"}, headers=HX)
    assert again.status_code == 422
    assert "今天已催办" in again.get_data(as_text=True)
    assert len(journaled(late, "urge")) == 1 and len(notified(late)) == 3
    assert db.session.scalar(select(func.count()).select_from(TaskUrge).where(TaskUrge.task_id == late.id)) == 1


def test_the_next_local_day_a_task_may_be_urged_again(people, late):
    first = datetime(2026, 3, 2, 15, 30, tzinfo=timezone_utc())  # 23:30 in Shanghai
    service.urge_task(late, people["leader"], now=first)
    with pytest.raises(service.SupervisionError):
        service.urge_task(late, people["leader"], now=first + timedelta(minutes=20))
    service.urge_task(late, people["leader"], now=first + timedelta(minutes=40))  # 00:10 the next day
    assert len(journaled(late, "urge")) == 2


def timezone_utc():
    from datetime import timezone

    return timezone.utc


def test_an_urge_that_lost_the_race_writes_nothing_and_answers_a_message(client, auth, people, late):
    # another request by the same sender committed its 催办 of today in the meantime
    db.session.add(
        TaskUrge(task_id=late.id, sender_id=people["leader"].id, owner_unit_id=late.owner_unit_id, day=local_today())
    )
    db.session.commit()
    auth.login(people["leader"])
    response = client.post(f"/tasks/{late.id}/urge", data={"message": ""})
    assert response.status_code == 422
    assert "今天已催办" in response.get_data(as_text=True)
    assert journaled(late, "urge") == [] and notified(late) == []


def test_who_may_urge(people, late, make_task):
    assert service.may_urge(people["province"], late)
    assert service.may_urge(people["leader"], late)
    assert not service.may_urge(people["qc_coordinator"], late)  # its own unit: not above it
    assert not service.may_urge(people["qc_reporter"], late)
    assert not service.may_urge(people["province_reporter"], late)
    assert not service.may_urge(people["stranger"], late)
    with pytest.raises(service.NotPermitted):
        service.urge_task(late, people["qc_coordinator"])
    finished = make_task("P11-QC", status="accepted")
    with pytest.raises(service.SupervisionError):
        service.urge_task(finished, people["leader"])
    assert journaled(late, "urge") == []


def test_a_long_message_is_refused_next_to_its_field(client, auth, people, late):
    auth.login(people["province"])
    response = client.post(f"/tasks/{late.id}/urge", data={"message": "催" * 501}, headers=HX)
    assert response.status_code == 422
    assert "is-invalid" in response.get_data(as_text=True)
    assert journaled(late, "urge") == []


def _many(make_task, n):
    return [make_task("P11-QC", title=f"逾期任务{i}", due_on=local_today() - timedelta(days=3 + i)) for i in range(n)]


def test_bulk_urging_takes_a_fixed_number_of_statements_and_skips_those_urged_today(people, make_task):
    tasks = _many(make_task, 23)
    sender = people["province"]
    service.urge_task(tasks[0], sender)  # urged before, today
    db.session.commit()
    assert sender.unit.path
    ids = [t.id for t in tasks]
    with count_queries() as few:
        small = service.urge_tasks(ids[20:23], sender, "三项")
    with count_queries() as many:
        result = service.urge_tasks(ids[:20], sender, "请抓紧")
    assert many() == few() <= 6
    assert (result.urged, result.already, result.refused) == (19, 1, 0)
    assert (small.urged, small.already) == (3, 0)
    owners = sorted([people["qc_reporter"].id, people["qc_coordinator"].id])
    for task in tasks:
        assert notified(task) == owners
        assert len(journaled(task, "urge")) == 1
    assert service.urge_counts([tasks[0].owner_unit_id]) == {tasks[0].owner_unit_id: 23}


def test_bulk_urging_leaves_out_tasks_not_the_senders(people, make_task, late):
    own = make_task("P11", title="省卫健委自己的任务", due_on=local_today() - timedelta(days=2))
    far = make_task("P31-QC", title="外省任务", due_on=local_today() - timedelta(days=2))
    result = service.urge_tasks([late.id, own.id, far.id, 10**9], people["province"])
    assert (result.urged, result.refused) == (1, 3)
    assert notified(own) == [] and notified(far) == [] and len(notified(late)) == 2


def test_the_overdue_list_urges_the_ticked_tasks(client, auth, people, make_task):
    tasks = _many(make_task, 4)
    auth.login(people["province"])
    page = client.get("/overdue?unit=P11-QC").get_data(as_text=True)
    # the list's action bar (plans/_bulk_bar.html) offers 催办; the old form's route still urges
    assert page.count('name="task"') >= 4 and 'id="bulk-form"' in page and 'value="urge"' in page
    service.urge_task(tasks[0], people["province"])
    db.session.commit()
    response = client.post(
        "/supervision/urge",
        data={"task": [str(t.id) for t in tasks], "message": "统一催办", "back": "/overdue?unit=P11-QC"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/overdue?unit=P11-QC")
    shown = client.get("/overdue?unit=P11-QC").get_data(as_text=True)
    assert "已催办 3 项" in shown and "1 项已跳过" in shown
    assert all(len(journaled(t, "urge")) == 1 for t in tasks)


def test_the_overdue_list_offers_no_urging_to_reporters(client, auth, people, make_task):
    tasks = _many(make_task, 2)
    auth.login(people["qc_reporter"])
    assert 'value="urge"' not in client.get("/overdue").get_data(as_text=True)  # export only
    assert client.post("/supervision/urge", data={"task": [str(tasks[0].id)]}).status_code == 403
    bar = {"task": [str(tasks[0].id)], "action": "urge", "source": "overdue"}
    assert client.post("/tasks/bulk", data=bar).status_code == 403
    auth.login(people["qc_coordinator"])  # its own unit's tasks: listed, but not to be urged by it
    page = client.get("/overdue").get_data(as_text=True)
    assert f'name="task" value="{tasks[0].id}"' in page  # to export
    response = client.post("/tasks/bulk", data=bar, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "已催办 0 项" in response.get_data(as_text=True)
    assert journaled(tasks[0], "urge") == []


def test_the_task_page_says_how_often_the_owner_unit_was_urged(client, auth, people, late, make_task):
    other = make_task("P11-QC", due_on=local_today() - timedelta(days=1))
    service.urge_task(other, people["leader"])
    service.urge_task(late, people["province"])
    db.session.commit()
    auth.login(people["qc_reporter"])
    page = client.get(f"/tasks/{late.id}").get_data(as_text=True)
    assert 'data-unit-urges="2"' in page and "被催办 2 次" in page
    assert 'id="urge-form"' not in page  # reporters do not urge


def test_times_are_shown_in_shanghai(client, auth, people, late):
    with time_machine.travel(datetime(2026, 3, 2, 17, 5, tzinfo=SH), tick=False):
        service.urge_task(late, people["leader"])
        db.session.commit()
        auth.login(people["qc_reporter"])
        page = client.get(f"/tasks/{late.id}").get_data(as_text=True)
    assert "2026-03-02 17:05" in page
    assert date(2026, 3, 2) == db.session.scalar(select(TaskUrge.day).where(TaskUrge.task_id == late.id))


# --- 批示 ------------------------------------------------------------------------------------------


def test_a_leader_instructs_and_the_owners_and_coordinators_above_are_told(client, auth, people, late):
    with time_machine.travel(datetime(2026, 3, 2, 1, 30, tzinfo=timezone_utc()), tick=False):
        auth.login(people["leader"])
        response = client.post(
            f"/tasks/{late.id}/instruction", data={"text": "请务必按期完成，月底前报结果。"}, headers=HX
        )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "请务必按期完成" in body and "2026-03-02 09:30" in body  # author and Shanghai time
    assert body.index("data-instruction=") < body.index("<dl")  # at the top of the task
    told = notified(late, "instructed")
    assert told == sorted([people["qc_reporter"].id, people["qc_coordinator"].id, people["province"].id])
    assert people["province_reporter"].id not in told and people["stranger"].id not in told
    assert [(e.user_id, e.new_value) for e in journaled(late, "instruct")] == [
        (people["leader"].id, "请务必按期完成，月底前报结果。")
    ]
    auth.login(people["qc_reporter"])
    page = client.get(f"/tasks/{late.id}").get_data(as_text=True)
    assert "请务必按期完成" in page and people["leader"].display_name in page
    assert 'id="instruction-form"' not in page


def test_an_empty_instruction_is_refused_next_to_its_field(client, auth, people, late):
    auth.login(people["leader"])
    response = client.post(f"/tasks/{late.id}/instruction", data={"text": "  "}, headers=HX)
    assert response.status_code == 422 and "is-invalid" in response.get_data(as_text=True)
    assert journaled(late, "instruct") == [] and notified(late, "instructed") == []


def test_only_leaders_instruct(client, auth, people, late):
    for who in ("province", "qc_coordinator", "qc_reporter"):
        auth.login(people[who])
        assert client.post(f"/tasks/{late.id}/instruction", data={"text": "批示"}).status_code == 403
    with pytest.raises(service.NotPermitted):
        service.instruct_task(late, people["province"], "批示")
    assert journaled(late, "instruct") == []


# --- 签收 ------------------------------------------------------------------------------------------


def test_a_cascaded_task_awaits_signing_first_in_my_work_and_one_click_signs_it(client, auth, people, make_task):
    from tracker.cascade.service import TargetSpec, cascade_task
    from tracker.models import Task
    from tracker.plans.queries import my_work

    template = make_task("P11", title="分解到质控中心的任务", due_on=local_today() + timedelta(days=20))
    cascade = cascade_task(template, people["province"], TargetSpec(mode="list", codes=["P11-QC"]))
    db.session.commit()
    child = db.session.scalar(select(Task).where(Task.parent_id == template.id))
    assert child.owner_unit.code == "P11-QC" and child.assigned_at is not None and child.signed_at is None
    assert cascade.children
    work = my_work(people["qc_reporter"])
    assert work.counts["unsigned"] == 1 and [t.id for t in work.lists["unsigned"]] == [child.id]

    auth.login(people["qc_reporter"])
    home = client.get("/").get_data(as_text=True)
    assert home.index('id="work-unsigned"') < home.index('id="work-overdue"') and "待签收" in home
    page = client.get(f"/tasks/{child.id}").get_data(as_text=True)
    assert 'id="sign-form"' in page
    response = client.post(f"/tasks/{child.id}/sign", headers=HX)
    assert response.status_code == 200 and 'id="signed"' in response.get_data(as_text=True)
    db.session.refresh(child)
    assert child.signed_by_id == people["qc_reporter"].id and child.signed_at is not None
    assert [e.user_id for e in journaled(child, "sign")] == [people["qc_reporter"].id]
    assert my_work(people["qc_reporter"]).counts["unsigned"] == 0
    again = client.post(f"/tasks/{child.id}/sign", headers=HX)
    assert again.status_code == 422 and len(journaled(child, "sign")) == 1


def test_only_the_owner_units_users_sign(client, auth, people, make_task):
    from tracker.models.base import utcnow

    task = make_task("P11-QC", assigned_at=utcnow())
    for who, code in (("province", 403), ("leader", 403), ("hospital", 404)):  # a unit below does not see it
        auth.login(people[who])
        assert client.post(f"/tasks/{task.id}/sign").status_code == code, who
    assert journaled(task, "sign") == []


def test_giving_a_task_to_another_unit_makes_it_wait_for_that_unit(people, make_task):
    from tracker.models.base import utcnow
    from tracker.plans.operations import edit_task
    from tracker.plans.queries import my_work
    from tests.conftest import unit

    task = make_task("P11-QC", assigned_at=utcnow())
    service.sign_task(task, people["qc_reporter"])
    edit_task(task, people["province"], {"owner_unit_id": unit("P11-QC-H").id})
    db.session.commit()
    assert task.signed_at is None and task.assigned_at is not None
    assert my_work(people["hospital"]).counts["unsigned"] == 1


# --- 责任人 ----------------------------------------------------------------------------------------


def test_a_coordinator_names_the_responsible_person_and_a_contact(client, auth, people, late):
    auth.login(people["qc_coordinator"])
    page = client.get(f"/tasks/{late.id}").get_data(as_text=True)
    assert f'value="{people["qc_reporter"].id}"' in page  # the owner unit's users to choose from
    assert f'value="{people["province"].id}"' not in page
    response = client.post(
        f"/tasks/{late.id}/responsible",
        data={"responsible": people["qc_reporter"].id, "contact_name": "王科长", "contact_phone": "010-8888 1234"},
        headers=HX,
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'id="responsible"' in body and "王科长" in body and "010-8888 1234" in body
    db.session.refresh(late)
    assert (late.responsible_user_id, late.contact_name, late.contact_phone) == (
        people["qc_reporter"].id,
        "王科长",
        "010-8888 1234",
    )
    fields = sorted(e.field for e in journaled(late, "edit"))
    assert fields == ["contact_name", "contact_phone", "responsible_user_id"]
    service.urge_task(late, people["leader"])  # the responsible person is among those urged
    assert people["qc_reporter"].id in notified(late)


def test_a_bad_responsible_person_or_telephone_is_refused_next_to_its_field(client, auth, people, late):
    auth.login(people["province"])
    outsider = client.post(f"/tasks/{late.id}/responsible", data={"responsible": people["stranger"].id}, headers=HX)
    assert outsider.status_code == 422
    phone = client.post(
        f"/tasks/{late.id}/responsible", data={"responsible": 0, "contact_phone": "call me"}, headers=HX
    )
    assert phone.status_code == 422 and "电话号码只能包含" in phone.get_data(as_text=True)
    db.session.refresh(late)
    assert late.responsible_user_id is None and late.contact_phone == "" and journaled(late, "edit") == []
    with pytest.raises(service.SupervisionError):
        service.set_responsible(late, people["province"], people["hospital"].id)  # not of the owner unit


def test_reporters_and_leaders_do_not_name_the_responsible_person(client, auth, people, late):
    for who in ("qc_reporter", "leader"):
        auth.login(people[who])
        assert client.post(f"/tasks/{late.id}/responsible", data={"responsible": 0}).status_code == 403


def test_without_htmx_the_actions_redirect_to_the_task_page_with_what_was_done(client, auth, people, late):
    from tracker.models.base import utcnow

    auth.login(people["province"])
    response = client.post(f"/tasks/{late.id}/urge", data={"message": ""})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/tasks/{late.id}")
    assert "已催办，已通知承办单位" in client.get(f"/tasks/{late.id}").get_data(as_text=True)
    late.assigned_at = utcnow()
    db.session.commit()
    auth.login(people["qc_coordinator"])
    assert client.post(f"/tasks/{late.id}/sign").status_code == 303
    page = client.get(f"/tasks/{late.id}").get_data(as_text=True)
    assert "已签收。" in page and 'id="signed"' in page


def test_the_urged_unit_finds_the_notice_in_its_inbox(client, auth, people, late):
    service.urge_task(late, people["province"], "请本周内报送")
    service.instruct_task(late, people["leader"], "抓紧落实")
    db.session.commit()
    auth.login(people["qc_reporter"])
    response = client.get("/notifications")
    assert response.status_code == 200
    assert f"/tasks/{late.id}" in response.get_data(as_text=True)
