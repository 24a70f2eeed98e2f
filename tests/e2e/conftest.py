"""Browser tests: the real app in its own process (set up by the README's commands) and
Debian's chromium driven by Playwright. In CI (REQUIRE_BROWSER=1) a missing browser fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations():
    """Assertions on the page wait up to 15 s (Playwright's default: 5 s): the live server shares
    two cores with the rest of a CI run, and an inline check that answers in 50 ms on a quiet
    machine took longer than 5 s once while a benchmark loaded it. A page that never shows the
    text still fails, only later."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # the browser tests skip (or fail under REQUIRE_BROWSER) elsewhere
        yield
        return
    expect.set_options(timeout=15_000)
    yield


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed (.ci/run installs it with apt-get)")
        pytest.skip("chromium is not installed")
    return path


def start_live_server(instance: Path, extra: tuple = (), env: dict | None = None):
    """The app on a free port, with a fresh SQLite database built by the set-up commands
    (plus `extra` flask commands), `env` added to its environment (e.g. OIDC_* settings);
    yields the base URL."""
    added = dict(env or {})
    env = dict(
        os.environ,
        FLASK_APP="app",
        INSTANCE_DIR=str(instance),
        DATABASE_URL=f"sqlite:///{instance / 'live.db'}",
        UPLOAD_DIR=str(instance / "uploads"),
        SECRET_KEY="e2e-secret",
        SCHEDULER_ENABLED="0",
    )
    env.update(added)
    env.pop("TEST_DATABASE_URL", None)
    flask = [sys.executable, "-m", "flask"]
    for args in (["db", "upgrade", "heads"], ["seed", "load"], ["demo", "users"], *extra):
        subprocess.run(flask + list(args), cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    log = open(instance / "server.log", "w")
    process = subprocess.Popen(
        flask + ["run", "--port", str(port), "--no-reload"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded CI machine imports the app slowly
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(base + "/login", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("the app did not start: " + (instance / "server.log").read_text())
    yield base
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The app on a free port, with a fresh SQLite database built by the set-up commands."""
    yield from start_live_server(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    OUTPUT.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = OUTPUT / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def login(page, base: str, username: str, password: str = "demo-pass-2026") -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(base + "/")


def open_menu_item(page, href: str) -> None:
    """Go to a page through the main navigation as a person does: open the menu it sits in
    (and the collapsed menu button on a phone), then follow its item."""
    selector = f".dropdown-item[href='{href}']"
    item = page.locator(f"#nav-menus {selector}").first
    if not item.is_visible():
        toggler = page.locator("nav .navbar-toggler")
        if toggler.is_visible() and toggler.get_attribute("aria-expanded") != "true":
            toggler.click()
        page.locator("#nav-menus li.dropdown", has=page.locator(selector)).locator(".dropdown-toggle").click()
    item.wait_for(state="visible")
    with page.expect_navigation():
        item.click()
