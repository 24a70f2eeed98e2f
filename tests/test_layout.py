"""The app shell: menus grouped by what people do, each link one the user may open; a skip link;
the favicon and the web-app manifest served by the app itself (no request fails)."""

import re

import pytest

from tracker.layout.navigation import menus_for

ROLES = ("reporter", "coordinator", "leader", "admin")


def nav_links(html: str) -> list[str]:
    nav = html[html.index('id="nav-menus"') : html.index('id="user-menu"')]
    return re.findall(r'class="dropdown-item[^"]*" href="([^"]+)"', nav)


@pytest.mark.parametrize("role", ROLES)
def test_every_menu_link_opens_for_the_role_that_sees_it(client, auth, make_user, role):
    user = make_user(role, "P11-QC" if role in ("reporter", "coordinator") else "NHC")
    auth.login(user)
    page = client.get("/").get_data(as_text=True)
    links = nav_links(page)
    assert "/" in links and "/tasks" in links and "/leadership" in links
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, (role, link, response.status_code)


def test_menus_by_role(app):
    with app.test_request_context():
        _menus_by_role()


def _menus_by_role():
    with_admin = {m.key for m in menus_for("admin", None)}
    assert with_admin == {"work", "plans", "progress", "admin"}
    assert "admin" not in {m.key for m in menus_for("reporter", None)}
    # a coordinator manages the accounts under their unit and reads their subtree's audit log
    admin_menu = next(m for m in menus_for("coordinator", None) if m.key == "admin")
    assert [item.url for item in admin_menu.items] == ["/admin/users", "/admin/audit"]
    # a leader reads the whole audit log, and nothing else of the administration
    leader_menu = next(m for m in menus_for("leader", None) if m.key == "admin")
    assert [item.url for item in leader_menu.items] == ["/admin/audit"]


def test_a_reporter_sees_no_link_to_a_coordinators_page(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/").get_data(as_text=True)
    assert "/drafts" not in page and "/admin/escalation-rules" not in page


def test_the_current_page_is_marked_in_its_menu(app, client, auth, make_user):
    auth.login(make_user("coordinator", "P11"))
    page = client.get("/tasks").get_data(as_text=True)
    assert re.search(r'class="dropdown-item active" href="/tasks" aria-current="page"', page)
    plans_toggle = page[page.index('data-menu="plans"') : page.index('data-menu="progress"')]
    assert 'aria-current="true"' in plans_toggle


def test_skip_link_and_main_landmark(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/").get_data(as_text=True)
    assert 'href="#main"' in page and '<main class="container-fluid" id="main"' in page
    assert "跳到正文" in page


def test_favicon_and_manifest_are_served_without_sign_in(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200 and manifest.mimetype == "application/manifest+json"
    data = manifest.get_json()
    assert data["display"] == "standalone" and data["start_url"] == "/"
    sizes = {i["sizes"] for i in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for item in data["icons"]:
        assert client.get(item["src"]).status_code == 200, item["src"]


def test_the_login_page_links_its_icons(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'rel="manifest" href="/manifest.webmanifest"' in page and 'rel="icon"' in page


# --- the signed-in navigation bar, rendered once and reused ----------------------------------


def _bar_renders(app):
    from flask import template_rendered

    seen = []

    def record(sender, template, context, **extra):
        if template.name == "layout/_navbar.html":
            seen.append(template.name)

    template_rendered.connect(record, app)
    return seen, lambda: template_rendered.disconnect(record, app)


def _work_count(html: str) -> str:
    return re.search(r'id="work-count"[^>]*>(\d+)<', html).group(1)


def test_the_navigation_bar_is_rendered_once_per_page_and_its_badges_stay_fresh(
    app, client, auth, make_user, make_task
):
    from datetime import date, timedelta

    from tracker.layout import navigation

    navigation._bars.clear()
    user = make_user("reporter", "P11-QC")
    auth.login(user)
    seen, stop = _bar_renders(app)
    try:
        first = client.get("/").get_data(as_text=True)
        again = client.get("/").get_data(as_text=True)
        assert len(seen) == 1  # the second page reused the bar
        before = int(_work_count(first))
        assert int(_work_count(again)) == before
        make_task("P11-QC", status="in_progress", due_on=date.today() - timedelta(days=3))
        later = client.get("/").get_data(as_text=True)
        assert int(_work_count(later)) == before + 1 and len(seen) == 1  # the request's badge, the same bar
        client.get("/tasks")
        assert len(seen) == 2  # another page: its own bar (its menu item marked)
    finally:
        stop()


def test_the_reused_bar_carries_each_requests_csrf_token_and_user(client, auth, make_user):
    from tracker.layout import navigation

    navigation._bars.clear()
    pages = []
    for name in ("甲用户", "乙用户"):
        user = make_user("reporter", "P11-QC")
        user.display_name = name
        from tracker.extensions import db

        db.session.commit()
        auth.login(user)
        pages.append(client.get("/").get_data(as_text=True))
    for page, name in zip(pages, ("甲用户", "乙用户")):
        header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
        form_tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
        assert form_tokens == {header_token}  # the logout and language forms: this request's token
        assert f'id="current-user" title="{name}' in page and navigation.CSRF_MARK not in page
    assert "乙用户" not in pages[0] and "甲用户" not in pages[1]


def test_a_role_or_language_change_shows_its_own_bar(client, auth, make_user):
    from tracker.extensions import db
    from tracker.layout import navigation

    navigation._bars.clear()
    user = make_user("reporter", "P11-QC")
    auth.login(user)
    assert "/drafts" not in client.get("/").get_data(as_text=True)
    user.role = "coordinator"
    db.session.commit()
    assert "/drafts" in client.get("/").get_data(as_text=True)
    chinese = client.get("/").get_data(as_text=True)
    client.post("/lang/en", data={"next": "/"})
    english = client.get("/").get_data(as_text=True)
    assert "我的工作" in chinese[chinese.index('id="nav-menus"') :][:2000]
    assert "My work" in english[english.index('id="nav-menus"') :][:2000]


def test_the_bar_cache_is_bounded(app, client, auth, make_user, monkeypatch):
    from tracker.layout import navigation

    navigation._bars.clear()
    monkeypatch.setattr(navigation._bars, "size", 3)
    auth.login(make_user("reporter", "P11-QC"))
    for page in range(1, 8):
        assert client.get(f"/tasks?page={page}").status_code == 200
    assert len(navigation._bars) <= 3
