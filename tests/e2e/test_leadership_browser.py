"""Leadership in a real browser: the timeline and the leadership screen with risk markers."""

import pytest

from tests.e2e.conftest import login, open_menu_item, start_live_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The app with the small generated data set: a plan whose last phase is under way."""
    yield from start_live_server(
        tmp_path_factory.mktemp("live-demo"), extra=(("demo", "generate", "--scale", "small"),)
    )


def test_leader_opens_the_timeline_and_the_leadership_screen(demo_server, page, screenshot):
    login(page, demo_server, "leader")
    page.goto(demo_server + "/progress/demo-national/timeline")
    page.wait_for_selector("#timeline-chart svg")  # ECharts drew it, from the app's own copy
    assert page.locator("#timeline-table tbody tr").count() == 3
    assert page.locator("#timeline-chart svg path, #timeline-chart svg rect").count() > 3
    screenshot(page, "timeline")

    open_menu_item(page, "/leadership")
    page.wait_for_selector("#risks")
    markers = page.locator("#risks [data-risk='high'], #risks [data-risk='medium']")
    assert markers.count() >= 1
    assert "近 4 周完成" in page.locator("#risks").inner_text()
    page.wait_for_selector("#trend svg")
    screenshot(page, "leadership")

    page.goto(demo_server + "/progress/demo-national?by=phases")
    assert page.locator("#progress-matrix .risk").count() >= 1
    page.locator("#progress-matrix tbody th a").first.click()  # drill into a province (HTMX)
    page.wait_for_selector("#progress-matrix tr[data-unit^='G-']")  # the province's prefectures, no reload
    assert "unit=" in page.url
    screenshot(page, "matrix-drill-down")
