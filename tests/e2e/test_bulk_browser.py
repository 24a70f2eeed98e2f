"""Bulk review on a phone and at a desk: the national commission's coordinator ticks three
submissions in the review queue of my work and accepts them with one click (at most 2
interactions after selecting); the action bar shows only once something is ticked; the queue
reloads in place without a page load; then the task list, sorted by a column header, the same way.
No sideways scroll, no console errors, screenshots under test-output/ for a person to look at."""

import re

import pytest

from tests.e2e.conftest import OUTPUT, login, start_live_server

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def living_server(tmp_path_factory):
    """The living demo plan: one submission awaiting review per demo unit below the NHC (ten for
    the national coordinator); this module's acceptances are its own."""
    yield from start_live_server(tmp_path_factory.mktemp("live-bulk"), extra=(("demo", "plan"),))


class Watch:
    """Console errors, page errors and failed requests of a page, and the interactions counted."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.interactions = 0
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.request.method} {r.url}"))

    def _failed(self, request) -> None:
        # a navigation that turns into a download (导出所选) is aborted by the browser, by design
        if request.url.endswith("/tasks/bulk/export") and request.failure == "net::ERR_ABORTED":
            return
        self.errors.append(f"request failed: {request.url} {request.failure}")

    def interact(self, action) -> None:
        self.interactions += 1
        action()


def in_view(page, request, name: str) -> None:
    """What the person sees on the screen now (the full-page screenshots are very long on a phone)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{request.node.name}-{name}-view.png"))


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px viewport"


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_a_coordinator_accepts_three_submissions_in_one_click(
    browser, living_server, screenshot, request, width, height
):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, living_server, "nhc_coord")
    queue = page.locator("#work-review")
    boxes = queue.locator("input[data-select-row]")
    assert boxes.count() >= 3
    before = int(page.locator("#work-counts [data-count='review']").inner_text())
    bar = page.locator("#bulk-form")
    assert not bar.is_visible()  # nothing ticked: no bar
    fits(page)
    screenshot(page, f"{width}-1-queue")
    page.evaluate("window.__kept = true")  # gone if the page reloads

    chosen = [boxes.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        boxes.nth(i).check()
    bar.wait_for(state="visible")
    assert bar.locator("[data-bulk-count]").inner_text() == "3"
    accept = bar.get_by_role("button", name="通过", exact=True)
    assert accept.is_visible() and bar.get_by_role("button", name="退回", exact=True).is_visible()
    fits(page)
    screenshot(page, f"{width}-2-selected")
    boxes.nth(2).scroll_into_view_if_needed()
    in_view(page, request, f"{width}-2-selected")

    watch.interact(accept.click)  # 1: accept (the comment is optional)
    page.wait_for_selector("#bulk-result [data-bulk-headline]")
    assert page.locator("#bulk-result [data-bulk-headline]").inner_text().startswith("已通过 3 项")
    for task_id in chosen:  # the queue reloaded in place: the accepted are gone from it
        page.wait_for_selector(f"#work-review input[data-select-row][value='{task_id}']", state="detached")
    page.wait_for_function(
        "n => Number(document.querySelector(\"#work-counts [data-count='review']\").textContent) === n", arg=before - 3
    )
    assert page.locator("#work-count").inner_text() != ""
    assert not page.locator("#bulk-form").is_visible()  # nothing ticked any more
    assert page.evaluate("window.__kept") is True
    assert watch.interactions <= 2
    fits(page)
    screenshot(page, f"{width}-3-accepted")
    page.locator("#bulk-result").scroll_into_view_if_needed()
    in_view(page, request, f"{width}-3-accepted")

    # the task list: submissions awaiting review, ordered by a column header, the bar the same way
    page.goto(living_server + "/tasks?status=submitted")
    fits(page)
    in_view(page, request, f"{width}-4-task-list")
    page.evaluate("window.__kept = true")
    if width >= 768:  # at a desk: the column header; on a phone the rows are cards, the order a select
        page.locator("#task-table thead a.sort-link", has_text="标题").click()
        page.wait_for_url(re.compile(r"sort=title"))
        page.wait_for_selector("#task-table th[aria-sort='ascending'] a.sort-link")
    else:
        page.locator("#filters select[name=sort]").select_option("title")
        page.wait_for_url(re.compile(r"sort=title"))
    assert page.evaluate("window.__kept") is True  # swapped by HTMX
    assert page.locator("#filters select[name=sort]").input_value() == "title"
    titles = page.locator("#task-table td.stack-title a").all_inner_texts()
    assert titles == sorted(titles)
    rows = page.locator("#task-table input[data-select-row]")
    assert rows.count() >= 2
    page.locator("[data-select-all]").check()
    bar = page.locator("#bulk-form")
    bar.wait_for(state="visible")
    assert bar.locator("[data-bulk-count]").inner_text() == str(rows.count())
    more = bar.locator(".bulk-more > summary")
    assert more.inner_text().startswith("调整截止日期")
    more.click()  # the due date is one step further: the bar stays small on a phone
    assert bar.locator("#bulk-due-on").is_visible()
    fits(page)
    screenshot(page, f"{width}-5-task-list-selected")
    rows.nth(rows.count() - 1).scroll_into_view_if_needed()
    in_view(page, request, f"{width}-5-task-list-selected")
    with page.expect_download() as download:  # a plain form submit (HTMX leaves it alone): the file
        bar.get_by_role("button", name="导出所选").click()
    assert download.value.suggested_filename == "tasks-selected.xlsx"
    rows.first.uncheck()
    assert not page.locator("[data-select-all]").is_checked()
    assert bar.locator("[data-bulk-count]").inner_text() == str(rows.count() - 1)

    assert watch.errors == []
    context.close()


URGERS = {390: "nhc_coord", 1440: "leader"}  # one sender per viewport: each may urge once a day


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_a_cascades_children_and_the_inbox_are_lists_to_work_in(
    browser, living_server, screenshot, request, width, height
):
    """A cascade's children: the national coordinator (a leader at the desk) filters them, ticks
    them all and urges them (催办) from the action bar; then the 利通区 reporter finds the notice in
    the inbox, filters it to the unread, ticks it and marks it read; both lists reload in place.
    No sideways scroll at 390 or 1440 px, no console errors."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    urger = URGERS[width]
    login(page, living_server, urger)
    page.goto(living_server + "/cascade")
    page.locator("a[href^='/cascades/']").first.click()
    page.wait_for_selector("#children-table")
    assert page.locator("#children-table tr[data-unit='WZ-LT']").count() == 1
    fits(page)
    screenshot(page, f"{width}-1-children")
    in_view(page, request, f"{width}-1-children")
    page.evaluate("window.__kept = true")
    page.locator("#children-filters select[name=sort]").select_option("-unit")
    page.wait_for_url(re.compile(r"sort=-unit"))
    units = page.locator("#children-table td.stack-title a").all_inner_texts()
    assert len(units) >= 2
    page.locator("#children-filters input[name=overdue]").check()
    page.wait_for_url(re.compile(r"overdue=y"))
    page.locator("#children-filters input[name=overdue]").uncheck()
    page.wait_for_function("() => !location.search.includes('overdue=y')")
    assert page.evaluate("window.__kept") is True  # swapped by HTMX
    page.wait_for_selector("#children-table input[data-select-row]")
    page.locator("[data-select-all]").check()
    bar = page.locator("#bulk-form")
    bar.wait_for(state="visible")
    offered = ("通过", "退回", "催办", "导出所选") if urger == "nhc_coord" else ("催办", "导出所选")
    for name in offered:
        assert bar.get_by_role("button", name=name, exact=True).is_visible(), name
    if urger == "leader":
        assert bar.get_by_role("button", name="通过", exact=True).count() == 0
    fits(page)
    screenshot(page, f"{width}-2-children-selected")
    in_view(page, request, f"{width}-2-children-selected")
    bar.locator("#bulk-comment").fill("请按期报送")
    bar.get_by_role("button", name="催办", exact=True).click()
    page.wait_for_selector("#bulk-result [data-bulk-headline]")
    assert page.locator("#bulk-result [data-bulk-headline]").inner_text().startswith("已催办")
    assert page.evaluate("window.__kept") is True
    fits(page)
    in_view(page, request, f"{width}-3-children-urged")

    assert watch.errors == []
    context.close()
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, living_server, "lt_rep")
    page.goto(living_server + "/notifications")
    fits(page)
    screenshot(page, f"{width}-4-inbox")
    in_view(page, request, f"{width}-4-inbox")
    page.evaluate("window.__kept = true")
    page.locator("#inbox-filters select[name=state]").select_option("unread")
    page.wait_for_url(re.compile(r"state=unread"))
    page.locator("#inbox-filters select[name=kind]").select_option("urged")
    page.wait_for_url(re.compile(r"kind=urged"))
    assert page.evaluate("window.__kept") is True
    boxes = page.locator("#inbox-list input[data-select-row]")
    assert boxes.count() >= 1
    inbox_bar = page.locator("#inbox-bulk")
    assert not inbox_bar.is_visible()
    first = boxes.first.get_attribute("value")
    boxes.first.check()
    inbox_bar.wait_for(state="visible")
    assert inbox_bar.locator("[data-bulk-count]").inner_text() == "1"
    fits(page)
    screenshot(page, f"{width}-5-inbox-selected")
    in_view(page, request, f"{width}-5-inbox-selected")
    inbox_bar.get_by_role("button", name="所选标为已读").click()
    page.wait_for_selector("#inbox-result [role=status]")
    page.wait_for_selector(f"#inbox-list input[data-select-row][value='{first}']", state="detached")
    assert page.evaluate("window.__kept") is True
    fits(page)
    screenshot(page, f"{width}-6-inbox-read")
    assert watch.errors == []
    context.close()


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_a_reviewer_undoes_an_acceptance_from_the_notice(browser, living_server, screenshot, request, width, height):
    """通过 on the task page, then 撤销通过 in the notice that follows: the task awaits review again,
    in place (no page load), the page no wider than the screen."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, living_server, "nhc_coord")
    page.goto(living_server + "/tasks?status=submitted")
    page.locator("#task-table td.stack-title a").first.click()
    review = page.locator("#review-bar form[data-target='accepted']")
    review.wait_for()
    page.evaluate("window.__kept = true")
    review.get_by_role("button", name="通过", exact=True).click()
    notice = page.locator("#undo-accept")
    notice.wait_for()
    assert page.locator("#task-panel .task-card").get_attribute("data-status") == "accepted"
    fits(page)
    notice.scroll_into_view_if_needed()
    in_view(page, request, f"{width}-1-accepted")
    notice.get_by_role("button", name="撤销通过").click()
    notice.wait_for(state="detached")
    assert page.locator("#task-panel .task-card").get_attribute("data-status") == "submitted"
    assert page.locator("#review-bar form[data-target='accepted']").count() == 1  # to review again
    assert page.evaluate("window.__kept") is True
    fits(page)
    screenshot(page, f"{width}-2-undone")
    assert watch.errors == []
    context.close()


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_the_overdue_list_is_a_list_to_work_in(browser, living_server, screenshot, request, width, height):
    """The 吴忠 coordinator's overdue list: filtered by how late and by plan (its phases follow),
    ordered by the owner unit (the header at a desk, the order select on a phone), two rows ticked
    and urged from the action bar, which offers 催办, 调整截止日期 and 导出所选 but no review; the
    list reloads in place. No sideways scroll, no console errors."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    login(page, living_server, "wz_coord")
    page.goto(living_server + "/overdue")
    page.wait_for_selector("#overdue-table")
    fits(page)
    screenshot(page, f"{width}-1-overdue")
    in_view(page, request, f"{width}-1-overdue")
    page.evaluate("window.__kept = true")
    page.locator("#filters select[name=late]").select_option("7")
    page.wait_for_url(re.compile(r"late=7"))
    plan = page.locator("#filters select[name=plan] option").nth(1).get_attribute("value")
    page.locator("#filters select[name=plan]").select_option(plan)
    page.wait_for_url(re.compile(r"plan="))
    assert page.locator("#overdue-phase").count() == 1  # the plan's phases came out of band, in place
    if width >= 992:
        page.locator("#overdue-table thead a.sort-link", has_text="责任单位").click()
    else:
        page.locator("#filters select[name=sort]").select_option("owner")
    page.wait_for_url(re.compile(r"sort=owner"))
    page.wait_for_selector("#overdue-table input[data-select-row]")
    boxes = page.locator("#overdue-table input[data-select-row]")
    assert boxes.count() >= 4
    bar = page.locator("#bulk-form")
    assert not bar.is_visible()
    first = 0 if width < 992 else 2  # the module's server is shared: each size urges its own rows
    boxes.nth(first).check()
    boxes.nth(first + 1).check()
    bar.wait_for(state="visible")
    for name in ("催办", "调整截止日期", "导出所选"):
        assert bar.get_by_text(name, exact=True).first.is_visible(), name
    assert bar.get_by_role("button", name="通过", exact=True).count() == 0
    fits(page)
    screenshot(page, f"{width}-2-overdue-selected")
    in_view(page, request, f"{width}-2-overdue-selected")
    bar.get_by_role("button", name="催办", exact=True).click()
    page.wait_for_selector("#bulk-result [data-bulk-headline]")
    assert page.locator("#bulk-result [data-bulk-headline]").inner_text().startswith("已催办")
    assert page.evaluate("window.__kept") is True
    assert "sort=owner" in page.url and "late=7" in page.url
    fits(page)
    in_view(page, request, f"{width}-3-overdue-urged")
    assert watch.errors == []
    context.close()
