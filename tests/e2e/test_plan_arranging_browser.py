"""Arranging a plan by hand in a real browser.

Drag and drop in the plan tree: the Beijing commission's coordinator makes a plan with two top
tasks, drags the second onto the first, and sees it under it (the tree reloads opened down to
it) and the move in its history; a drop onto its own subtree is refused in the page, a stale one
by the server with its message. A task for "each unit of a kind under ...": the count of units
shows before saving, the frequency picker makes it monthly, and each unit's task is in the tree.
No console errors; no sideways scroll on a phone. Screenshots under test-output/screenshots/."""

from datetime import date, timedelta

import pytest

from tests.e2e.conftest import login, start_live_server
from tests.e2e.test_manual_plan_browser import Watch, fits

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A server of this module's own: the plan it makes is not the other browser tests' data."""
    yield from start_live_server(tmp_path_factory.mktemp("live-tree-drag"))


def add_task(page, base: str, plan_key: str, title: str, due: date) -> int:
    page.goto(f"{base}/plans/{plan_key}/tasks/new")
    page.fill("#title", title)
    page.fill("#due_on", due.isoformat())
    with page.expect_navigation():
        page.click("#save-task")
    assert "/tasks/" in page.url
    return int(page.url.rstrip("/").rsplit("/", 1)[-1])


def drag(page, source: str, target: str) -> None:
    """Drag a tree row by its number (not its links) onto another row (by its number too) or
    onto the top-of-the-plan zone, as a mouse does."""
    page.drag_and_drop(f"{source} .ref", target if target.startswith(".") else f"{target} .ref")


def test_a_coordinator_drags_a_task_under_another_and_the_tree_and_journal_show_it(browser, live_server, screenshot):
    later = date.today() + timedelta(days=30)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "bj_coord")

    page.goto(live_server + "/plans/new")
    page.fill("#title", "北京市护理质量提升行动（拖放）")
    with page.expect_navigation():
        page.click("#create-plan")
    key = page.url.rstrip("/").rsplit("/", 1)[-1]
    first = add_task(page, live_server, key, "制定护理质控方案", later)
    second = add_task(page, live_server, key, "开展护理质控培训", later)

    page.goto(f"{live_server}/plans/{key}")
    row_a, row_b = f"#row-{first}", f"#row-{second}"
    assert page.locator(f"{row_b}[draggable=true]").count() == 1
    assert "拖到另一任务上" in page.locator(".tree-drop-top").inner_text()
    screenshot(page, "1-before")

    # the second task onto the first: posted to the move endpoint, the tree reloads under it
    drag(page, row_b, row_a)
    page.locator("#move-result[data-moved='1']").wait_for()
    moved = page.locator(f"#children-{first} {row_b}")
    moved.wait_for()
    assert "just-moved" in (moved.get_attribute("class") or "")
    assert page.locator("#plan-tree > ul.tree > li > .tree-row").count() == 1  # one task at the top now
    assert "已移动" in page.locator("#tree-status").inner_text()
    screenshot(page, "2-moved")

    # onto its own subtree: refused in the page, nothing is posted
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    page.locator("#tree-status").evaluate("el => { el.innerHTML = '' }")
    drag(page, row_a, row_b)
    page.wait_for_timeout(300)
    assert posts == [] and page.locator("#tree-status").inner_text() == ""

    # a stale version (someone moved it meanwhile): the server refuses, its message is shown
    page.locator(row_b).evaluate("el => el.setAttribute('data-version', String(Number(el.dataset.version) - 1))")
    drag(page, row_b, ".tree-drop-top")
    page.locator("#move-result[data-moved='0']").wait_for()
    assert "已被他人修改" in page.locator("#move-result").inner_text()
    assert page.locator(f"#children-{first} {row_b}").count() == 1  # still under the first
    screenshot(page, "3-refused")

    # the journal: the task's history says where it came from and where it went
    page.goto(f"{live_server}/tasks/{second}")
    history = page.locator("#task-history").inner_text()
    assert "上级节点" in history and "计划顶层" in history and "制定护理质控方案" in history
    assert watch.errors == []
    context.close()

    # on a phone the plan page still fits its width
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "bj_coord")
    page.goto(f"{live_server}/plans/{key}")
    page.locator(f"{row_a} a.expand").click()
    page.locator(f"#children-{first} {row_b}").wait_for()
    fits(page)
    screenshot(page, "4-phone")
    assert watch.errors == []
    context.close()


def test_a_task_for_each_unit_counts_its_units_before_saving_and_recurs_by_the_picker(browser, live_server, screenshot):
    later = date.today() + timedelta(days=120)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "bj_coord")
    page.goto(live_server + "/plans/new")
    page.fill("#title", "北京市质控中心月报（分解）")
    with page.expect_navigation():
        page.click("#create-plan")
    key = page.url.rstrip("/").rsplit("/", 1)[-1]

    page.goto(f"{live_server}/plans/{key}/tasks/new")
    assert not page.locator("#each_kind").is_visible()  # only for "each unit of ..."
    page.fill("#title", "报送月度质控数据")
    page.fill("#due_on", later.isoformat())
    page.check("input[name=owner_mode][value=each]")
    page.select_option("#each_kind", "qc_center")  # under 北京市卫生健康委 (the default)
    count = page.locator("#owner-matches strong")
    count.wait_for()
    assert "1" in count.inner_text() and "北京市肿瘤质控中心" in page.locator("#owner-matches").inner_text()
    page.select_option("#freq", "monthly")
    assert page.locator("#day").is_visible() and not page.locator("#weekday").is_visible()
    fits(page)
    screenshot(page, "1-each-unit-monthly")
    with page.expect_navigation():
        page.click("#save-task")
    assert "/tasks/" in page.url
    page.goto(f"{live_server}/plans/{key}")
    page.locator("#plan-tree a.expand").first.click()
    child = page.locator("#plan-tree .tree .tree .tree-row").first
    child.wait_for()
    assert "北京市肿瘤质控中心" in child.inner_text() and "周期" in child.inner_text()
    screenshot(page, "2-plan")
    assert watch.errors == []
    context.close()
