"""The rendered progress pages are cached under the version of what they show, and every
change to it is seen on the very next request (exact invalidation)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, literal, select, update

from conftest import count_queries
from test_progress import TODAY, plan_tree  # noqa: F401  (the hand-built plan)
from tracker.extensions import db
from tracker.models import Escalation, OrgUnit, Phase, Plan, Task
from tracker.progress import pages
from tracker.progress.pages import PageStore, SharedPages, page_store, page_version
from tracker.progress.summary import fold, rebuild

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    import tracker.progress.routes as routes

    monkeypatch.setattr(routes, "local_today", lambda: TODAY)


@pytest.fixture
def summary(plan_tree):  # noqa: F811
    rebuild(TODAY)
    db.session.commit()
    return plan_tree


@pytest.fixture
def leader(auth, make_user):
    return auth.login(make_user("leader", "NHC"))


def content(response) -> str:
    """The page's own content, without the navigation (user, badges, CSRF tokens)."""
    text = response.get_data(as_text=True)
    return text[text.index('<div id="content">') : text.index("</main>")]


def aggregates(statements) -> list[str]:
    return [s for s in statements.sql if "GROUP BY" in s.upper()]


PAGES = [
    "/progress/progress-plan",
    "/progress/progress-plan?by=phases",
    "/progress/progress-plan/phases",
    "/ranking?plan=progress-plan",
    "/leadership",
    "/progress/progress-plan/timeline",
]


@pytest.mark.parametrize("url", PAGES)
def test_a_page_is_rendered_once_then_served_without_its_aggregates(client, summary, leader, url):
    with count_queries() as first:
        rendered = client.get(url)
    assert rendered.status_code == 200 and aggregates(first)
    with count_queries() as second:
        cached = client.get(url)
    assert cached.status_code == 200 and content(cached) == content(rendered)
    assert aggregates(second) == [] and second() < first()
    assert not any("progress_rollup" in s or "progress_items" in s for s in second.sql)
    assert second() <= 5  # user, plan or unit, version, the navigation's badges


def test_pages_without_a_summary_of_today_are_not_cached(client, plan_tree, leader):  # noqa: F811
    # no summary yet: the figures come from the tasks each time
    client.get("/progress/progress-plan")
    with count_queries() as again:
        client.get("/progress/progress-plan")
    assert aggregates(again)
    # a summary of another day (before the nightly rebuild): the same
    rebuild(TODAY - timedelta(days=1))
    db.session.commit()
    client.get("/progress/progress-plan")
    with count_queries() as again:
        client.get("/progress/progress-plan")
    assert aggregates(again) and not any("progress_rollup" in s for s in again.sql)


def _accept_shanghai(tree):
    _plan, _s1, _s2, t = tree
    db.session.execute(
        update(Task)
        .where(Task.id == t["b"].id)
        .values(status="accepted", percent=100, progress=100, completed_on=t["b"].due_on)
    )


def _accept_then_fold(tree):
    _accept_shanghai(tree)
    db.session.commit()
    assert fold(TODAY) >= 1


def _rename_shanghai(tree):
    db.session.execute(update(OrgUnit).where(OrgUnit.code == "P31").values(name="上海市卫健委（新名）"))


def _retitle_section(tree):
    _plan, s1, _s2, _t = tree
    db.session.execute(update(Task).where(Task.id == s1.id).values(title="新的第一部分"))


def _retitle_plan(tree):
    plan, _s1, _s2, _t = tree
    db.session.execute(update(Plan).where(Plan.id == plan.id).values(title="改名后的计划"))


def _rename_phase(tree):
    plan, _s1, _s2, _t = tree
    db.session.execute(update(Phase).where(Phase.plan_id == plan.id, Phase.key == "startup").values(name="动员阶段"))


def _escalate(tree):
    _plan, _s1, _s2, t = tree
    db.session.execute(
        insert(Escalation).values(
            task_id=t["b"].id, due_on=t["b"].due_on, rank=2, level="overdue", state="fired", run_id="test"
        )
    )


def _rename_overdue(tree):
    _plan, _s1, _s2, t = tree
    db.session.execute(update(Task).where(Task.id == t["b"].id).values(title="改名的逾期任务"))


def _start_earlier(tree):
    _plan, _s1, _s2, t = tree
    db.session.execute(update(Task).where(Task.id == t["a"].id).values(start_on=date(2024, 1, 15)))


CHANGES = [
    (
        "a task accepted",
        _accept_shanghai,
        "/progress/progress-plan",
        'data-completion="25.0"',
        'data-completion="50.0"',
    ),
    (
        "a task accepted, then folded",
        _accept_then_fold,
        "/progress/progress-plan",
        'data-completion="25.0"',
        'data-completion="50.0"',
    ),
    (
        "a task accepted (ranking)",
        _accept_shanghai,
        "/ranking?plan=progress-plan",
        "<td>61</td>",
        '<td>1</td>\n    <td><a href="/ranking?unit=P31',
    ),
    ("a unit renamed", _rename_shanghai, "/progress/progress-plan", "上海市卫生健康委", "上海市卫健委（新名）"),
    ("a section heading retitled", _retitle_section, "/progress/progress-plan", "第一部分", "新的第一部分"),
    ("a plan retitled", _retitle_plan, "/leadership", "测试计划", "改名后的计划"),
    ("a phase renamed", _rename_phase, "/progress/progress-plan/phases", "启动阶段", "动员阶段"),
    ("an escalation fired", _escalate, "/leadership", 'data-figure="escalations">0<', 'data-figure="escalations">1<'),
    (
        "an overdue task renamed",
        _rename_overdue,
        "/progress/progress-plan/timeline",  # named in the chart's JSON
        json.dumps("测试任务")[1:-1],
        json.dumps("改名的逾期任务")[1:-1],
    ),
    (
        "a start date moved",
        _start_earlier,
        "/progress/progress-plan/timeline",
        "<td>2024-04-30</td>",
        "<td>2024-01-15</td>",
    ),
]


@pytest.mark.parametrize("name, change, url, before, after", CHANGES, ids=[c[0] for c in CHANGES])
def test_every_change_shows_on_the_next_request(client, summary, leader, name, change, url, before, after):
    page = content(client.get(url))
    assert before in page and after not in page
    assert content(client.get(url)) == page  # from the store
    change(summary)
    db.session.commit()
    changed = content(client.get(url))
    assert after in changed, name


def test_the_version_moves_with_each_kind_of_change_and_only_then(summary):
    plan, s1, _s2, t = summary
    versions = [page_version(TODAY)]

    def moved() -> bool:
        db.session.commit()
        versions.append(page_version(TODAY))
        return versions[-1] != versions[-2]

    assert versions[0] is not None
    db.session.execute(
        update(Task).where(Task.id == t["a"].id).values(description="只改了说明")
    )  # shown on no progress page
    assert not moved()
    db.session.execute(
        update(Task).where(Task.id == t["a"].id).values(title="改了标题")
    )  # the timeline names overdue items
    assert moved()
    db.session.execute(update(Task).where(Task.id == t["a"].id).values(percent=90, progress=90))
    assert moved()
    db.session.execute(update(Task).where(Task.id == t["a"].id).values(percent=80, progress=80))
    assert moved()  # the same owner again: one more mark
    assert fold(TODAY) >= 1
    assert moved()  # a fold empties the marks and raises the generation
    db.session.execute(update(Task).where(Task.id == s1.id).values(ref="壹"))
    assert moved()
    db.session.execute(update(OrgUnit).where(OrgUnit.code == "P11").values(position=99))
    assert moved()
    db.session.execute(update(Plan).where(Plan.id == plan.id).values(notes="备注"))
    assert moved()
    db.session.add(Phase(plan=plan, key="eval", name="评估阶段", position=2))
    assert moved()
    _escalate(summary)
    assert moved()
    # an escalation pass that records nothing leaves the pages alone
    db.session.execute(
        insert(Escalation).from_select(
            ["task_id", "due_on", "rank", "level", "state", "run_id"],
            select(Task.id, Task.due_on, literal(1), literal("reminder"), literal("fired"), literal("none")).where(
                Task.id < 0
            ),
        )
    )
    assert not moved()


def test_the_fragment_and_the_page_are_cached_apart_and_the_navigation_is_each_users(client, auth, make_user, summary):
    first = auth.login(make_user("leader", "NHC", username="leader-one"))
    page = client.get("/progress/progress-plan").get_data(as_text=True)
    fragment = client.get("/progress/progress-plan?unit=NHC", headers={**HX, "HX-Target": "matrix"}).get_data(
        as_text=True
    )
    assert "<html" in page and "<html" not in fragment and 'id="progress-matrix"' in fragment
    assert first.display_name in page
    second = auth.login(make_user("leader", "NHC", username="leader-two"))
    again = client.get("/progress/progress-plan")
    text = again.get_data(as_text=True)
    assert second.display_name in text and first.display_name not in text
    assert content(again) == page[page.index('<div id="content">') : page.index("</main>")]
    assert "HX-Request" in again.headers["Vary"]


def test_a_scoped_users_breadcrumb_and_phases_are_their_own(client, auth, make_user, summary):
    auth.login(make_user("leader", "NHC"))
    national = client.get("/progress/progress-plan?unit=P11").get_data(as_text=True)
    assert "国家卫生健康委" in national.split('class="breadcrumb"')[1].split("</ol>")[0]
    auth.login(make_user("coordinator", "P11"))
    provincial = client.get("/progress/progress-plan?unit=P11").get_data(as_text=True)
    assert "国家卫生健康委" not in provincial.split('class="breadcrumb"')[1].split("</ol>")[0]
    # the phases of a scoped user are the figures of the tasks they may see: rendered each time
    client.get("/progress/progress-plan/phases")
    with count_queries() as again:
        client.get("/progress/progress-plan/phases")
    assert aggregates(again)


def test_each_language_has_its_own_copy(client, summary, leader):
    chinese = content(client.get("/progress/progress-plan"))
    with client.session_transaction() as session:
        session["lang"] = "en"
    english = content(client.get("/progress/progress-plan"))
    assert "合计" in chinese and "Total" in english and "合计" not in english


def test_exports_are_cached_and_follow_changes(client, summary, leader):
    first = client.get("/progress/progress-plan/matrix.csv")
    with count_queries() as again:
        second = client.get("/progress/progress-plan/matrix.csv")
    assert second.data == first.data and aggregates(again) == []
    assert second.headers["Content-Disposition"].startswith("attachment")
    assert "progress-plan-NHC-matrix.csv" in second.headers["Content-Disposition"]
    _accept_shanghai(summary)
    db.session.commit()
    changed = client.get("/progress/progress-plan/matrix.csv").data.decode("utf-8-sig")
    assert changed != first.data.decode("utf-8-sig") and "50.0" in changed


def test_the_store_keeps_what_fits_and_drops_the_least_recently_used():
    store = PageStore(max_bytes=100)
    store.put("a", "A", 40)
    store.put("b", "B", 40)
    assert store.get("a") == "A"  # a is now the most recent
    store.put("c", "C", 40)
    assert store.get("b") is None and store.get("a") == "A" and store.get("c") == "C"
    assert store.size == 80 and len(store) == 2
    store.put("huge", "H", 101)
    assert store.get("huge") is None and len(store) == 2
    store.put("a", "A2", 10)
    assert store.get("a") == "A2" and store.size == 50


def test_the_cache_can_be_turned_off(app, client, summary, leader, monkeypatch):
    monkeypatch.setitem(app.config, "PROGRESS_CACHE_MB", 0)
    assert page_store() is None
    client.get("/progress/progress-plan")
    with count_queries() as again:
        client.get("/progress/progress-plan")
    assert aggregates(again)


def test_the_version_is_read_before_the_figures(client, summary, leader, monkeypatch):
    """A page stored under a version is never older than it: the version statement comes first."""
    calls = []
    real = pages.page_version
    monkeypatch.setattr(pages, "page_version", lambda today: calls.append("version") or real(today))
    with count_queries() as statements:
        client.get("/ranking?plan=progress-plan")
    first_version = next(i for i, s in enumerate(statements.sql) if "progress_content" in s)
    first_aggregate = next(i for i, s in enumerate(statements.sql) if "GROUP BY" in s.upper())
    assert calls == ["version"] and first_version < first_aggregate
    assert re.search(r"progress_dirty", statements.sql[first_version])


# -- the folder shared by the workers of a machine ---------------------------------------------------


def test_another_worker_takes_the_page_from_the_shared_folder(app, client, summary, leader):
    rendered = client.get("/progress/progress-plan")
    page_store().clear()  # what a second worker, which has not rendered it, has in memory
    with count_queries() as other:
        again = client.get("/progress/progress-plan")
    assert content(again) == content(rendered) and aggregates(other) == []
    _accept_shanghai(summary)
    db.session.commit()
    page_store().clear()
    with count_queries() as after_change:
        changed = client.get("/progress/progress-plan")
    assert aggregates(after_change) and 'data-completion="50.0"' in content(changed)


def test_a_page_is_rendered_once_while_the_other_workers_wait(tmp_path):
    import threading
    import time

    shared = SharedPages(tmp_path)
    builds = []

    def build():
        builds.append(1)
        time.sleep(0.2)
        return ("<title>", "<p>页面</p>")

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(shared.fetch(("page", 1), ("v", 1), build))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == [1] and results == [("<title>", "<p>页面</p>")] * 3


def test_the_shared_folder_serves_only_the_version_asked_for_and_is_swept(tmp_path):
    import os
    import time

    shared = SharedPages(tmp_path)
    shared.write(("page", 1), ("v", 1), ("标题", b"\x00xlsx bytes"))
    assert shared.read(("page", 1), ("v", 1)) == ("标题", b"\x00xlsx bytes")
    assert shared.read(("page", 1), ("v", 2)) is None and shared.read(("page", 2), ("v", 1)) is None
    assert shared.fetch(("page", 1), ("v", 2), lambda: ("新",)) == ("新",)  # replaces the older version
    assert shared.read(("page", 1), ("v", 1)) is None
    old = time.time() - 2 * 86400
    for path in tmp_path.glob("*/*"):
        os.utime(path, (old, old))
    assert shared.sweep(older_than=86400) >= 1 and shared.read(("page", 1), ("v", 2)) is None


def test_an_unusable_shared_folder_costs_a_render_not_a_page(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    shared = SharedPages(blocker / "pages")
    assert shared.fetch(("page", 1), ("v", 1), lambda: ("rendered",)) == ("rendered",)


def test_a_deployment_does_not_serve_pages_of_the_code_before_it(client, summary, leader, monkeypatch):
    """The shared folder outlives a restart: pages are filed under the hash of the app's files."""
    assert re.fullmatch(r"[0-9a-f]{16}", pages.code_fingerprint())
    client.get("/progress/progress-plan")
    page_store().clear()  # the restarted workers' memory
    monkeypatch.setattr(pages, "code_fingerprint", lambda: "the-next-release")
    with count_queries() as after_deploy:
        client.get("/progress/progress-plan")
    assert aggregates(after_deploy)


def test_the_plan_list_of_those_who_see_everything_is_cached_and_follows_new_tasks(
    client, summary, leader, make_task, monkeypatch
):
    monkeypatch.setattr("tracker.timeutil.local_today", lambda: TODAY)  # the day the summary is of
    first = content(client.get("/plans"))
    with count_queries() as again:
        assert content(client.get("/plans")) == first
    assert aggregates(again) == []  # the count of every task per plan is not run again
    plan, s1, _s2, _t = summary
    before = len(db.session.scalars(select(Task.id).where(Task.plan_id == plan.id)).all())
    make_task("P11", plan_key=plan.key, parent=s1, due_on=TODAY)
    after = content(client.get("/plans"))
    assert f">{before + 1}<" in after.replace(" ", "")


def test_the_shared_folder_is_readable_by_the_apps_user_only(tmp_path):
    import stat

    shared = SharedPages(tmp_path / "pages")
    shared.fetch(("page", 1), ("v", 1), lambda: ("领导驾驶舱",))
    files = [p for p in (tmp_path / "pages").rglob("*") if p.is_file()]
    folders = [tmp_path / "pages"] + [p for p in (tmp_path / "pages").rglob("*") if p.is_dir()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in folders)


# -- Redis shared by the web machines (REDIS_URL) ------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/15"  # the suite's own database number


@pytest.fixture
def redis_client():
    """A clean Redis database for the test; on a developer machine without Redis the test is
    skipped, in CI (.ci/run starts Redis) it fails."""
    import os

    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Redis at 127.0.0.1:6379")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def redis_pages(app, redis_client, monkeypatch):
    """The app with REDIS_URL set: what several machines behind one proxy share."""
    monkeypatch.setitem(app.config, "REDIS_URL", REDIS_URL)
    monkeypatch.delitem(app.extensions, "redis", raising=False)
    yield redis_client
    app.extensions.pop("redis", None)


def test_a_page_rendered_on_one_machine_is_served_from_redis_on_another(client, summary, leader, redis_pages):
    rendered = client.get("/progress/progress-plan")
    assert redis_pages.keys(pages.RedisPages.PREFIX + "*"), "the page went to Redis"
    page_store().clear()
    SharedPages(Path(client.application.config["PROGRESS_CACHE_DIR"])).clear()  # another machine's folder
    with count_queries() as other:
        again = client.get("/progress/progress-plan")
    assert content(again) == content(rendered) and aggregates(other) == []
    _accept_shanghai(summary)
    db.session.commit()
    page_store().clear()
    with count_queries() as after_change:
        changed = client.get("/progress/progress-plan")
    assert aggregates(after_change) and 'data-completion="50.0"' in content(changed)


def test_redis_pages_keep_their_version_and_expire(redis_client):
    shared = pages.RedisPages(redis_client, ttl=600, lock_seconds=1)
    shared.write(("page", 1), ("v", 1), ("标题", b"\x00xlsx bytes"))
    assert shared.read(("page", 1), ("v", 1)) == ("标题", b"\x00xlsx bytes")
    assert shared.read(("page", 1), ("v", 2)) is None and shared.read(("page", 2), ("v", 1)) is None
    assert 0 < redis_client.ttl(shared._key(("page", 1))) <= 600
    assert shared.fetch(("page", 1), ("v", 2), lambda: ("新",)) == ("新",)  # replaces the older version
    assert shared.read(("page", 1), ("v", 1)) is None and shared.sweep(older_than=0) == 0
    assert not redis_client.keys("*:lock"), "the lock is released"


def test_redis_renders_a_page_once_while_the_other_workers_wait(redis_client):
    import threading
    import time

    builds = []

    def build():
        builds.append(1)
        time.sleep(0.3)
        return ("页面",)

    results = []
    workers = [
        threading.Thread(
            target=lambda: results.append(
                pages.RedisPages(redis_client, ttl=600, lock_seconds=5).fetch(("page", 1), ("v", 1), build)
            )
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [("页面",)] * 4 and len(builds) == 1


def test_a_lock_left_by_a_dead_worker_holds_the_others_up_for_its_timeout_only(redis_client):
    import time

    shared = pages.RedisPages(redis_client, ttl=600, lock_seconds=0.3)
    redis_client.set(shared._key(("page", 1)) + ":lock", "a worker that died", px=60_000)
    started = time.monotonic()
    assert shared.fetch(("page", 1), ("v", 1), lambda: ("rendered",)) == ("rendered",)
    assert time.monotonic() - started < 2


def test_redis_out_of_reach_costs_a_render_not_a_page(app, client, summary, leader, monkeypatch):
    import redis

    down = pages.RedisPages(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2), ttl=60, lock_seconds=1)
    assert down.fetch(("page", 1), ("v", 1), lambda: ("rendered",)) == ("rendered",)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delitem(app.extensions, "redis", raising=False)
    try:
        response = client.get("/progress/progress-plan")
    finally:
        app.extensions.pop("redis", None)
    assert response.status_code == 200 and "data-completion" in content(response)
