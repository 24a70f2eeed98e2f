"""My work in a real browser, on the living demo plan: work in every list, and the "assigned to me" toggle."""

import pytest

from tests.e2e.conftest import login, start_live_server

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def living_server(tmp_path_factory):
    yield from start_live_server(tmp_path_factory.mktemp("living-demo"), extra=(("demo", "plan"),))


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_the_demo_reporter_has_work_and_narrows_it_to_their_own(living_server, page, screenshot, width, height):
    page.set_viewport_size({"width": width, "height": height})
    login(page, living_server, "lt_rep")
    for key in ("unsigned", "overdue", "due_soon", "returned"):
        assert int(page.locator(f"#work-counts [data-count='{key}']").inner_text()) > 0, key
    unit_overdue = int(page.locator("#work-counts [data-count='overdue']").inner_text())
    screenshot(page, f"unit-{width}")
    page.evaluate("window.__kept = true")  # gone if the page reloads
    page.locator("#work-scope [data-scope='me']").click()
    page.wait_for_url(living_server + "/?assigned=me")
    page.wait_for_selector("#work-scope [data-scope='me'].active")
    assert page.evaluate("window.__kept === true")  # swapped by HTMX, no reload
    mine = int(page.locator("#work-counts [data-count='overdue']").inner_text())
    assert 0 < mine < unit_overdue
    screenshot(page, f"me-{width}")
    page.go_back()
    page.wait_for_selector("#work-scope [data-scope='unit'].active")
