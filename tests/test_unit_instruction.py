"""批示 on a unit's row of the leadership screen: it attaches to that unit's open overdue tasks
(of a plan, or of every plan), shows on each task page, is journaled and told to the owners;
only leaders and admins may write it, and bad input gets its message beside the field."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from tests.conftest import count_queries
from tracker.extensions import db
from tracker.models import Instruction, JournalEntry, Notification, instruction_tasks

HX = {"HX-Request": "true"}


def overdue_tasks(make_task, code, n, plan_key="fixture-plan"):
    due = date.today() - timedelta(days=10)
    return [make_task(code, plan_key=plan_key, due_on=due, status="in_progress") for _ in range(n)]


def test_a_leader_instructs_a_units_row_and_it_reaches_each_overdue_task_and_its_owners(
    client, auth, make_user, make_task
):
    leader = make_user("leader", "NHC")
    reporter = make_user("reporter", "P11-QC")
    late = overdue_tasks(make_task, "P11-QC", 5)
    not_yet = make_task("P11-QC", due_on=date.today() + timedelta(days=5), status="in_progress")
    elsewhere = overdue_tasks(make_task, "P12-QC", 2)
    auth.login(leader)

    screen = client.get("/leadership?unit=NHC").text
    assert "/supervision/unit-instruction?unit=" in screen
    form = client.get("/supervision/unit-instruction?unit=P11", headers=HX)
    assert form.status_code == 200 and 'name="text"' in form.text and "<html" not in form.text

    with count_queries() as statements:
        done = client.post(
            "/supervision/unit-instruction?unit=P11&plan=fixture-plan", data={"text": "请于本周内全部办结"}, headers=HX
        )
    assert done.status_code == 200 and "unit-instruction-done" in done.text
    [instruction] = db.session.scalars(select(Instruction)).all()
    attached = set(db.session.scalars(select(instruction_tasks.c.task_id)))
    assert attached == {t.id for t in late}  # not the task not yet due, not another unit's
    assert not_yet.id not in attached and not attached & {t.id for t in elsewhere}
    journal = db.session.scalar(select(func.count()).select_from(JournalEntry).where(JournalEntry.action == "instruct"))
    assert journal == 5
    told = db.session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == reporter.id, Notification.kind == "instructed")
    )
    assert told == 5
    assert client.get(f"/tasks/{late[0].id}").text.count("请于本周内全部办结") >= 1
    # five tasks or thirty: the same statements
    overdue_tasks(make_task, "P13-QC", 30)
    with count_queries() as more:
        client.post("/supervision/unit-instruction?unit=P13&plan=fixture-plan", data={"text": "请抓紧"}, headers=HX)
    writes = [sql for sql in more.sql if not sql.lstrip().startswith("SELECT users.")]  # signed-in user, once
    assert len(writes) == len([sql for sql in statements.sql if not sql.lstrip().startswith("SELECT users.")])


def test_without_a_plan_it_attaches_to_the_units_overdue_tasks_of_every_plan(client, auth, make_user, make_task):
    ours = overdue_tasks(make_task, "P11-QC", 2) + overdue_tasks(make_task, "P11", 1, plan_key="another-plan")
    auth.login(make_user("leader", "NHC"))
    assert client.post("/supervision/unit-instruction?unit=P11", data={"text": "请抓紧"}, headers=HX).status_code == 200
    attached = set(db.session.scalars(select(instruction_tasks.c.task_id)))
    assert {t.id for t in ours} <= attached


def test_an_empty_instruction_or_a_unit_without_overdue_work_gets_its_message_beside_the_field(
    client, auth, make_user, make_task
):
    make_task("P13-QC", due_on=date.today() + timedelta(days=3))  # the plan exists, nothing overdue in it
    auth.login(make_user("leader", "NHC"))
    empty = client.post("/supervision/unit-instruction?unit=P11", data={"text": "  "}, headers=HX)
    assert empty.status_code == 422 and "invalid-feedback" in empty.text
    nothing = client.post(
        "/supervision/unit-instruction?unit=P13&plan=fixture-plan", data={"text": "请抓紧"}, headers=HX
    )
    assert nothing.status_code == 422 and "invalid-feedback" in nothing.text
    assert db.session.scalar(select(func.count()).select_from(Instruction)) == 0


def test_only_leaders_and_admins_instruct_a_unit_and_an_unknown_unit_is_404(client, auth, make_user, make_task):
    overdue_tasks(make_task, "P11-QC", 1)
    for role, unit in (("coordinator", "NHC"), ("reporter", "P11-QC")):
        auth.login(make_user(role, unit))
        assert client.post("/supervision/unit-instruction?unit=P11", data={"text": "x"}).status_code == 403
        assert "/supervision/unit-instruction" not in client.get("/leadership?unit=NHC").text
        auth.logout()
    auth.login(make_user("admin", "NHC"))
    assert client.get("/supervision/unit-instruction?unit=NOPE").status_code == 404
    page = client.post("/supervision/unit-instruction?unit=P11", data={"text": "请抓紧"})
    assert page.status_code == 303
