"""The minimal pages: plan list and a plan's task tree, in Chinese, scoped, page or fragment."""

import pytest

from tests.conftest import count_queries, unit  # noqa: F401 (fixtures by name)


@pytest.fixture
def fixture_plan(make_task):
    section = make_task("P11", ref="一", title="总体要求")
    beijing = make_task("P11-QC", parent=section, ref="一.(一)", title="北京质控中心任务")
    shanghai = make_task("P31-QC", parent=section, ref="一.(二)", title="上海质控中心任务")
    return section, beijing, shanghai


def test_plan_list_shows_the_plans_with_my_counts(client, auth, make_user, fixture_plan):
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/plans").get_data(as_text=True)
    assert "行动计划" in page and "测试计划" in page


def test_plan_tree_for_a_scoped_user_shows_own_tasks_and_headings_only(client, auth, make_user, fixture_plan):
    section, beijing, shanghai = fixture_plan
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/plans/fixture-plan").get_data(as_text=True)
    assert "总体要求" in page  # the heading above, as context
    assert 'data-count="1"' in page  # one visible task under it, not two
    children = client.get(f"/plans/fixture-plan/children/{section.id}", headers={"HX-Request": "true"})
    text = children.get_data(as_text=True)
    assert "北京质控中心任务" in text and "上海质控中心任务" not in text
    assert "<html" not in text
    assert "未开始" in text


def test_tree_children_without_htmx_is_a_page(client, auth, make_user, fixture_plan):
    section, _, _ = fixture_plan
    auth.login(make_user("leader", "NHC"))
    response = client.get(f"/plans/fixture-plan/children/{section.id}")
    assert "<html" in response.get_data(as_text=True)
    assert "上海质控中心任务" in response.get_data(as_text=True)


def test_children_of_a_task_one_cannot_see_below_is_404(client, auth, make_user, fixture_plan):
    section, _, shanghai = fixture_plan
    auth.login(make_user("reporter", "P11-QC"))
    assert client.get(f"/plans/fixture-plan/children/{shanghai.id}").status_code == 404


def test_plan_tree_for_a_leader_shows_everything(client, auth, make_user, fixture_plan):
    auth.login(make_user("leader", "NHC"))
    section = fixture_plan[0]
    page = client.get(f"/plans/fixture-plan/children/{section.id}").get_data(as_text=True)
    assert "北京质控中心任务" in page and "上海质控中心任务" in page


def test_unknown_plan_is_404_with_a_page(client, auth, make_user):
    auth.login(make_user("leader", "NHC"))
    response = client.get("/plans/no-such-plan")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_htmx_request_gets_the_fragment_and_plain_request_the_page(client, auth, make_user, fixture_plan):
    auth.login(make_user("leader", "NHC"))
    full = client.get("/plans/fixture-plan")
    fragment = client.get("/plans/fixture-plan", headers={"HX-Request": "true"})
    boosted = client.get("/plans/fixture-plan", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in full.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert "总体要求" in fragment.get_data(as_text=True)
    assert "<html" in boosted.get_data(as_text=True)
    for response in (full, fragment, boosted):
        assert "HX-Request" in response.headers["Vary"]


def test_seeded_plan_pages_run_a_bounded_number_of_queries(client, auth, make_user):
    auth.login(make_user("leader", "NHC"))
    with count_queries() as leader_count:
        assert client.get("/plans/tumor-2021").status_code == 200
    auth.login(make_user("reporter", "P11-QC"))
    with count_queries() as scoped_count:
        assert client.get("/plans/tumor-2021").status_code == 200
    assert leader_count() <= 8
    assert scoped_count() <= 8


def test_vendor_assets_are_served_locally(client):
    assert client.get("/vendor/htmx.min.js").status_code == 200
    assert client.get("/vendor/bootstrap.min.css").status_code == 200
    assert client.get("/vendor/../../requirements.txt").status_code == 404
    assert client.get("/vendor/unknown.js").status_code == 404


def test_only_the_plan_page_loads_the_trees_drag_and_drop_script(client, auth, make_user, fixture_plan):
    auth.login(make_user("coordinator", "P11"))
    assert "tree_dnd.js" in client.get("/plans/fixture-plan").get_data(as_text=True)
    for other in ("/", "/tasks", "/overdue", "/notifications"):
        assert "tree_dnd.js" not in client.get(other).get_data(as_text=True), other
