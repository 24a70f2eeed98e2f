"""Pickers, not codes: a unit found by its name, short name or code within the user's scope; a
unit field that takes a code or an exact full name (and says which text named nothing); the
frequency picker's RRULE both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import count_queries, unit
from tracker.extensions import db
from tracker.models import Task
from tracker.pickers.frequency import (
    FrequencyChoice,
    FrequencyError,
    choice_from_rrule,
    rrule_from_choice,
    rrule_text,
)
from tracker.pickers.units import SEARCH_LIMIT, resolve_unit, resolve_units, search_units, split_unit_list

HX = {"HX-Request": "true"}


# --- the unit search ---------------------------------------------------------------------------


def test_a_provincial_coordinator_finds_only_units_of_their_province(make_user):
    coordinator = make_user("coordinator", "P11")
    codes = {u.code for u in search_units(coordinator, "卫生健康委")}
    assert "P11" in codes
    assert "P31" not in codes and "NHC" not in codes
    assert {u.code for u in search_units(coordinator, "上海")} == set()


def test_a_leader_and_an_admin_find_every_province(make_user):
    for role in ("leader", "admin"):
        codes = {u.code for u in search_units(make_user(role, "NHC"), "卫生健康委")}
        assert {"P11", "P31"} <= codes


def test_a_short_name_a_part_of_the_name_and_the_code_find_the_unit(make_user):
    admin = make_user("admin", "NHC")
    assert search_units(admin, "北京卫健委")[0].code == "P11"  # 北京市卫生健康委, its characters in order
    assert search_units(admin, "上海质控")[0].code == "P31-QC"
    assert search_units(admin, "p31-qc")[0].code == "P31-QC"  # the code, any case, first
    assert search_units(admin, "上海市肿瘤质控中心")[0].code == "P31-QC"


def test_the_search_is_one_statement_and_at_most_twenty_units(make_user):
    admin = make_user("admin", "NHC")
    assert admin.unit.path and admin.role  # loaded before the count
    with count_queries() as n:
        found = search_units(admin, "委")
    assert n() == 1
    assert 0 < len(found) <= SEARCH_LIMIT


def test_the_search_orders_national_before_provincial(make_user):
    levels = [u.level for u in search_units(make_user("admin", "NHC"), "卫生健康委")]
    assert levels.index("national") < levels.index("provincial")


def test_wildcards_typed_are_plain_characters(make_user):
    assert search_units(make_user("admin", "NHC"), "%") == []
    assert search_units(make_user("admin", "NHC"), "_") == []


def test_the_search_page_and_its_fragment(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    fragment = client.get("/units/search?q=北京&field=owner", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert "<html" not in body and 'role="option"' in body and 'data-code="P11-QC"' in body
    assert 'id="owner-opt-' in body
    assert "上海" not in client.get("/units/search?q=上海", headers=HX).get_data(as_text=True)
    page = client.get("/units/search?q=北京").get_data(as_text=True)
    assert "<html" in page and "北京市肿瘤质控中心" in page and 'name="q"' in page


def test_a_bad_field_id_is_not_echoed(client, auth, make_user):
    auth.login(make_user("admin", "NHC"))
    body = client.get('/units/search?q=北京&field="><script>', headers=HX).get_data(as_text=True)
    assert "<script>" not in body and 'id="unit-opt-' in body


# --- resolving what was typed -------------------------------------------------------------------


def test_a_code_or_an_exact_full_name_resolves(make_user):
    assert resolve_unit("P31-QC").unit.code == "P31-QC"
    assert resolve_unit("p31-qc").unit.code == "P31-QC"
    assert resolve_unit(" 上海市肿瘤质控中心 ").unit.code == "P31-QC"
    assert resolve_unit("上海").problem == "unknown"
    assert resolve_unit("上海市肿瘤质控中心", make_user("coordinator", "P11")).problem == "unknown"


def test_a_name_two_units_share_is_ambiguous(make_unit):
    make_unit("P11-H1", "P11", name="人民医院")
    make_unit("P31-H1", "P31", name="人民医院")
    assert resolve_unit("人民医院").problem == "ambiguous"
    assert resolve_unit("P31-H1").unit.code == "P31-H1"


def test_a_list_of_codes_and_names():
    assert split_unit_list("P11-QC，上海市肿瘤质控中心、P12\nP13; ") == ["P11-QC", "上海市肿瘤质控中心", "P12", "P13"]
    units, missing = resolve_units(["P11-QC", "上海市肿瘤质控中心", "没有这个单位"])
    assert [u.code for u in units] == ["P11-QC", "P31-QC"] and missing == ["没有这个单位"]


# --- the forms ---------------------------------------------------------------------------------


@pytest.fixture
def leaf(make_task):
    return make_task("P11-QC", title="选择单位的任务", due_on=None)


def _edit(client, task, **values):
    data = {"version": task.version, "title": task.title, "weight": "1", **values}
    return client.post(f"/tasks/{task.id}/edit", data=data, headers=HX)


def test_the_task_edit_takes_the_owner_by_full_name_and_co_owners_by_code_or_name(client, auth, make_user, leaf):
    child = unit("P11-QC")
    auth.login(make_user("coordinator", "P11"))
    response = _edit(client, leaf, owner="北京市肿瘤质控中心", co_owners="P11, 北京市卫生健康委")
    assert response.status_code < 300, response.get_data(as_text=True)
    db.session.refresh(leaf)
    assert leaf.owner_unit_id == child.id and [u.code for u in leaf.co_owners] == ["P11"]


def test_the_task_edit_says_which_unit_it_cannot_find(client, auth, make_user, leaf):
    auth.login(make_user("coordinator", "P11"))
    response = _edit(client, leaf, owner="北京市不存在的中心")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "北京市不存在的中心" in body and "invalid-feedback" in body
    response = _edit(client, leaf, owner="P11-QC", co_owners="P11, 查无此单位")
    assert response.status_code == 422 and "查无此单位" in response.get_data(as_text=True)
    db.session.refresh(leaf)
    assert leaf.owner_unit.code == "P11-QC" and leaf.co_owners == []


def test_the_task_edit_page_shows_the_owners_full_name_in_the_picker(client, auth, make_user, leaf):
    auth.login(make_user("coordinator", "P11"))
    body = client.get(f"/tasks/{leaf.id}/edit", headers=HX).get_data(as_text=True)
    assert "data-unit-picker" in body and 'value="北京市肿瘤质控中心"' in body and 'data-code="P11-QC"' in body
    assert 'role="listbox"' in body


def test_the_task_filter_takes_a_name_a_code_or_a_part_and_refuses_a_name_of_nothing(client, auth, make_user, leaf):
    auth.login(make_user("admin", "NHC"))
    for owner in ("P11-QC", "北京市肿瘤质控中心", "北京市肿瘤"):
        body = client.get("/tasks", query_string={"owner": owner}).get_data(as_text=True)
        assert "选择单位的任务" in body, owner
    body = client.get("/tasks", query_string={"owner": "火星卫健委"}).get_data(as_text=True)
    assert "火星卫健委" in body and "invalid-feedback" in body and "选择单位的任务" not in body


def test_the_accounts_form_takes_a_unit_by_name_and_refuses_an_unknown_one(client, auth, make_user):
    from tracker.models import User

    auth.login(make_user("admin", "NHC"))
    data = {"username": "picker_rep", "display_name": "选单位", "unit": "上海市肿瘤质控中心", "role": "reporter"}
    assert client.post("/admin/users/new", data=data).status_code == 200
    made = db.session.scalar(select(User).where(User.username == "picker_rep"))
    assert made.unit.code == "P31-QC"
    refused = client.post("/admin/users/new", data={**data, "username": "picker_two", "unit": "某某中心"})
    assert refused.status_code == 422 and "某某中心" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "picker_two")) is None


def test_a_coordinator_cannot_put_an_account_in_another_province_by_name(client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    data = {"username": "picker_far", "display_name": "越权", "unit": "上海市肿瘤质控中心", "role": "reporter"}
    assert client.post("/admin/users/new", data=data).status_code == 422


# --- the frequency picker ------------------------------------------------------------------------

ROUND_TRIPS = [
    (FrequencyChoice("weekly"), "FREQ=WEEKLY"),
    (FrequencyChoice("weekly", 1), "FREQ=WEEKLY;BYDAY=MO"),
    (FrequencyChoice("monthly"), "FREQ=MONTHLY;BYMONTHDAY=-1"),
    (FrequencyChoice("monthly", 10), "FREQ=MONTHLY;BYMONTHDAY=10"),
    (FrequencyChoice("quarterly"), "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"),
    (FrequencyChoice("quarterly", 15), "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=15"),
    (FrequencyChoice("half_yearly"), "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1"),
    (FrequencyChoice("yearly"), "FREQ=YEARLY"),
    (FrequencyChoice("yearly", 15, 3), "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"),
    (FrequencyChoice("yearly", None, 6), "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=-1"),
]


@pytest.mark.parametrize("choice, rule", ROUND_TRIPS, ids=[r for _, r in ROUND_TRIPS])
def test_a_choice_makes_its_rule_and_the_rule_gives_the_choice_back(choice, rule):
    from tracker.duties.rules import check_rule

    assert rrule_from_choice(choice.freq, choice.day, choice.month) == rule
    assert check_rule(rule) == rule
    assert choice_from_rrule(rule) == choice


@pytest.mark.parametrize(
    "freq, day, month",
    [
        ("hourly", None, None),
        ("weekly", 8, None),
        ("monthly", 29, None),
        ("monthly", 0, None),
        ("yearly", 30, 2),
        ("yearly", 1, 13),
    ],
)
def test_a_choice_that_makes_no_rule_is_refused(freq, day, month):
    with pytest.raises(FrequencyError):
        rrule_from_choice(freq, day, month)


@pytest.mark.parametrize(
    "rule", ["FREQ=DAILY", "FREQ=MONTHLY;BYMONTHDAY=1,15", "FREQ=WEEKLY;BYDAY=XX", "FREQ=MONTHLY;COUNT=3", "", "junk"]
)
def test_a_rule_the_picker_cannot_show_stays_a_typed_rule(rule):
    assert choice_from_rrule(rule) is None


def test_the_seeds_rules_read_as_words():
    assert rrule_text("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1") == "每季度，最后一天"
    assert rrule_text("FREQ=WEEKLY") == "每周，星期日"
    assert rrule_text("FREQ=DAILY;INTERVAL=2") == "FREQ=DAILY;INTERVAL=2"


@pytest.fixture
def duty(make_task):
    return make_task("P11-QC", title="季度报告", due_on=None)


def test_the_recurrence_page_saves_a_picked_frequency(client, auth, make_user, duty):
    auth.login(make_user("coordinator", "P11"))
    page = client.get(f"/tasks/{duty.id}/recurrence").get_data(as_text=True)
    assert 'name="freq"' in page and "每季度" in page
    response = client.post(f"/tasks/{duty.id}/recurrence", data={"freq": "quarterly", "day": "", "comment": "按季度"})
    assert response.status_code == 303
    db.session.refresh(duty)
    assert duty.recurrence == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"
    page = client.get(f"/tasks/{duty.id}/recurrence").get_data(as_text=True)
    assert '<option selected value="quarterly">' in page


def test_the_recurrence_page_refuses_a_day_the_months_lack_next_to_the_field(client, auth, make_user, duty):
    auth.login(make_user("coordinator", "P11"))
    response = client.post(f"/tasks/{duty.id}/recurrence", data={"freq": "monthly", "day": "31"})
    assert response.status_code == 400 and "invalid-feedback" in response.get_data(as_text=True)
    assert db.session.get(Task, duty.id).recurrence in (None, "")


def test_the_recurrence_page_clears_the_rule(client, auth, make_user, duty):
    duty.recurrence = "FREQ=YEARLY"
    db.session.commit()
    auth.login(make_user("coordinator", "P11"))
    assert client.post(f"/tasks/{duty.id}/recurrence", data={"freq": ""}).status_code == 303
    assert not db.session.get(Task, duty.id).recurrence
