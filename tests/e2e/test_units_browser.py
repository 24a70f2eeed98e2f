"""The unit catalogue in a real browser, on a phone and at a desk: the administrator finds a unit
in the tree by searching, adds a unit under it, moves it under another parent chosen with the
picker, and sees the move in its history. No sideways scroll, no console errors; screenshots
under test-output/screenshots/."""

import pytest

from tests.e2e.conftest import login, open_menu_item, start_live_server
from tests.e2e.test_manual_plan_browser import Watch, choose_unit, fits

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    yield from start_live_server(tmp_path_factory.mktemp("live-units"))


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_an_admin_adds_a_unit_and_moves_it_with_the_picker(browser, live_server, screenshot, width, height):
    code = f"WZ-LT-E2E{width}"
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, live_server, "admin")
    open_menu_item(page, "/admin/units")
    page.fill("#q", "利通")
    page.locator("#units tr[data-code='WZ-LT']").wait_for()
    assert (
        page.locator("#units tr[data-code='NHC']").count() == 0
    )  # only what matches  # active search, swapped by HTMX
    fits(page)
    screenshot(page, "1-search")
    with page.expect_navigation():
        page.click("#units tr[data-code='WZ-LT'] a")
    with page.expect_navigation():
        page.click("#add-child")
    assert page.locator("#parent").input_value() == "利通区卫生计生局"
    page.fill("#code", code)
    page.fill("#name", f"利通区某社区卫生服务中心（{width}）")
    page.select_option("#kind", "institution")
    page.select_option("#level", "institution")
    screenshot(page, "2-new-unit")
    with page.expect_navigation():
        page.click("#unit-form button[type=submit]")
    assert page.url.endswith(f"/admin/units/{code}")
    choose_unit(page, "parent", "红寺堡", "WZ-HSB")
    page.fill("#move-form input[name=comment]", "区划调整")
    with page.expect_navigation():
        page.click("#move-unit")
    history = page.locator("#unit-history").inner_text()
    assert "WZ-HSB" in history and "区划调整" in history
    assert "红寺堡区卫生计生局" in page.locator("nav[aria-label=breadcrumb]").inner_text()
    fits(page)
    screenshot(page, "3-moved")
    assert watch.errors == []
    context.close()
