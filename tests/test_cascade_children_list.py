"""A cascade's children as a list people work in: the national commission filters the provinces'
tasks (status, overdue, unit by the picker, responsible person), orders them by a column, pages
through them, and acts on a selection with the task list's action bar (通过, 退回 with one reason,
调整截止日期, 催办, 导出所选), each task by its own rules; everyone sees only what their scope holds."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import count_queries
from tracker.cascade.service import LIST, ChildFilters, TargetSpec, cascade_children, cascade_task
from tracker.extensions import db
from tracker.models import JournalEntry, Notification, Task
from tracker.models.cascade import Cascade
from tracker.plans import journal

HX = {"HX-Request": "true"}
DUE = date(2025, 6, 30)
CODES = ["P11", "P12", "P13", "P31"]


@pytest.fixture
def people(make_user):
    return {
        "national": make_user("coordinator", "NHC"),
        "leader": make_user("leader", "NHC"),
        "beijing": make_user("coordinator", "P11"),
        "beijing_reporter": make_user("reporter", "P11"),
        "tianjin_reporter": make_user("reporter", "P12"),
        "reporter": make_user("reporter", "P11-QC"),
    }


@pytest.fixture
def cascade(make_task, people) -> Cascade:
    template = make_task("NHC", plan_key="children-plan", ref="二.(一)", title="制定本省实施方案", due_on=DUE)
    made = cascade_task(template, people["national"], TargetSpec(LIST, codes=CODES))
    db.session.commit()
    return made


def child(cascade: Cascade, code: str) -> Task:
    return next(link.task for link in cascade.children if link.unit.code == code)


def submit(task: Task, submitter) -> None:
    task.status = "submitted"
    task.percent = 90
    journal.record(task, submitter, "status", "status", "in_progress", "submitted")
    db.session.commit()


def rows(page: str) -> list[str]:
    return [part.split('"')[0] for part in page.split('data-unit="')[1:]]


def test_the_national_commission_filters_the_children(client, auth, people, cascade):
    submit(child(cascade, "P11"), people["beijing_reporter"])
    submit(child(cascade, "P12"), people["tianjin_reporter"])
    child(cascade, "P13").responsible_user_id = people["beijing_reporter"].id
    db.session.commit()
    auth.login(people["national"])
    url = f"/cascades/{cascade.id}"
    assert sorted(rows(client.get(url).get_data(as_text=True))) == sorted(CODES)
    assert sorted(rows(client.get(f"{url}?status=submitted").get_data(as_text=True))) == ["P11", "P12"]
    assert rows(client.get(f"{url}?unit=P31").get_data(as_text=True)) == ["P31"]
    page = client.get(f"{url}?responsible={people['beijing_reporter'].id}").get_data(as_text=True)
    assert rows(page) == ["P13"] and people["beijing_reporter"].display_name in page
    # overdue: past the due date (2025-06-30) every open child but the submitted ones
    assert sorted(rows(client.get(f"{url}?overdue=y").get_data(as_text=True))) == ["P13", "P31"]
    # HTMX: only the list
    fragment = client.get(f"{url}?status=submitted", headers={**HX, "HX-Target": "cascade-children"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="children-filters"' not in text and sorted(rows(text)) == ["P11", "P12"]
    # bad filters: a message, never a 500
    assert client.get(f"{url}?status=done").status_code == 400
    assert client.get(f"{url}?responsible=999999").status_code == 400
    assert client.get(f"{url}?sort=nonsense").status_code == 400


def test_the_columns_order_the_children(client, auth, people, cascade):
    child(cascade, "P31").due_on = date(2025, 5, 1)
    child(cascade, "P12").due_on = date(2025, 8, 1)
    db.session.commit()
    auth.login(people["national"])
    url = f"/cascades/{cascade.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'href="/cascades/{}?sort=due"'.format(cascade.id) in page and "aria-sort" not in page
    assert rows(client.get(f"{url}?sort=due").get_data(as_text=True))[:1] == ["P31"]
    assert rows(client.get(f"{url}?sort=-due").get_data(as_text=True))[:1] == ["P12"]
    by_unit = rows(client.get(f"{url}?sort=unit").get_data(as_text=True))
    assert by_unit == list(reversed(rows(client.get(f"{url}?sort=-unit").get_data(as_text=True))))
    assert 'aria-sort="ascending"' in client.get(f"{url}?sort=unit").get_data(as_text=True)


def test_each_sees_only_the_children_in_their_scope(people, cascade):
    everything = cascade_children(cascade, user=people["leader"])
    assert {link.unit.code for link, _task in everything.items} == set(CODES)
    beijing = cascade_children(cascade, user=people["beijing"])
    assert [link.unit.code for link, _task in beijing.items] == ["P11"]
    assert cascade_children(cascade, user=people["reporter"]).items == []
    assert cascade_children(cascade, user=people["national"], filters=ChildFilters(status="accepted")).total == 0


def test_bulk_accept_and_return_from_the_children_list(client, auth, people, cascade):
    submit(child(cascade, "P11"), people["beijing_reporter"])
    submit(child(cascade, "P12"), people["tianjin_reporter"])
    auth.login(people["national"])
    page = client.get(f"/cascades/{cascade.id}").get_data(as_text=True)
    assert 'id="bulk-form"' in page and 'name="source" value="cascade"' in page
    assert page.count('name="task"') == 4 and 'value="urge"' in page and 'value="move_due"' in page
    back = f"/cascades/{cascade.id}?status=submitted"
    ids = [child(cascade, c).id for c in ("P11", "P13")]
    response = client.post(
        "/tasks/bulk", data={"action": "accept", "task": ids, "source": "cascade", "next": back}, headers=HX
    )
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Trigger"]) == {"bulk-done": {"refresh": "#cascade-children"}}
    text = response.get_data(as_text=True)
    assert "已通过 1 项" in text and "制定本省实施方案" in text  # P13 refused: not awaiting review
    assert child(cascade, "P11").status == "accepted" and child(cascade, "P13").status == "not_started"
    # 退回 needs its one reason; without JavaScript back to the list it came from
    refused = client.post(
        "/tasks/bulk", data={"action": "return", "task": [child(cascade, "P12").id], "source": "cascade"}
    )
    assert refused.status_code == 303 and child(cascade, "P12").status == "submitted"
    done = client.post(
        "/tasks/bulk",
        data={
            "action": "return",
            "comment": "请补充附件",
            "task": [child(cascade, "P12").id],
            "source": "cascade",
            "next": back,
        },
    )
    assert done.status_code == 303 and done.headers["Location"].endswith(back)
    assert child(cascade, "P12").status == "returned"
    returned = db.session.scalar(
        select(JournalEntry).where(
            JournalEntry.task_id == child(cascade, "P12").id, JournalEntry.new_value == "returned"
        )
    )
    assert returned.comment == "请补充附件" and returned.user_id == people["national"].id


def test_bulk_move_due_date_and_export_of_the_selection(client, auth, people, cascade):
    auth.login(people["national"])
    ids = [child(cascade, c).id for c in ("P11", "P12")]
    response = client.post(
        "/tasks/bulk", data={"action": "move_due", "due_on": "2025-09-30", "task": ids, "source": "cascade"}
    )
    assert response.status_code == 303
    assert {child(cascade, c).due_on for c in ("P11", "P12")} == {date(2025, 9, 30)}
    assert child(cascade, "P13").due_on == DUE
    exported = client.post("/tasks/bulk/export", data={"task": ids, "source": "cascade"})
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.data)).active
    assert sum(1 for row in sheet.iter_rows(values_only=True) if "制定本省实施方案" in row) == 2


def test_bulk_urge_from_the_children_list_by_a_coordinator_and_a_leader(client, auth, people, cascade):
    ids = [child(cascade, c).id for c in ("P11", "P12")]
    auth.login(people["leader"])
    page = client.get(f"/cascades/{cascade.id}").get_data(as_text=True)
    assert 'value="urge"' in page and 'value="accept"' not in page and 'value="move_due"' not in page
    response = client.post(
        "/tasks/bulk", data={"action": "urge", "comment": "请加快进度", "task": ids, "source": "cascade"}, headers=HX
    )
    assert response.status_code == 200 and "已催办 2 项" in response.get_data(as_text=True)
    urges = db.session.scalars(
        select(JournalEntry).where(JournalEntry.action == "urge", JournalEntry.task_id.in_(ids))
    ).all()
    assert len(urges) == 2 and {u.comment for u in urges} == {"请加快进度"}
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "urged", Notification.task_id == ids[0])
    ).all()
    assert people["beijing_reporter"].id in told
    # the same again today: refused with the reason, nothing sent twice
    again = client.post("/tasks/bulk", data={"action": "urge", "task": ids[:1], "source": "cascade"}, headers=HX)
    assert "今天已催办" in again.get_data(as_text=True)
    assert len(db.session.scalars(select(JournalEntry).where(JournalEntry.action == "urge")).all()) == 2
    # a leader still accepts nothing; a reporter has no bar actions at all
    assert client.post("/tasks/bulk", data={"action": "accept", "task": ids, "source": "cascade"}).status_code == 303
    auth.login(people["reporter"])
    assert client.post("/tasks/bulk", data={"action": "urge", "task": ids, "source": "cascade"}).status_code == 403
    # a provincial coordinator urges only below itself: its own province's child is refused
    auth.login(people["beijing"])
    mine = client.post(
        "/tasks/bulk", data={"action": "urge", "task": [child(cascade, "P11").id], "source": "cascade"}, headers=HX
    )
    assert "已催办 0 项" in mine.get_data(as_text=True)


def test_the_children_list_is_a_bounded_number_of_statements(client, auth, people, make_task):
    auth.login(people["national"])
    counts = {}
    for codes in (["P11", "P12"], CODES):
        template = make_task("NHC", plan_key="children-plan", title="模板", due_on=DUE)
        made = cascade_task(template, people["national"], TargetSpec(LIST, codes=codes))
        for link in made.children:
            link.task.responsible_user_id = people["beijing_reporter"].id
        db.session.commit()
        with count_queries() as statements:
            response = client.get(f"/cascades/{made.id}?sort=status&overdue=y")
        assert response.status_code == 200
        counts[len(codes)] = statements()
    assert counts[2] == counts[4], counts
