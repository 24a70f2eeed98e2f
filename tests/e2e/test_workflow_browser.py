"""The review cycle in a real browser: a provincial QC centre submits with a PDF (one 办理 form), the provincial
commission returns it with a reason, the centre re-submits, the commission accepts, and the plan
tree's progress bar changes without a page reload."""

import re

import pytest

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TASK_TITLE = "死亡病例抽查工作计划"


def open_task_from_my_work(page, base):
    page.goto(base + "/")
    page.get_by_role("link", name=re.compile(TASK_TITLE)).first.click()
    page.wait_for_selector(".task-card")
    return page.locator(".task-card")


def click_action(page, label, reason=None):
    form = page.locator("form.status-form", has=page.get_by_role("button", name=label))
    if reason:
        form.locator("input[name=comment]").fill(reason)
    version = page.locator(".task-card").get_attribute("data-version")
    form.get_by_role("button", name=label).click()
    page.wait_for_function(
        "v => document.querySelector('.task-card') && document.querySelector('.task-card').dataset.version !== v",
        arg=version,
    )


def submit_for_review(page, file=None):
    """The owner's one 办理 form: status 提交审核 (and a file), one submit."""
    form = page.locator("#handle-form")
    form.get_by_label("状态").select_option(label="提交审核")
    if file:
        form.get_by_label("佐证文件").set_input_files(str(file))
    version = page.locator(".task-card").get_attribute("data-version")
    form.get_by_role("button", name="保存").click()
    page.wait_for_function(
        "v => document.querySelector('.task-card') && document.querySelector('.task-card').dataset.version !== v",
        arg=version,
    )


def test_submit_return_resubmit_accept(browser, live_server, screenshot, tmp_path):
    pdf = tmp_path / "死亡病例抽查工作计划（北京）.pdf"
    pdf.write_bytes(PDF)
    reporter = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()
    coordinator = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()

    # The Beijing QC centre starts the task, uploads its plan and submits it.
    login(reporter, live_server, "bj_qc")
    card = open_task_from_my_work(reporter, live_server)
    task_path = card.get_attribute("data-path")
    plan_key = card.get_attribute("data-plan")
    submit_for_review(reporter, pdf)
    reporter.wait_for_selector("#evidence-list a:has-text('死亡病例抽查工作计划（北京）.pdf')")
    assert reporter.locator(".task-card .badge.status-submitted").count() == 1
    screenshot(reporter, "1-submitted")

    # The provincial commission opens the plan tree down to the task and returns it.
    login(coordinator, live_server, "bj_coord")
    coordinator.goto(f"{live_server}/plans/{plan_key}")
    ids = [p for p in task_path.strip("/").split("/") if p]
    for ancestor in ids[:-1]:
        coordinator.locator(f"#row-{ancestor} a.expand").click()
        coordinator.wait_for_selector(f"#children-{ancestor} .tree-row")
    task_id = ids[-1]
    row = coordinator.locator(f"#row-{task_id}")
    row.locator(".title a").click()
    coordinator.wait_for_selector(f"#task-{task_id}")
    click_action(coordinator, "退回", reason="缺少盖章页，请补充后重新提交")
    screenshot(coordinator, "2-returned")

    # The reporter sees the reason and re-submits.
    reporter.reload()
    assert "缺少盖章页，请补充后重新提交" in reporter.locator("#task-history").inner_text()
    assert reporter.locator(".task-card .badge.status-returned").count() == 1
    submit_for_review(reporter)  # the file already attached still counts as the deliverable's evidence
    assert reporter.locator(".task-card .badge.status-submitted").count() == 1
    screenshot(reporter, "3-resubmitted")

    # The commission accepts in the tree's side panel; the tree row updates without a reload.
    coordinator.evaluate("window.__noReload = true")
    coordinator.locator(f"#row-{task_id} .title a").click()
    coordinator.wait_for_function(
        "id => document.querySelector('.task-card') && document.querySelector('.task-card').dataset.status === 'submitted'",
        arg=task_id,
    )
    # (the headings above are the national centre's, shown to Beijing as context rows without
    # progress bars: the task's own row is the one that must change)
    before = coordinator.locator(f"#row-progress-{task_id} .progress").get_attribute("aria-valuenow")
    assert int(before) < 100
    click_action(coordinator, "通过")
    coordinator.wait_for_selector(f"#row-progress-{task_id} .badge.status-accepted")
    assert coordinator.locator(f"#row-progress-{task_id} .progress").get_attribute("aria-valuenow") == "100"
    assert coordinator.evaluate("window.__noReload") is True
    screenshot(coordinator, "4-accepted-tree")
