"""The search box and the audit log in a real browser, on a phone and at a desk: the box sits in
the navigation (inside the collapsed menu on a phone), the results page and the audit log never
scroll sideways, and the desk's navigation stays on one line."""

import re

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width,height", VIEWPORTS)
@pytest.mark.parametrize("username", ["bj_qc", "admin"])
def test_searching_from_the_navigation(live_server, page, screenshot, width, height, username):
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, username)
    box = page.locator("#nav-search-q")
    if not box.is_visible():  # a phone: the box is inside the collapsed menu
        page.locator("nav .navbar-toggler").click()
    box.wait_for(state="visible")
    if width >= 1200:  # the navigation fits on one line beside the box
        bar = page.locator("nav.app-navbar").bounding_box()
        assert bar["height"] < 80, bar
    box.fill("质控")
    with page.expect_navigation():
        box.press("Enter")
    assert "/search?q=" in page.url
    hits = page.locator("#search-hits .search-hit")
    assert hits.count() > 0
    assert hits.first.locator("mark").count() > 0  # the match marked
    _no_sideways_scroll(page, width)
    screenshot(page, f"{username}-{width}")
    # active search on the page itself: the results follow the typing, no reload
    page.evaluate("window.__kept = true")
    page.fill("#search-q", "肿")
    page.wait_for_selector("#search-hint")
    page.fill("#search-q", "肿瘤")
    page.wait_for_selector("#search-hits")
    assert page.evaluate("window.__kept === true")
    _no_sideways_scroll(page, width)


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_the_audit_log_on_a_phone_and_a_desk(live_server, page, screenshot, width, height):
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server, "admin")
    page.goto(live_server + "/admin/audit")
    page.wait_for_selector("#audit-log")
    assert page.locator("#audit-log tbody tr").count() > 0
    _no_sideways_scroll(page, width)
    screenshot(page, f"audit-{width}")
    page.select_option("#kind", "task")
    page.wait_for_url(re.compile(r"kind=task"), wait_until="commit")  # pushed by HTMX
    page.wait_for_selector("#audit-log")
    _no_sideways_scroll(page, width)


@pytest.mark.parametrize("width", [1024, 1200])
def test_a_long_name_and_the_search_box_fit_a_narrow_desk(live_server, page, width):
    """宁夏回族自治区卫生健康委 督办员 at 1024 px: the box is only its button (which opens the search
    page); from 1200 px the field. The navigation stays on one line, the page never scrolls
    sideways."""
    page.set_viewport_size({"width": width, "height": 800})
    login(page, live_server, "nx_coord")
    assert page.locator("nav.app-navbar").bounding_box()["height"] < 80
    _no_sideways_scroll(page, width)
    assert page.locator("#nav-search-q").is_visible() == (width >= 1200)
    with page.expect_navigation():
        page.locator("#nav-search button").click()
    assert "/search" in page.url
    page.wait_for_selector("#search-q")


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_a_coordinator_reads_their_provinces_audit_log(live_server, page, screenshot, width, height):
    """bj_coord (北京市卫生健康委) opens the audit log from the menu: a note says whose changes these
    are, every row's unit is in Beijing; naming another province's unit is an error next to the
    unit field (HTMX: the form comes back out of band), no rows."""
    from tests.e2e.conftest import open_menu_item

    page.set_viewport_size({"width": width, "height": height})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live_server, "bj_coord")
    open_menu_item(page, "/admin/audit")
    page.wait_for_selector("#audit-log")
    assert "北京市卫生健康委" in page.locator("#audit-scope").inner_text()
    units = page.locator("#audit-log tbody td[data-label='单位']").all_inner_texts()
    assert units and all(("北京" in u) or u == "" for u in units), units
    _no_sideways_scroll(page, width)
    screenshot(page, f"audit-coordinator-{width}")
    page.fill("#unit", "上海市卫生健康委")
    page.locator("#unit").press("Enter")
    page.wait_for_selector("#unit-error")
    assert page.locator("#audit-invalid").is_visible() and page.locator("#audit-log").count() == 0
    _no_sideways_scroll(page, width)
    screenshot(page, f"audit-coordinator-refused-{width}")
    # chromium logs the 422 of the refused filter as "Failed to load resource" (not a script error)
    assert [e for e in errors if "status of 422" not in e] == []
