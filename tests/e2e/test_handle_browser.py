"""办理 on a phone and at a desk: the Beijing QC centre's reporter goes from my-work to a submitted
update with an evidence file in at most 3 interactions (a click or a submit; filling the fields
is part of the submit), the provincial commission accepts it in at most 2; no sideways scroll,
no console errors, screenshots under test-output/ for a person to look at."""

import pytest

from tests.e2e.conftest import login, start_live_server

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A server of this module's own: its submissions and acceptances change the demo tasks that
    the other browser tests start from."""
    yield from start_live_server(tmp_path_factory.mktemp("live-handle"))


class Watch:
    """Console errors, page errors and failed requests of a page, and the interactions counted."""

    def __init__(self, page):
        self.errors: list[str] = []
        self.interactions = 0
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("requestfailed", lambda req: self.errors.append(f"request failed: {req.url}"))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.request.method} {r.url}"))

    def interact(self, action) -> None:
        self.interactions += 1
        action()


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px viewport"


def buttons_do_not_wrap(page, selector: str) -> None:
    """Each button's text stays on one line (no vertical text)."""
    heights = page.eval_on_selector_all(
        selector,
        "els => els.filter(e => e.offsetParent).map(e => [e.innerText, e.getBoundingClientRect().height,"
        " parseFloat(getComputedStyle(e).lineHeight) || 24])",
    )
    assert heights, selector
    for text, height, line in heights:
        assert height < 2 * line + 24, f"button {text!r} wraps ({height} px)"


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_submit_with_evidence_and_accept(browser, live_server, screenshot, tmp_path, width, height):
    pdf = tmp_path / "工作计划（盖章版）.pdf"
    pdf.write_bytes(PDF)
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    reporter = context.new_page()
    watch = Watch(reporter)
    login(reporter, live_server, "bj_qc")
    fits(reporter)
    screenshot(reporter, "1-my-work")

    # 1: open a task of my-work at its 办理 form
    link = reporter.locator("a[href*='#handle-form']").first
    with reporter.expect_navigation():
        watch.interact(link.click)
    card = reporter.locator(".task-card")
    task_id = card.get_attribute("id").removeprefix("task-")
    form = reporter.locator("#handle-form")
    form.wait_for()
    fits(reporter)
    buttons_do_not_wrap(reporter, "#handle-form .btn")
    screenshot(reporter, "2-handle-form")

    # 2: status, percent and the file filled in, one submit
    form.get_by_label("状态").select_option(label="提交审核")
    form.get_by_label("完成百分比").fill("100")
    form.get_by_label("佐证文件").set_input_files(str(pdf))
    form.get_by_label("说明").fill("盖章版已上传")
    watch.interact(form.get_by_role("button", name="保存").click)
    reporter.wait_for_function(
        "() => document.querySelector('.task-card') && document.querySelector('.task-card').dataset.status === 'submitted'"
    )
    assert watch.interactions <= 3
    assert reporter.locator("#evidence-list a", has_text="工作计划（盖章版）.pdf").count() == 1
    assert reporter.locator("#withdraw-form").count() == 1
    fits(reporter)
    screenshot(reporter, "3-submitted")
    assert watch.errors == []

    # The provincial commission: from my-work's review list to an acceptance in 2
    coordinator = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}).new_page()
    review = Watch(coordinator)
    login(coordinator, live_server, "bj_coord")
    fits(coordinator)
    with coordinator.expect_navigation():
        review.interact(coordinator.locator(f"a[href='/tasks/{task_id}#review-bar']").first.click)
    bar = coordinator.locator("#review-bar")
    bar.wait_for()
    fits(coordinator)
    buttons_do_not_wrap(coordinator, "#review-bar .btn")
    screenshot(coordinator, "4-review-bar")
    coordinator.locator("#review-bar details summary").click()  # a look at the secondary menu, not counted
    buttons_do_not_wrap(coordinator, "#review-bar .btn")
    fits(coordinator)
    screenshot(coordinator, "5-review-more")
    coordinator.locator("#review-bar details summary").click()
    review.interact(bar.get_by_role("button", name="通过").click)
    coordinator.wait_for_function(
        "() => document.querySelector('.task-card') && document.querySelector('.task-card').dataset.status === 'accepted'"
    )
    assert review.interactions <= 2
    fits(coordinator)
    screenshot(coordinator, "6-accepted")
    assert review.errors == []
    context.close()
