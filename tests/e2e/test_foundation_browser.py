"""A provincial QC-centre user signs in and reads the plan tree, in Chinese."""

import pytest

from tests.e2e.conftest import login, open_menu_item

pytestmark = pytest.mark.e2e


def test_a_provincial_reporter_reads_their_plan_tree(live_server, page, screenshot):
    login(page, live_server, "bj_qc")
    assert page.locator("h1").first.inner_text() == "我的工作"
    open_menu_item(page, "/plans")
    assert page.locator("h1").inner_text() == "行动计划"
    page.click("text=国家肿瘤规范化诊疗质控工作2024年工作要点")
    tree = page.locator("#plan-tree")
    tree.wait_for()
    # Expand the headings above Beijing's tasks, level by level (children load on demand).
    for _depth in range(4):
        if "死亡病例抽查" in tree.inner_text():
            break
        for link in tree.locator("a.expand:not([data-opened])").element_handles():
            link.evaluate("el => el.setAttribute('data-opened', '1')")
            link.click()
            page.wait_for_load_state("networkidle")
    text = tree.inner_text()
    assert "死亡病例抽查" in text
    assert "上海市肿瘤质控中心" not in text
    screenshot(page, "plan-tree")


def test_a_leader_sees_every_plan(live_server, page, screenshot):
    login(page, live_server, "leader")
    open_menu_item(page, "/plans")
    rows = page.locator("table tbody tr")
    text = page.locator("table tbody").inner_text()
    # the five seed plans (other browser tests may have added one, e.g. from a draft)
    assert rows.count() >= 5
    for title in (
        "肿瘤诊疗质量提升行动计划",
        "国家肿瘤规范化诊疗质控工作2024年工作要点",
        "全面提升医疗质量行动计划",
        "吴忠市",
    ):
        assert title in text, title
    screenshot(page, "plan-list")
