"""An indicator form in a real browser: the city coordinator opens a half-year round for its
county bureaus; 利通区's reporter types a bad value, sees the inline message appear as they type,
corrects it (the message goes), fills in the rest and submits; the city approves it."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

# The top-level fields of seed 004's annex (required on submission) and a value for each.
REQUIRED = {
    "QC_CENTERS": "3",
    "EQA_ITEMS": "12",
    "MUTUAL_RECOG_L3": "20",
    "MUTUAL_RECOG_L3_L2": "8",
    "REMOTE_CONSULTS": "100",
    "REMOTE_COUNTY_HOSPITALS": "2",
    "GRASSROOTS_TRAINING": "340",
    "CONTINUITY_DISEASES": "4",
    "CHRONIC_CONTINUITY_INSTITUTIONS": "5",
    "COST_MGMT_INSTITUTIONS": "2",
    "IO_MODELS": "3",
    "DS_SAFETY_RULES": "2",
    "DS_CATALOGUE_PUBLIC": "1",
    "DS_DISEASES": "6",
    "DS_TECHNIQUES": "4",
    "DS_CASES": "120",
    "DS_GENERAL_ANAESTHESIA_RATE": "35.5",
    "DS_COMPLICATION_RATE": "1.2",
    "DS_ADMISSION_48H_RATE": "0.8",
    "DS_FOLLOW_UP_RATE": "96",
    "COUNTY_PUBLIC_HOSPITALS": "2",
    "PRIVATE_HOSPITALS": "6",
    "INTERVENTION_RATE": "50",
    "ENDOSCOPY_RATE": "25",
    "DIALYSIS_RATE": "75",
    "COUNTY_PRIVATE_STAFF_TRAINING": "210",
}


def new_page(browser):
    return browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()


def test_fill_and_submit_a_form_with_an_inline_error_corrected(browser, live_server, screenshot):
    coordinator = new_page(browser)
    login(coordinator, live_server, "wz_coord")
    coordinator.goto(f"{live_server}/indicators/plans/wuzhong-2016")
    coordinator.locator("#open-period summary").click()
    coordinator.select_option("#kind", "half")
    coordinator.fill("#year", "2016")
    coordinator.fill("#number", "2")
    coordinator.fill("#due_on", "2016-12-12")
    coordinator.select_option("#level", "county")
    coordinator.fill("#under", "WZ")
    coordinator.click("#open-period-button")
    coordinator.wait_for_selector("#completeness")
    assert coordinator.locator("#completeness tbody tr").count() == 5
    period_url = coordinator.url

    reporter = new_page(browser)
    login(reporter, live_server, "lt_rep")
    reporter.goto(f"{live_server}/indicators")
    reporter.locator("#my-forms a", has_text="利通区卫生计生局").click()
    reporter.wait_for_selector("#indicator-form")

    # A bad value: the message appears while typing, without a page load.
    reporter.locator("#v-QC_CENTERS").press_sequentially("3x", delay=50)
    expect(reporter.locator("#err-QC_CENTERS")).to_contain_text("3x")
    # A breakdown above its total is refused too.
    reporter.fill("#v-REMOTE_CONSULTS", "10")
    reporter.locator("#v-REMOTE_PATHOLOGY").press_sequentially("12", delay=50)
    expect(reporter.locator("#err-REMOTE_PATHOLOGY")).to_have_text(re.compile(r"\S"))
    screenshot(reporter, "1-inline-errors")

    # Corrected: the messages go.
    reporter.fill("#v-QC_CENTERS", "")
    reporter.locator("#v-QC_CENTERS").press_sequentially("3", delay=50)
    reporter.locator("#v-REMOTE_PATHOLOGY").fill("")
    reporter.locator("#v-REMOTE_PATHOLOGY").press_sequentially("6", delay=50)
    # (locator expectations, not page-side JavaScript: the app's CSP forbids eval)
    expect(reporter.locator("#err-QC_CENTERS")).to_have_text(re.compile(r"^\s*$"))
    expect(reporter.locator("#err-REMOTE_PATHOLOGY")).to_have_text(re.compile(r"^\s*$"))

    for code, value in REQUIRED.items():
        if code not in ("QC_CENTERS",):
            reporter.fill(f"#v-{code}", value)
    reporter.fill("#v-REMOTE_CONSULTS", "100")
    reporter.fill("#i-DOWN_REFERRAL_RATE_1", "I10")
    reporter.fill("#v-DOWN_REFERRAL_RATE_1", "12.5")
    reporter.click("#submit-form")
    reporter.wait_for_selector("#form-status.status-submitted")
    assert reporter.locator("#v-QC_CENTERS").input_value() == "3"
    assert reporter.locator("#v-REMOTE_PATHOLOGY").input_value() == "6"
    assert reporter.locator("#submit-form").count() == 0
    screenshot(reporter, "2-submitted")

    # The city approves; the form is locked.
    coordinator.goto(period_url)
    coordinator.locator("#forms a", has_text="利通区卫生计生局").click()
    coordinator.click("#approve-form")
    coordinator.wait_for_selector("#form-status.status-approved")
    coordinator.goto(period_url)
    total = coordinator.locator("#completeness-total td").all_inner_texts()
    assert total[:5] == [total[0], "5", "1", "0", "1"]  # due 2016-12-12: submitted late
    screenshot(coordinator, "3-completeness")

    # The aggregate table sums the approved form's counts; typed rates are not averaged.
    coordinator.click("#aggregate-link")
    coordinator.wait_for_selector("#aggregate")
    assert coordinator.locator("#agg-QC_CENTERS td").last.inner_text().strip() == "3"
    assert coordinator.locator("#agg-REMOTE_PATHOLOGY td").last.inner_text().strip() == "6"
    screenshot(coordinator, "4-aggregate")
    coordinator.goto(f"{live_server}/indicators/plans/wuzhong-2016")
    screenshot(coordinator, "5-plan")
