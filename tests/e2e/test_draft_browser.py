"""In a real browser: a coordinator drafts a plan from a notice, corrects it and creates it."""
from __future__ import annotations

from tests.e2e.conftest import login

NOTICE = """国家癌症中心关于印发2026年胃癌质控工作要点的通知
各省级肿瘤质控中心：
2026年胃癌质控工作要点
一、重点工作
（一）开展病例抽查。各省级质控中心于2026年6月10日前上交抽查方案。(省级肿瘤质控中心负责)
（二）开展培训。(国家癌症中心胃癌质控专家委员会负责)
"""


def test_a_coordinator_drafts_corrects_and_creates_a_plan(live_server, page, screenshot, tmp_path):
    source = tmp_path / "gastric.txt"
    source.write_text(NOTICE, encoding="utf-8")
    login(page, live_server, "ncc_coord")
    page.goto(live_server + "/drafts")
    page.set_input_files("input[name=document]", str(source))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#draft-tree")
    assert "2026-06-10" in page.inner_text("#draft-tree")
    assert "«各省级质控中心于2026年6月10日前上交抽查方案。" in page.inner_text("#draft-tree")
    item_id = page.locator(".draft-item", has_text="开展培训").last.get_attribute("id")
    page.locator(f"#{item_id} > div a", has_text="编辑").click()
    page.wait_for_selector(f"#{item_id} form input[name=due]")
    page.fill(f"#{item_id} input[name=due]", "2026-09-30")
    page.click(f"#{item_id} button[type=submit]")
    page.wait_for_selector(f"#{item_id} .draft-due")
    assert "2026-09-30" in page.inner_text(f"#{item_id}")
    screenshot(page, "review")
    page.fill("#plan-form input[name=key]", "gastric-2026")
    page.click("#plan-form button[type=submit]")
    page.wait_for_timeout(300)
    page.click("#create-plan")
    page.wait_for_url(live_server + "/plans/gastric-2026")
    assert "2026年胃癌质控工作要点" in page.inner_text("body")
