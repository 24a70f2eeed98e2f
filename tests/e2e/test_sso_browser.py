"""OpenID Connect sign-in in a real browser, on a phone and at a desk: the sign-in page offers the
identity service, the person continues on the provider's own page (a real OIDC provider on
loopback, tests/oidc_provider.py) and comes back signed in to my-work as the tracker's user of the
same name; signing out ends the provider's session too (its end_session_endpoint) and comes back
to the sign-in page. No sideways scroll, no console errors; screenshots under
test-output/screenshots/."""

import pytest

from tests.e2e.conftest import start_live_server
from tests.e2e.test_manual_plan_browser import Watch, fits

pytestmark = pytest.mark.e2e

VIEWPORTS = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def provider():
    from tests.oidc_provider import LoopbackProvider, Person

    provider = LoopbackProvider().start()
    provider.auto_approve = False  # the person clicks through the provider's page
    provider.person = Person(sub="bj-qc-7001", preferred_username="bj_qc", email="bj_qc@example.org")
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, provider):
    yield from start_live_server(
        tmp_path_factory.mktemp("live-sso"), env=provider.environment(OIDC_PROVIDER_NAME="统一身份认证平台")
    )


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_a_reporter_signs_in_through_the_identity_service(browser, live_server, provider, screenshot, width, height):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server + "/login")
    button = page.locator("#oidc-sign-in")
    assert "统一身份认证平台" in button.inner_text()
    assert page.locator("#login-form").is_visible()  # local passwords stay on
    fits(page)
    screenshot(page, "1-sign-in-page")
    with page.expect_navigation():
        button.click()
    assert page.url.startswith(provider.issuer + "/authorize?")
    screenshot(page, "2-provider")
    with page.expect_navigation(url=live_server + "/"):
        page.click("#approve")
    assert "北京市肿瘤质控中心 填报员" in page.locator("nav.app-navbar").text_content()  # signed in as bj_qc
    fits(page)
    screenshot(page, "3-my-work")

    # sign out: the tracker's session ends, the provider's too, and the browser is back at /login
    ended = len(provider.ended)
    toggler = page.locator("nav .navbar-toggler")
    if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
        toggler.click()
    page.locator("#current-user").click()
    with page.expect_navigation(url=live_server + "/login"):
        page.locator("#user-menu form[action='/logout'] button").click()
    assert len(provider.ended) == ended + 1 and provider.ended[-1]["sub"] == "bj-qc-7001"
    assert "您已退出登录。" in page.locator("main").inner_text()
    assert page.locator("#oidc-sign-in").is_visible()
    fits(page)
    screenshot(page, "4-signed-out")
    assert watch.errors == []
    context.close()
