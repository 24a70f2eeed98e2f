"""Who sees and changes what: a unit's subtree; leaders and admins see all."""

from sqlalchemy import select

from tests.conftest import unit
from tracker.auth.scope import actor_for, can_change_task, can_view_task, visible_tasks
from tracker.extensions import db
from tracker.models import Task


def visible_ids(user) -> set[int]:
    return set(db.session.scalars(visible_tasks(user).with_only_columns(Task.id)))


def test_a_provincial_reporter_sees_their_province_and_not_another(make_user, make_task):
    beijing_task = make_task("P11-QC")
    beijing_commission_task = make_task("P11")
    shanghai_task = make_task("P31-QC")
    reporter = make_user("reporter", "P11")
    seen = visible_ids(reporter)
    assert {beijing_task.id, beijing_commission_task.id} <= seen
    assert shanghai_task.id not in seen
    assert can_view_task(reporter, beijing_task)
    assert not can_view_task(reporter, shanghai_task)


def test_a_qc_centre_reporter_does_not_see_its_parent_commissions_tasks(make_user, make_task):
    commission_task = make_task("P11")
    own = make_task("P11-QC")
    reporter = make_user("reporter", "P11-QC")
    seen = visible_ids(reporter)
    assert own.id in seen and commission_task.id not in seen


def test_a_hospital_user_sees_only_their_own(make_user, make_task):
    own = make_task("WZ-LT-H")
    neighbour = make_task("WZ-TX-H")
    county = make_task("WZ-LT")
    user = make_user("reporter", "WZ-LT-H")
    seen = visible_ids(user)
    assert own.id in seen
    assert neighbour.id not in seen and county.id not in seen


def test_a_county_bureau_sees_its_hospital(make_user, make_task):
    hospital = make_task("WZ-LT-H")
    user = make_user("coordinator", "WZ-LT")
    assert hospital.id in visible_ids(user)


def test_a_co_owner_sees_the_task(make_user, make_task):
    task = make_task("NCC-QC")
    task.co_owners.append(unit("P31-QC"))
    db.session.flush()
    assert task.id in visible_ids(make_user("reporter", "P31-QC"))
    assert can_view_task(make_user("reporter", "P31-QC"), task)
    assert task.id not in visible_ids(make_user("reporter", "P11-QC"))


def test_a_leader_sees_all(make_user, make_task):
    tasks = [make_task(code) for code in ("P11-QC", "P31-QC", "WZ-LT-H", "NCC-BREAST")]
    leader = make_user("leader", "P64")
    seen = visible_ids(leader)
    assert {t.id for t in tasks} <= seen
    from sqlalchemy import func

    from tracker.models import Task

    assert len(seen) == db.session.scalar(select(func.count()).select_from(Task))


def test_the_seeded_cascade_gives_each_province_its_own_task(make_user):
    from tracker.models import Task

    beijing = make_user("reporter", "P11-QC")
    refs = set(db.session.scalars(visible_tasks(beijing).with_only_columns(Task.ref)))
    assert refs, "the seed plans give the Beijing QC centre tasks"
    assert all("@P11-QC" in ref or "@" not in ref for ref in refs)
    assert not any("@P31" in ref for ref in refs)


def test_change_rights(make_user, make_task):
    task = make_task("P11-QC")
    assert can_change_task(make_user("reporter", "P11-QC"), task)
    assert can_change_task(make_user("coordinator", "P11"), task)
    assert not can_change_task(make_user("reporter", "P31-QC"), task)
    assert not can_change_task(make_user("leader", "NHC"), task)
    assert can_change_task(make_user("admin", "NHC"), task)


def test_only_a_coordinator_above_the_owner_reviews(make_user, make_task):
    task = make_task("P11-QC")
    assert actor_for(make_user("coordinator", "P11"), task).is_reviewer
    assert not actor_for(make_user("coordinator", "P11-QC"), task).is_reviewer
    assert not actor_for(make_user("reporter", "P11"), task).is_reviewer
    assert not actor_for(make_user("coordinator", "P31"), task).is_reviewer
    assert not actor_for(make_user("leader", "NHC"), task).is_owner


# --- indicator periods are scoped like tasks (issue 16, finding 9) ------------------------------------


def _wuzhong_period(make_user):
    from datetime import date

    from tracker.indicators.service import open_period
    from tracker.models import Plan

    plan = db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))
    period = open_period(
        plan, make_user("coordinator", "WZ"), "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ")
    )
    db.session.commit()
    return period


def test_a_period_is_seen_by_who_sees_one_of_its_tasks(make_user):
    """Opened under Wuzhong for its county bureaus: the bureaus (their forms), Wuzhong and
    Ningxia above it, leaders and admins see it; a county hospital without a form, another
    province and another Ningxia unit do not."""
    from tracker.indicators.service import periods_of_plan, visible_period

    period = _wuzhong_period(make_user)
    expected = {
        ("reporter", "WZ-LT"): True,
        ("reporter", "WZ-QTX"): True,
        ("coordinator", "WZ"): True,
        ("coordinator", "P64"): True,
        ("leader", "P11"): True,
        ("admin", "P31"): True,
        ("reporter", "WZ-LT-H"): False,
        ("coordinator", "P64-QC"): False,
        ("coordinator", "P11"): False,
    }
    seen = {(role, code): visible_period(make_user(role, code), period.id) is not None for role, code in expected}
    assert seen == expected
    beijing = make_user("coordinator", "P11")
    assert visible_period(beijing, period.id) is None
    assert period not in periods_of_plan(beijing, period.plan_id)
    assert period in periods_of_plan(make_user("reporter", "WZ-LT"), period.plan_id)


def test_the_indicator_pages_list_and_open_no_period_outside_ones_scope(client, auth, make_user):
    from tracker.indicators.service import indicator_plans

    period = _wuzhong_period(make_user)
    beijing = make_user("reporter", "P11-QC")
    listed = {p.id for item in indicator_plans(beijing) for p in item.periods}
    assert period.id not in listed
    assert period.id in {p.id for item in indicator_plans(make_user("reporter", "WZ-LT")) for p in item.periods}
    auth.login(beijing)
    link = f"/indicators/periods/{period.id}"
    for url in ("/indicators", "/indicators/plans/wuzhong-2016"):
        page = client.get(url)
        assert page.status_code == 200 and link + '"' not in page.text, url
    for url in (link, link + "/aggregate", link + "/aggregate.xlsx", link + "?unit=WZ"):
        for headers in ({}, {"HX-Request": "true", "HX-Target": "main"}):
            response = client.get(url, headers=headers)
            assert response.status_code == 404, url
            assert "吴忠" not in response.get_data(as_text=True), url
