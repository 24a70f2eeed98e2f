"""Cascade (分解下达): a coordinator expands a task into one task per unit, keeps the units' tasks in
step with the template, and can withdraw the cascade."""

import re
from datetime import date
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from tests.conftest import count_queries, unit
from tracker.cascade.service import (
    GROUP,
    LIST,
    PROVINCES,
    CascadeError,
    TargetSpec,
    cascade_task,
    is_template_clause,
    preview_cascade,
    recent_cascades,
    withdraw_cascade,
)
from tracker.extensions import db
from tracker.importer.seed import load_seed_files, seed_files
from tracker.models import JournalEntry, OrgUnit, Phase, Plan, Task
from tracker.models.cascade import Cascade, CascadeChild
from tracker.plans.operations import NotAllowed
from tracker.plans.operations import change_status, edit_task

ROOT = Path(__file__).resolve().parent.parent
HX = {"HX-Request": "true"}
DUE = date(2025, 6, 30)


@pytest.fixture
def template(make_task):
    task = make_task(
        "NHC",
        plan_key="cascade-plan",
        ref="三.(一)",
        title="制定本省份实施方案",
        due_on=DUE,
        deliverable="省级实施方案",
        start_on=date(2025, 3, 1),
        weight=2.0,
    )
    phase = Phase(plan=task.plan, key="startup", name="启动阶段", start_on=date(2025, 3, 1), end_on=DUE)
    db.session.add(phase)
    db.session.flush()
    task.phase = phase
    db.session.commit()
    return task


@pytest.fixture
def nhc_coord(make_user):
    return make_user("coordinator", "NHC")


def children_of(task: Task) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.parent_id == task.id).order_by(Task.position)))


def entries(task: Task, action: str | None = None) -> list[JournalEntry]:
    query = select(JournalEntry).where(JournalEntry.task_id == task.id)
    if action:
        query = query.where(JournalEntry.action == action)
    return list(db.session.scalars(query.order_by(JournalEntry.id)))


def message(exc) -> str:
    """A service's refusal as the user reads it (lazy messages need a request's locale)."""
    with current_app.test_request_context():
        return str(exc)


def province_codes() -> set[str]:
    return set(
        db.session.scalars(select(OrgUnit.code).where(OrgUnit.kind == "commission", OrgUnit.level == "provincial"))
    )


# --- creating a cascade ----------------------------------------------------------------------------


def test_a_national_coordinator_cascades_a_task_to_the_32_provincial_commissions(template, nhc_coord):
    with count_queries() as statements:
        cascade = cascade_task(template, nhc_coord, TargetSpec(PROVINCES), {"P11": date(2025, 7, 15)})
        db.session.commit()
    children = children_of(template)
    assert len(children) == 32
    assert {c.owner_unit.code for c in children} == province_codes()
    beijing = next(c for c in children if c.owner_unit.code == "P11")
    others = [c for c in children if c is not beijing]
    assert beijing.due_on == date(2025, 7, 15)
    assert {c.due_on for c in others} == {DUE}
    assert {(c.deliverable, c.phase.key, c.start_on, c.origin, c.status) for c in children} == {
        ("省级实施方案", "startup", date(2025, 3, 1), "cascade", "not_started")
    }
    assert {c.ref for c in children} == {f"三.(一)@{code}" for code in province_codes()}
    assert all(c.path == f"{template.path}{c.id}/" and c.depth == template.depth + 1 for c in children)
    links = {link.unit.code: link for link in cascade.children}
    assert links["P11"].due_overridden and not links["P12"].due_overridden
    assert [e.new_value for e in entries(template, "cascade")] == ["32"]
    assert all(len(entries(c, "create")) == 1 for c in children)
    assert statements() < 25, "creating 32 tasks takes a fixed number of statements"


def test_the_preview_names_the_units_and_writes_nothing(template, nhc_coord):
    before = db.session.scalar(select(func.count()).select_from(Task))
    preview = preview_cascade(template, nhc_coord, TargetSpec(LIST, codes=["P11", "P64"]), {"P64": date(2025, 8, 1)})
    assert [(r.unit.code, r.due_on, r.overridden) for r in preview.rows] == [
        ("P11", DUE, False),
        ("P64", date(2025, 8, 1), True),
    ]
    assert db.session.scalar(select(func.count()).select_from(Task)) == before


def test_a_second_cascade_skips_the_units_that_already_have_the_task(template, nhc_coord):
    cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11", "P12"]))
    second = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P12", "P13"]))
    assert [link.unit.code for link in second.children] == ["P13"]
    with pytest.raises(CascadeError):
        cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))


def test_every_unit_of_a_kind_under_a_unit(make_task, make_user):
    wuzhong = make_user("coordinator", "WZ")
    task = make_task("WZ", ref="二.(一)", title="县级人民医院自查", due_on=DUE)
    cascade = cascade_task(task, wuzhong, TargetSpec(GROUP, kind="commission", level="county"))
    owners = {link.unit.code for link in cascade.children}
    expected = set(
        db.session.scalars(
            select(OrgUnit.code).where(
                OrgUnit.kind == "commission", OrgUnit.level == "county", OrgUnit.path.like(f"{unit('WZ').path}%")
            )
        )
    )
    assert owners == expected and len(owners) == 5


@pytest.mark.parametrize(
    "spec, expected",
    [
        (TargetSpec(LIST, codes=["P11", "P99"]), "P99"),
        (TargetSpec(GROUP), ""),
        (TargetSpec(LIST, codes=[]), ""),
    ],
)
def test_bad_targets_are_refused_and_nothing_is_written(template, nhc_coord, spec, expected):
    before = db.session.scalar(select(func.count()).select_from(Task))
    with pytest.raises(CascadeError) as caught:
        cascade_task(template, nhc_coord, spec)
    assert expected in message(caught.value)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Task)) == before


def test_a_provincial_coordinator_cannot_cascade_to_other_provinces(make_task, make_user):
    beijing = make_user("coordinator", "P11")
    task = make_task("P11", ref="四", title="北京任务", due_on=DUE)
    with pytest.raises(CascadeError) as caught:
        cascade_task(task, beijing, TargetSpec(PROVINCES))
    assert "P12" in message(caught.value)


@pytest.mark.parametrize("role, code", [("reporter", "NHC"), ("leader", "NHC"), ("coordinator", "P11")])
def test_only_a_coordinator_over_the_task_cascades_it(template, make_user, role, code):
    with pytest.raises(NotAllowed):
        cascade_task(template, make_user(role, code), TargetSpec(LIST, codes=["P11"]))


# --- keeping the children in step ---------------------------------------------------------------


def test_a_new_due_date_on_the_template_flows_to_every_child_but_the_overridden_one(template, nhc_coord):
    cascade_task(template, nhc_coord, TargetSpec(PROVINCES), {"P11": date(2025, 7, 15)})
    db.session.commit()
    edit_task(template, nhc_coord, {"due_on": date(2025, 9, 30), "deliverable": "省级实施方案（印发稿）"})
    db.session.commit()
    children = {c.owner_unit.code: c for c in children_of(template)}
    assert children["P11"].due_on == date(2025, 7, 15)
    assert {c.due_on for code, c in children.items() if code != "P11"} == {date(2025, 9, 30)}
    assert {c.deliverable for c in children.values()} == {"省级实施方案（印发稿）"}
    synced = entries(children["P12"], "sync")
    assert [(e.field, e.old_value, e.new_value, e.user_id) for e in synced] == [
        ("due_on", "2025-06-30", "2025-09-30", nhc_coord.id),
        ("deliverable", "省级实施方案", "省级实施方案（印发稿）", nhc_coord.id),
    ]
    assert not [e for e in entries(children["P11"], "sync") if e.field == "due_on"]


def test_a_child_given_its_own_due_date_keeps_it_and_follows_again_when_set_back(template, nhc_coord, make_user):
    cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11", "P12"]))
    db.session.commit()
    beijing_task = next(c for c in children_of(template) if c.owner_unit.code == "P11")
    edit_task(beijing_task, make_user("coordinator", "P11"), {"due_on": date(2025, 7, 31)})
    db.session.commit()
    link = db.session.scalar(select(CascadeChild).where(CascadeChild.task_id == beijing_task.id))
    assert link.due_overridden
    edit_task(template, nhc_coord, {"due_on": date(2025, 8, 31)})
    db.session.commit()
    assert beijing_task.due_on == date(2025, 7, 31)
    edit_task(beijing_task, nhc_coord, {"due_on": date(2025, 8, 31)})
    db.session.commit()
    assert not link.due_overridden
    edit_task(template, nhc_coord, {"due_on": date(2025, 10, 31)})
    db.session.commit()
    assert beijing_task.due_on == date(2025, 10, 31)


def test_a_change_flows_down_a_cascade_of_a_cascade(template, nhc_coord, make_user):
    cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P64"]))
    ningxia_task = children_of(template)[0]
    cascade_task(ningxia_task, make_user("coordinator", "P64"), TargetSpec(LIST, codes=["WZ"]))
    db.session.commit()
    edit_task(template, nhc_coord, {"due_on": date(2025, 12, 31)})
    db.session.commit()
    assert children_of(ningxia_task)[0].due_on == date(2025, 12, 31)


# --- withdrawal -----------------------------------------------------------------------------------


def test_withdrawing_a_cascade_cancels_its_children_and_journals_it(template, nhc_coord, make_user):
    cascade = cascade_task(template, nhc_coord, TargetSpec(PROVINCES))
    db.session.commit()
    children = children_of(template)
    accepted = next(c for c in children if c.owner_unit.code == "P12")
    change_status(accepted, make_user("coordinator", "P12"), "in_progress")
    change_status(accepted, make_user("coordinator", "P12"), "submitted")
    change_status(accepted, nhc_coord, "accepted")
    db.session.commit()
    with count_queries() as statements:
        cancelled = withdraw_cascade(cascade, nhc_coord, "文件已废止")
        db.session.commit()
    assert cancelled == 31
    assert {c.status for c in children if c is not accepted} == {"cancelled"}
    assert accepted.status == "accepted"
    beijing = next(c for c in children if c.owner_unit.code == "P11")
    entry = entries(beijing, "status")[-1]
    assert (entry.old_value, entry.new_value, entry.comment, entry.user_id) == (
        "not_started",
        "cancelled",
        "文件已废止",
        nhc_coord.id,
    )
    assert [(e.old_value, e.new_value, e.comment) for e in entries(template, "withdraw")] == [
        ("32", "31", "文件已废止")
    ]
    assert cascade.state == "withdrawn" and cascade.withdrawn_by == nhc_coord
    db.session.refresh(template)
    assert template.progress == 100.0  # only the accepted child is left in the roll-up
    assert statements() < 30
    with pytest.raises(CascadeError):
        withdraw_cascade(cascade, nhc_coord, "again")


def test_a_withdrawn_cascade_no_longer_follows_the_template_and_can_be_made_again(template, nhc_coord):
    first = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))
    withdraw_cascade(first, nhc_coord, "重新部署")
    edit_task(template, nhc_coord, {"due_on": date(2025, 11, 30)})
    db.session.commit()
    old = children_of(template)[0]
    assert old.due_on == DUE and old.status == "cancelled"
    second = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))
    new = second.children[0].task
    assert new.ref == f"三.(一)@P11#{second.id}" and new.due_on == date(2025, 11, 30)


def test_withdrawal_needs_a_reason(template, nhc_coord):
    cascade = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))
    with pytest.raises(CascadeError):
        withdraw_cascade(cascade, nhc_coord, "  ")


# --- the seed loader's cascades ----------------------------------------------------------------------


def seeded_template(plan_key: str, title: str) -> Task:
    return db.session.scalar(
        select(Task).join(Plan).where(Plan.key == plan_key, Task.title == title, is_template_clause())
    )


def test_the_loader_records_each_province_expansion_as_a_seed_cascade():
    template = seeded_template("tumor-2021", "制定印发本省份工作方案")
    cascade = db.session.scalar(select(Cascade).where(Cascade.template_task_id == template.id))
    assert cascade.origin == "seed" and cascade.state == "active"
    assert cascade.target == {"mode": "group", "kind": "commission", "level": "provincial"}
    assert {link.unit.code for link in cascade.children} == province_codes()
    assert all(link.task.ref == f"{template.ref}@{link.unit.code}" for link in cascade.children)


def test_a_seeded_child_with_its_own_due_date_keeps_it_when_the_seeds_are_loaded_again(make_user):
    template = seeded_template("tumor-2021", "制定印发本省份工作方案")
    child = db.session.scalar(select(Task).where(Task.ref == f"{template.ref}@P11", Task.plan_id == template.plan_id))
    edit_task(child, make_user("coordinator", "NHC"), {"due_on": date(2021, 11, 15)})
    db.session.commit()
    report = load_seed_files(seed_files(ROOT / "seed_plans"))
    db.session.commit()
    assert (report.tasks_created, report.tasks_updated) == (0, 0)
    assert child.due_on == date(2021, 11, 15)


# --- pages ---------------------------------------------------------------------------------------------


def test_the_task_page_offers_the_cascade_to_a_coordinator_only(client, auth, template, nhc_coord, make_user):
    auth.login(nhc_coord)
    assert 'id="cascade-button"' in client.get(f"/tasks/{template.id}").get_data(as_text=True)
    auth.login(make_user("reporter", "NHC"))
    assert 'id="cascade-button"' not in client.get(f"/tasks/{template.id}").get_data(as_text=True)
    assert client.get(f"/tasks/{template.id}/cascade").status_code == 403


def test_preview_then_create_through_the_pages(client, auth, template, nhc_coord):
    auth.login(nhc_coord)
    page = client.get(f"/tasks/{template.id}/cascade")
    assert page.status_code == 200 and 'id="cascade-form"' in page.get_data(as_text=True)
    form = {"mode": "list", "codes": "P11，P12\nP13", "action": "preview"}
    fragment = client.post(f"/tasks/{template.id}/cascade", data=form, headers={**HX, "HX-Target": "cascade-preview"})
    text = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in text and text.count('data-unit="P1') == 3
    full = client.post(f"/tasks/{template.id}/cascade", data=form)
    assert "<html" in full.get_data(as_text=True) and 'id="preview-table"' in full.get_data(as_text=True)
    created = client.post(
        f"/tasks/{template.id}/cascade",
        data={**form, "action": "create", "due-P13": "2025-07-31", "due-P11": "2025-06-30"},
    )
    assert created.status_code == 303
    cascade = db.session.scalar(select(Cascade).where(Cascade.template_task_id == template.id))
    assert created.headers["Location"].endswith(f"/cascades/{cascade.id}")
    dues = {link.unit.code: (link.task.due_on, link.due_overridden) for link in cascade.children}
    assert dues == {"P11": (DUE, False), "P12": (DUE, False), "P13": (date(2025, 7, 31), True)}
    detail = client.get(f"/cascades/{cascade.id}").get_data(as_text=True)
    assert detail.count('data-unit="P1') == 3
    rows_only = client.get(f"/cascades/{cascade.id}", headers={**HX, "HX-Target": "cascade-children"}).get_data(
        as_text=True
    )
    assert rows_only.count('data-unit="P1') == 3 and "<html" not in rows_only and 'id="withdraw-form"' not in rows_only
    child_page = client.get(f"/tasks/{cascade.children[2].task_id}").get_data(as_text=True)
    assert 'id="cascade-child-info"' in child_page


@pytest.mark.parametrize(
    "data",
    [
        {"mode": "list", "codes": "P11 P98", "action": "create"},
        {"mode": "list", "codes": "", "action": "preview"},
        {"mode": "nonsense", "action": "preview"},
        {"mode": "list", "codes": "P11", "action": "create", "due-P11": "2025-13-01"},
    ],
)
def test_bad_cascade_input_gets_the_form_back_with_400_and_writes_nothing(client, auth, template, nhc_coord, data):
    auth.login(nhc_coord)
    response = client.post(f"/tasks/{template.id}/cascade", data=data)
    assert response.status_code == 400
    assert 'id="cascade-form"' in response.get_data(as_text=True)
    assert children_of(template) == []


def test_withdraw_through_the_page(client, auth, template, nhc_coord):
    cascade = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11", "P12"]))
    db.session.commit()
    auth.login(nhc_coord)
    refused = client.post(f"/cascades/{cascade.id}/withdraw", data={"reason": ""})
    assert refused.status_code == 400 and cascade.state == "active"
    done = client.post(f"/cascades/{cascade.id}/withdraw", data={"reason": "调整部署"})
    assert done.status_code == 303
    db.session.refresh(cascade)
    assert cascade.state == "withdrawn"
    assert {c.status for c in children_of(template)} == {"cancelled"}


def test_a_provincial_user_sees_no_other_provinces_cascade(client, auth, template, nhc_coord, make_user):
    cascade = cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))
    db.session.commit()
    auth.login(make_user("coordinator", "P12"))
    assert client.get(f"/cascades/{cascade.id}").status_code == 404
    assert client.get(f"/tasks/{template.id}/cascade").status_code == 404


def test_the_hub_lists_cascades_in_a_fixed_number_of_statements(client, auth, template, nhc_coord):
    cascade_task(template, nhc_coord, TargetSpec(LIST, codes=["P11"]))
    db.session.commit()
    auth.login(nhc_coord)
    with count_queries() as statements:
        response = client.get("/cascade")
    assert response.status_code == 200 and "/cascades/" in response.get_data(as_text=True)
    assert statements() < 15


def test_control_characters_in_the_form_are_dropped_not_sent_to_the_database(client, auth, template, nhc_coord):
    auth.login(nhc_coord)
    refused = client.post(
        f"/tasks/{template.id}/cascade", data={"mode": "list", "codes": "P11\x00", "action": "create"}
    )
    assert refused.status_code == 400 and children_of(template) == []  # NUL: refused at the door
    response = client.post(
        f"/tasks/{template.id}/cascade", data={"mode": "list", "codes": "P11\x1b", "action": "create"}
    )
    assert response.status_code == 303
    assert [c.owner_unit.code for c in children_of(template)] == ["P11"]


# --- pages of a long cascade: the one pager (tracker/pagination.py, _pager.html) -------------------


def units_on(html: str) -> list[str]:
    return re.findall(r'<tr data-unit="([^"]+)"', html)


def test_page_two_of_a_cascade_shows_the_next_children_and_the_pager_links_lead_there(
    client, auth, template, nhc_coord
):
    cascade = cascade_task(template, nhc_coord, TargetSpec(PROVINCES))
    db.session.commit()
    auth.login(nhc_coord)
    first = client.get(f"/cascades/{cascade.id}?per_page=20").get_data(as_text=True)
    assert len(units_on(first)) == 20 and "共 32 项任务" in first
    links = dict(
        (text, href.replace("&amp;", "&"))
        for href, text in re.findall(r'<a class="page-link" href="([^"]+)"[^>]*>([^<]+)</a>', first)
    )
    assert set(links) == {"2", "下一页"} and links["2"] == links["下一页"]
    assert "page=2" in links["2"] and "per_page=20" in links["2"]  # the page size is kept
    second = client.get(links["2"]).get_data(as_text=True)
    assert len(units_on(second)) == 12
    assert not set(units_on(first)) & set(units_on(second))
    assert set(units_on(first)) | set(units_on(second)) == province_codes()
    assert 'aria-current="page"><span class="page-link">2</span>' in second and 'rel="prev"' in second
    fragment = client.get(links["2"], headers={**HX, "HX-Target": "cascade-children"}).get_data(as_text=True)
    assert "<html" not in fragment and units_on(fragment) == units_on(second)
    assert 'hx-target="#cascade-children"' in fragment  # the pager swaps only the children
    past_the_end = client.get(f"/cascades/{cascade.id}?per_page=20&page=9").get_data(as_text=True)
    assert units_on(past_the_end) == units_on(second)  # the last page, not an empty one


def test_the_hub_pages_the_cascades_newest_first(make_task, nhc_coord):
    before = recent_cascades(nhc_coord, 1, 2).total  # the seed plans' cascades
    made = []
    for number in range(3):
        task = make_task("NHC", plan_key="cascade-plan", ref=f"四.({number})", title=f"任务{number}", due_on=DUE)
        made.append(cascade_task(task, nhc_coord, TargetSpec(LIST, codes=["P11"])))
    db.session.commit()
    first, second = (recent_cascades(nhc_coord, number, 2) for number in (1, 2))
    assert [c.id for c in first.items] == [made[2].id, made[1].id] and first.total == before + 3
    assert second.items[0].id == made[0].id and second.has_prev
