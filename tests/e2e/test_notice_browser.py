"""The demo reporter opens a notice and reaches the task it names in one click (issue 18), on a
phone and at a desk: the bell in the header, the inbox, one click on the task's link."""

import pytest

from tests.e2e.conftest import login, start_live_server

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def notified_server(tmp_path_factory):
    # the living demo plan, then one escalation pass: its overdue tasks notify their owners
    yield from start_live_server(tmp_path_factory.mktemp("notices"), extra=(("demo", "plan"), ("escalate",)))


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_the_demo_reporter_reaches_the_task_a_notice_names_in_one_click(
    notified_server, page, screenshot, width, height
):
    errors = []
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_viewport_size({"width": width, "height": height})
    login(page, notified_server, "lt_rep")
    bell = page.locator("#inbox-link")
    assert bell.is_visible()  # in the header on a phone too, not behind the menu button
    with page.expect_navigation():
        bell.click()
    notice = page.locator("ul.list-group li.list-group-item a[href^='/tasks/']").first
    notice.wait_for(state="visible")
    title = notice.inner_text().split(" ", 1)[-1].strip()
    href = notice.get_attribute("href")
    screenshot(page, f"inbox-{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    with page.expect_navigation():
        notice.click()
    assert page.url.endswith(href.split("#")[0])
    assert page.title().startswith(title)  # the task page of the task the notice named
    assert page.locator("main strong", has_text=title).first.is_visible()
    screenshot(page, f"task-{width}")
    assert errors == []
