"""立项交办 in a real browser, on a phone and at a desk: the Beijing commission's coordinator
creates a plan by hand, adds a task for the Beijing QC centre and a sub-task under it, a task for
each QC centre under the commission (a cascade by hand), and gives an ad-hoc item (交办事项) in two
clicks from my work; the QC centre's reporter then finds all four waiting in my work. No sideways scroll, no console errors; screenshots under
test-output/screenshots/ for a person to look at."""

from datetime import date, timedelta

import pytest

from tests.e2e.conftest import login, open_menu_item, start_live_server

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A server of this module's own: the plans it makes are not the other browser tests' data."""
    yield from start_live_server(tmp_path_factory.mktemp("live-manual-plan"))


class Watch:
    """Console errors, page errors, failed requests and server errors of a page."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("requestfailed", lambda req: self.errors.append(f"request failed: {req.url}"))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.request.method} {r.url}"))


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px viewport"


def choose_unit(page, field: str, typed: str, code: str) -> None:
    """Type into the unit picker and pick the unit from its list, as a person does."""
    box = page.locator(f"#{field}")
    box.click()
    box.fill(typed)
    option = page.locator(f"#{field}-options .unit-option[data-code='{code}']")
    option.wait_for(state="visible")
    option.click()
    assert page.locator(f"#{field}").input_value() != typed or code in typed
    chosen = page.locator(f"#{field}").locator("xpath=..").locator(".unit-picker-chosen")
    if chosen.count():  # the code shown under a field that had a unit is the new one's
        assert chosen.inner_text() == code


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_a_coordinator_plans_two_levels_and_a_cascade_by_hand_and_the_receiving_reporter_sees_them(
    browser, live_server, screenshot, width, height
):
    suffix = f"{width}"
    today = date.today()
    soon, later = (today + timedelta(days=days) for days in (10, 20))
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "bj_coord")

    # a new plan from the navigation
    open_menu_item(page, "/plans/new")
    page.fill("#title", f"北京市院感防控专项行动（{suffix}）")
    page.fill("#doc_number", "京卫医〔2026〕8号")
    page.fill("#period_start", today.isoformat())
    page.fill("#period_end", (today + timedelta(days=180)).isoformat())
    page.fill("#phases-0-name", "部署阶段")
    fits(page)
    screenshot(page, "1-new-plan")
    with page.expect_navigation():
        page.click("#create-plan")
    assert "/plans/p11-" in page.url
    plan_url = page.url

    # the first level: a task for the QC centre, chosen with the picker
    with page.expect_navigation():
        page.click("#add-task")
    page.fill("#title", f"制定院感质控工作方案（{suffix}）")
    choose_unit(page, "owner", "北京市肿瘤质控", "P11-QC")
    page.fill("#due_on", later.isoformat())
    page.fill("#deliverable", "工作方案")
    fits(page)
    screenshot(page, "2-new-task")
    with page.expect_navigation():
        page.click("#save-task")
    assert "/tasks/" in page.url
    page.locator(".task-card").wait_for()

    # the second level: a sub-task under it (the owner comes from the parent)
    with page.expect_navigation():
        page.click("#add-subtask")
    assert page.locator("#owner").input_value() == "北京市肿瘤质控中心"
    page.fill("#title", f"各医院上报院感监测数据（{suffix}）")
    page.fill("#due_on", soon.isoformat())
    with page.expect_navigation():
        page.click("#save-task")
    breadcrumb = page.locator("nav[aria-label=breadcrumb]").inner_text()
    assert f"院感防控专项行动（{suffix}）" in breadcrumb
    fits(page)
    screenshot(page, "3-sub-task")
    page.goto(plan_url)
    assert page.locator("#plan-tree").get_by_text(f"制定院感质控工作方案（{suffix}）").count() == 1
    screenshot(page, "4-plan")

    # a cascade by hand: one task for each QC centre under the Beijing commission
    page.goto(plan_url.rstrip("/") + "/tasks/new")
    page.fill("#title", f"各质控中心报送院感自查报告（{suffix}）")
    page.fill("#due_on", later.isoformat())
    page.check("input[name=owner_mode][value=each]")
    page.select_option("#each_kind", "qc_center")  # under 北京市卫生健康委 (the default)
    page.locator("#owner-matches strong").wait_for()
    assert "北京市肿瘤质控中心" in page.locator("#owner-matches").inner_text()
    fits(page)
    screenshot(page, "4b-cascade-by-hand")
    with page.expect_navigation():
        page.click("#save-task")
    assert "/tasks/" in page.url

    # 交办事项: two clicks from my work (the button, then save)
    page.goto(live_server + "/")
    page.evaluate("window.__kept = true")
    page.click("#new-adhoc")
    page.locator("#adhoc-form").wait_for()
    assert page.evaluate("window.__kept === true")  # the form came into the page, no reload
    page.fill("#adhoc-form #title", f"落实市领导关于院感防控的批示（{suffix}）")
    choose_unit(page, "owner", "北京市肿瘤质控", "P11-QC")
    page.fill("#adhoc-form #due_on", later.isoformat())
    fits(page)
    screenshot(page, "5-adhoc-form")
    with page.expect_navigation():
        page.click("#save-adhoc")
    assert "/tasks/" in page.url and "交办事项" in page.locator("nav[aria-label=breadcrumb]").inner_text()
    assert watch.errors == []
    context.close()

    # the receiving unit's reporter: all three wait to be signed for in my work
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "bj_qc")
    unsigned = page.locator("#work-unsigned")
    for title in (
        f"制定院感质控工作方案（{suffix}）",
        f"各医院上报院感监测数据（{suffix}）",
        f"各质控中心报送院感自查报告（{suffix}）",  # the cascade's child for this unit
        f"落实市领导关于院感防控的批示（{suffix}）",
    ):
        assert unsigned.get_by_text(title).count() == 1, title
    assert page.locator("#new-adhoc").count() == 0  # a reporter gives no ad-hoc items
    fits(page)
    screenshot(page, "6-reporter-my-work")
    assert watch.errors == []
    context.close()
