"""Accessibility with axe-core (from npm, served from node_modules: no CDN) on the main pages, as
the roles that use them, on a phone and at a desk: no serious or critical violation (issue 19).

axe runs in the page after it has loaded (and its HTMX fragments settled); the context bypasses
the Content-Security-Policy only so that the test can inject axe itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.conftest import OUTPUT, ROOT, login, start_live_server

pytestmark = pytest.mark.e2e

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SIZES = [(390, 844), (1440, 900)]


@pytest.fixture(scope="module")
def living_server(tmp_path_factory):
    yield from start_live_server(tmp_path_factory.mktemp("axe"), extra=(("demo", "plan"),))


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _first_task_link(page) -> str:
    href = page.locator("a[href^='/tasks/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href')).filter(h => /^\\/tasks\\/\\d+$/.test(h))"
    )
    assert href, "a task link on the page"
    return href[0]


@pytest.mark.parametrize("width,height", SIZES)
@pytest.mark.parametrize(
    "username,paths",
    [
        ("lt_rep", ["/", "TASK", "/tasks", "/overdue", "/notifications"]),
        ("wz_coord", ["/", "/tasks", "/overdue", "MATRIX", "CASCADE"]),
        ("leader", ["/leadership", "MATRIX"]),
    ],
)
def test_main_pages_have_no_serious_or_critical_axe_violations(living_server, browser, username, paths, width, height):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height}, bypass_csp=True)
    page = context.new_page()
    try:
        login(page, living_server, username)
        found = {}
        for path in paths:
            if path == "TASK":
                page.goto(living_server + "/")
                path = _first_task_link(page)
            elif path == "CASCADE":  # a cascade's children (the list with filters and the action bar)
                page.goto(living_server + "/cascade")
                path = page.locator("a[href^='/cascades/']").first.get_attribute("href")
            elif path == "MATRIX":
                page.goto(living_server + "/plans")
                key = (
                    page.locator("a[href^='/plans/']")
                    .evaluate_all(
                        "els => els.map(e => e.getAttribute('href')).filter(h => /^\\/plans\\/[^/?]+$/.test(h))"
                    )[0]
                    .rsplit("/", 1)[-1]
                )
                path = f"/progress/{key}"
            page.goto(living_server + path)
            page.wait_for_load_state("networkidle")
            violations = _axe(page)
            if violations:
                found[path] = violations
                OUTPUT.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^\w-]+", "_", f"axe-{username}-{width}-{path}")
                page.screenshot(path=str(Path(OUTPUT) / f"{name}.png"), full_page=True)
        assert not found, found
    finally:
        context.close()
