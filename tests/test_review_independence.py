"""Review independence: a unit never accepts its own work, whatever the order of the edits
(re-owning the task to a unit below, accepting and moving it back; a colleague re-owning it;
the reviewer's own unit submitting; co-owner changes; parent changes; cascade children)."""

from datetime import date

import pytest
from flask import current_app
from flask_babel import force_locale

from tests.conftest import unit
from tracker.cascade.service import LIST, TargetSpec, cascade_task
from tracker.extensions import db
from tracker.plans import manual
from tracker.plans.operations import InvalidChange, change_status, edit_task
from tracker.plans.status import TransitionError

HX = {"HX-Request": "true"}


def text(exc) -> str:
    with current_app.test_request_context(), force_locale("en"):
        return str(exc)


@pytest.fixture
def beijing(make_unit):
    """P11 (the provincial commission) with two units under it: its QC centre and a hospital."""
    make_unit("P11-H1", "P11", name="北京市第一医院")
    return unit("P11")


@pytest.fixture
def people(make_user, beijing):
    return {
        "coord": make_user("coordinator", "P11"),
        "colleague": make_user("coordinator", "P11"),
        "p11_rep": make_user("reporter", "P11"),
        "qc_rep": make_user("reporter", "P11-QC"),
        "h1_rep": make_user("reporter", "P11-H1"),
        "national": make_user("coordinator", "NHC"),
        "nhc_rep": make_user("reporter", "NHC"),
        "hebei": make_user("coordinator", "P13"),
        "admin": make_user("admin", "NHC"),
    }


def submit(task, user):
    change_status(task, user, "in_progress")
    change_status(task, user, "submitted")
    db.session.commit()


def reown(task, user, code):
    edit_task(task, user, {"owner_unit_id": unit(code).id})
    db.session.commit()


def refused_acceptance(task, user) -> str:
    with pytest.raises(TransitionError) as info:
        change_status(task, user, "accepted")
    db.session.rollback()
    db.session.refresh(task)
    assert task.status == "submitted"
    return text(info.value)


def test_the_probes_bypass_re_own_a_submitted_task_accept_and_move_back_is_refused(make_task, people):
    task = make_task("P11", title="本级工作")
    submit(task, people["p11_rep"])
    assert "not allowed" in refused_acceptance(task, people["coord"])  # its own unit: not a reviewer
    with pytest.raises(InvalidChange):
        edit_task(task, people["coord"], {"owner_unit_id": unit("P11-QC").id})
    db.session.rollback()
    db.session.refresh(task)
    assert task.owner_unit.code == "P11" and task.status == "submitted"


def test_re_owning_before_the_submission_does_not_make_the_own_units_work_acceptable(make_task, people):
    task = make_task("P11", title="本级工作")
    change_status(task, people["p11_rep"], "in_progress")
    reown(task, people["coord"], "P11-QC")
    change_status(task, people["p11_rep"], "submitted")  # P11's reporter may act on a QC task
    db.session.commit()
    for who in ("coord", "colleague"):
        message = refused_acceptance(task, people[who])
        assert "review cycle" in message or "came from your unit" in message
    change_status(task, people["national"], "accepted")  # a unit above P11 may
    assert task.status == "accepted"


def test_a_colleague_re_owning_does_not_help_either(make_task, people):
    task = make_task("P11", title="本级工作")
    change_status(task, people["p11_rep"], "in_progress")
    reown(task, people["colleague"], "P11-QC")
    change_status(task, people["qc_rep"], "submitted")
    db.session.commit()
    assert "owned this task" in refused_acceptance(task, people["coord"])


def test_the_reviewers_own_unit_submitting_a_task_below_is_refused(make_task, people):
    task = make_task("P11-QC", title="质控中心工作")
    submit(task, people["p11_rep"])
    assert "came from your unit" in refused_acceptance(task, people["coord"])
    submit_by_coordinator = make_task("P11-QC", title="督办员代交")
    submit(submit_by_coordinator, people["coord"])
    assert "came from your unit" in refused_acceptance(submit_by_coordinator, people["coord"])


def test_who_re_assigned_does_not_accept_but_another_reviewer_does(make_task, people):
    task = make_task("P11-QC", title="质控中心工作")
    reown(task, people["coord"], "P11-H1")
    submit(task, people["h1_rep"])
    assert "You changed" in refused_acceptance(task, people["coord"])
    change_status(task, people["colleague"], "accepted")
    assert task.status == "accepted"


def test_co_owner_changes_count_and_a_submitted_tasks_co_owners_are_frozen(make_task, people):
    task = make_task("P11-QC", title="质控中心工作")
    edit_task(task, people["coord"], {}, co_owner_ids=[unit("P11-H1").id])
    db.session.commit()
    submit(task, people["qc_rep"])
    assert "You changed" in refused_acceptance(task, people["coord"])
    with pytest.raises(InvalidChange):
        edit_task(task, people["colleague"], {}, co_owner_ids=[])
    db.session.rollback()


def test_an_admin_who_re_assigned_does_not_accept(make_task, people):
    task = make_task("P11-QC")
    reown(task, people["admin"], "P11-H1")
    submit(task, people["h1_rep"])
    assert "You changed" in refused_acceptance(task, people["admin"])


def test_a_return_starts_a_new_review_cycle(make_task, people):
    task = make_task("P11-QC")
    reown(task, people["coord"], "P11-H1")
    submit(task, people["h1_rep"])
    change_status(task, people["coord"], "returned", "请补充材料")
    submit(task, people["h1_rep"])
    change_status(task, people["coord"], "accepted")
    assert task.status == "accepted"


def test_an_accepted_tasks_owner_does_not_move_back(make_task, people):
    task = make_task("P11-QC")
    submit(task, people["qc_rep"])
    change_status(task, people["coord"], "accepted")
    db.session.commit()
    with pytest.raises(InvalidChange):
        edit_task(task, people["coord"], {"owner_unit_id": unit("P11").id})
    db.session.rollback()


def test_cascade_children_follow_the_same_rule(make_task, people):
    template = make_task("NHC", title="各省制定实施方案", due_on=date(2025, 6, 30))
    cascade = cascade_task(template, people["national"], TargetSpec(LIST, codes=["P11", "P12"]))
    db.session.commit()
    children = {link.unit.code: link.task for link in cascade.children}
    # an NHC reporter does the province's child task and an NHC coordinator accepts it
    submit(children["P11"], people["nhc_rep"])
    assert "came from your unit" in refused_acceptance(children["P11"], people["national"])
    # the cascading coordinator moves a child to another province, then would accept it
    reown(children["P12"], people["national"], "P13")
    submit(children["P12"], people["hebei"])
    assert "You changed" in refused_acceptance(children["P12"], people["national"])


def move(user, task, parent):
    with current_app.test_request_context(), force_locale("en"):
        return manual.move_task(user, task, parent)


def test_moving_a_task_counts_and_a_submitted_or_accepted_tasks_parent_is_frozen(make_task, people):
    home = make_task("P11", title="本级工作")
    other = make_task("P11", title="另一项本级工作")
    task = make_task("P11-QC", parent=home, title="质控中心工作")
    move(people["coord"], task, other)  # before the submission: a move, journaled
    db.session.commit()
    submit(task, people["qc_rep"])
    assert "You changed" in refused_acceptance(task, people["coord"])
    for target in (home, None):  # under another node, or to the top of the plan
        with pytest.raises(manual.Problems) as info:
            move(people["colleague"], task, target)
        assert "not moved" in text(info.value.problems["parent"])
        db.session.rollback()
        db.session.refresh(task)
        assert task.parent_id == other.id and task.status == "submitted"
    change_status(task, people["colleague"], "accepted")
    db.session.commit()
    with pytest.raises(manual.Problems):
        move(people["colleague"], task, home)
    db.session.rollback()
    db.session.refresh(task)
    assert task.parent_id == other.id


def test_moving_a_submitted_task_is_refused_next_to_the_field_with_and_without_htmx(client, auth, make_task, people):
    home = make_task("P11", title="本级工作")
    other = make_task("P11", ref="移入处", title="另一项本级工作")
    task = make_task("P11-QC", parent=home, title="质控中心工作")
    submit(task, people["qc_rep"])
    auth.login(people["coord"])
    data = {"parent": other.ref, "version": task.version}
    page = client.post(f"/tasks/{task.id}/move", data=data)
    assert page.status_code == 422
    assert "已提交或已通过的任务不移动" in page.get_data(as_text=True)
    drop = client.post(f"/tasks/{task.id}/move", data=data, headers=HX)  # the plan tree's drop
    body = drop.get_data(as_text=True)
    assert drop.status_code == 200 and 'data-moved="0"' in body and 'data-status="422"' in body
    db.session.refresh(task)
    assert task.parent_id == home.id


def test_the_task_page_offers_no_accept_button_and_says_why(client, auth, make_task, people):
    task = make_task("P11-QC")
    submit(task, people["p11_rep"])
    auth.login(people["coord"])
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'data-target="accepted"' not in page and 'id="review-conflict"' in page
    response = client.post(f"/tasks/{task.id}/status", headers=HX, data={"target": "accepted", "version": task.version})
    assert response.status_code == 422
    db.session.refresh(task)
    assert task.status == "submitted"
