"""The global search: what a user finds (only within their scope), in which order, where it
matched, and that no input breaks it; on PostgreSQL, that the trigram indexes serve it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text, update

from tests.conftest import count_queries, requires_postgresql
from tracker.extensions import db
from tracker.models import Evidence, JournalEntry, Task
from tracker.search.service import MAX_LENGTH, like_pattern, normalise_query, search_tasks, snippet

WORD = "琥珀鲸"  # in no seed plan
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _comment(task, body, user=None, at=None):
    entry = JournalEntry(task=task, user=user, action="comment", comment=body)
    if at is not None:
        entry.at = at
    db.session.add(entry)
    db.session.commit()


def _evidence(task, user, name, at=None):
    item = Evidence(
        task=task,
        user=user,
        kind="file",
        note="",
        original_name=name,
        stored_name=uuid.uuid4().hex + ".pdf",
        size=9,
        mime_type="application/pdf",
    )
    if at is not None:
        item.created_at = at
    db.session.add(item)
    db.session.commit()


def _task(make_task, owner, when=None, **values):
    """A task last changed at `when` (make_task's own commit would stamp it now)."""
    task = make_task(owner, **values)
    if when is not None:
        db.session.execute(update(Task).where(Task.id == task.id).values(updated_at=when))
        db.session.commit()
        db.session.expire(task)
    return task


def _titles(result):
    return [hit.task.title for hit in result.page.items]


@pytest.fixture
def scoped_world(make_unit, make_task):
    """A task holding WORD in its title for P11-QC, a hospital under it, its parent P11, a
    sibling under P11 and another province's QC centre; and one of the sibling's co-owned by
    P11-QC."""
    from tests.conftest import unit

    hospital = make_unit("P11-QC-SH", "P11-QC").code
    sibling = make_unit("P11-SH", "P11").code
    owners = {"own": "P11-QC", "child": hospital, "parent": "P11", "sibling": sibling, "other": "P31-QC"}
    tasks = {relation: make_task(code, title=f"{WORD}-{relation}") for relation, code in owners.items()}
    shared = make_task(sibling, title=f"{WORD}-co-owned")
    shared.co_owners.append(unit("P11-QC"))
    db.session.commit()
    return tasks, shared


# -- scope -------------------------------------------------------------------------------------


def test_a_reporter_never_finds_another_units_task(make_user, scoped_world):
    reporter = make_user("reporter", "P11-QC")
    found = sorted(_titles(search_tasks(reporter, WORD)))
    assert found == sorted([f"{WORD}-own", f"{WORD}-child", f"{WORD}-co-owned"])


def test_a_coordinator_finds_their_subtree_and_a_leader_everything(make_user, scoped_world):
    coordinator = make_user("coordinator", "P11")
    assert sorted(_titles(search_tasks(coordinator, WORD))) == sorted(
        f"{WORD}-{r}" for r in ("own", "child", "parent", "sibling", "co-owned")
    )
    leader = make_user("leader", "NHC")
    assert len(search_tasks(leader, WORD).page.items) == 6


def test_a_reporter_does_not_find_another_units_task_by_its_comment_or_file(make_user, make_task):
    other = make_task("P31-QC", title="别省的任务")
    _comment(other, f"内部意见 {WORD}")
    _evidence(other, make_user("reporter", "P31-QC"), f"{WORD}.pdf")
    mine = make_task("P11-QC", title="本单位任务")
    _comment(mine, f"请补充 {WORD} 材料")
    reporter = make_user("reporter", "P11-QC")
    assert _titles(search_tasks(reporter, WORD)) == ["本单位任务"]


def test_the_search_and_the_scoping_rule_agree_for_every_role(make_user, scoped_world):
    from tracker.auth.scope import visible_tasks

    from tracker.search.service import _scope

    other = scoped_world[0]["other"]
    _comment(other, f"意见{WORD}")  # found by a comment too: the other tier, for each kind of scope
    cases = (("reporter", "P11-QC"), ("coordinator", "P11"), ("reporter", "P31-QC"), ("coordinator", "NHC"))
    for role, code in cases + (("admin", "NHC"),):
        user = make_user(role, code)
        visible = set(db.session.scalars(visible_tasks(user).where(Task.title.like(f"{WORD}%"))))
        assert {hit.task for hit in search_tasks(user, WORD).page.items} == visible, (role, code)
        assert {hit.task for hit in search_tasks(user, "意见" + WORD).page.items} == visible & {other}, (role, code)
    # the national commission's coordinator reads the matches first, as those who see everything
    assert _scope(make_user("coordinator", "NHC")).wide and not _scope(make_user("coordinator", "P11")).wide


# -- what is found and in which order -------------------------------------------------------------


def test_title_matches_come_first_then_the_most_recently_changed(make_user, make_task):
    user = make_user("coordinator", "P11")
    uploader = make_user("reporter", "P11-QC")
    old_title = _task(make_task, "P11-QC", T0, title=f"旧的{WORD}标题")
    new_title = _task(make_task, "P11-QC", T0 + timedelta(days=3), title=f"新的{WORD}标题")
    described = _task(make_task, "P11-QC", T0 + timedelta(days=9), title="说明里有", description=f"按{WORD}的要求办理")
    commented = _task(make_task, "P11-QC", T0, title="意见里有")
    _comment(commented, f"已按{WORD}修改", at=T0 + timedelta(days=8))
    filed = _task(make_task, "P11-QC", T0 + timedelta(days=20), title="文件里有")
    _evidence(filed, uploader, f"{WORD}自查表.xlsx", at=T0 + timedelta(days=7))
    result = search_tasks(user, WORD)
    assert [hit.task.id for hit in result.page.items] == [
        new_title.id,
        old_title.id,
        described.id,
        commented.id,
        filed.id,
    ]
    assert [hit.source for hit in result.page.items] == ["title", "title", "description", "comment", "evidence"]
    assert result.page.total == 5 and not result.page.capped


def test_the_others_rank_by_their_latest_matching_text(make_user, make_task):
    """A task commented on yesterday comes before one whose description matched long ago, and a
    task's older matching comment does not hold it back."""
    user = make_user("reporter", "P11-QC")
    long_ago = _task(make_task, "P11-QC", T0, title="早", description=WORD)
    lively = _task(make_task, "P11-QC", T0, title="近")
    _comment(lively, f"{WORD}一", at=T0 - timedelta(days=30))
    _comment(lively, f"{WORD}二", at=T0 + timedelta(days=1))
    assert [h.task.id for h in search_tasks(user, WORD).page.items] == [lively.id, long_ago.id]


def test_comments_and_evidence_file_names_are_found_with_their_text(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    commented = make_task("P11-QC", title="甲")
    _comment(commented, "第一条意见")
    _comment(commented, f"第二条意见：请上传{WORD}的照片")
    filed = make_task("P11-QC", title="乙")
    _evidence(filed, user, f"2026年{WORD}报告.pdf")
    hits = {hit.task.id: hit for hit in search_tasks(user, WORD).page.items}
    assert hits[commented.id].source == "comment"
    assert hits[commented.id].snippet.match == WORD
    assert hits[commented.id].snippet.before.endswith("请上传")
    assert hits[filed.id].source == "evidence"
    assert (hits[filed.id].snippet.before, hits[filed.id].snippet.after) == ("2026年", "报告.pdf")


def test_a_task_found_by_its_title_is_listed_once(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    task = make_task("P11-QC", title=f"{WORD}一次", description=f"又是{WORD}")
    _comment(task, WORD)
    _comment(task, WORD)
    _evidence(task, user, f"{WORD}.pdf")
    result = search_tasks(user, WORD)
    assert [(h.task.id, h.source) for h in result.page.items] == [(task.id, "title")]
    assert result.page.total == 1


def test_latin_letters_match_whatever_their_case(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    task = make_task("P11-QC", title="上传文件")
    _evidence(task, user, "Self-Check-QXZ.PDF")
    hits = search_tasks(user, "check-qxz.pdf").page.items
    assert [(h.task.id, h.source, h.snippet.match) for h in hits] == [(task.id, "evidence", "Check-QXZ.PDF")]


def test_pages_run_from_the_title_matches_into_the_others(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    titles = [_task(make_task, "P11-QC", T0 + timedelta(hours=n), title=f"{WORD}{n}") for n in range(5)]
    others = [_task(make_task, "P11-QC", T0 + timedelta(hours=n), title=f"其他{n}", description=WORD) for n in range(4)]
    seen = []
    for number in (1, 2, 3, 4):
        result = search_tasks(user, WORD, page=number, per_page=3)
        assert (result.page.total, result.page.pages) == (9, 3)
        seen.append([hit.task.id for hit in result.page.items])
    expected = [t.id for t in reversed(titles)] + [t.id for t in reversed(others)]
    assert seen[0] + seen[1] + seen[2] == expected
    assert seen[3] == seen[2]  # past the last page: the last page


def test_the_count_stops_at_its_cap(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    for n in range(6):
        make_task("P11-QC", title=f"{WORD}{n}")
    make_task("P11-QC", title="别的", description=WORD)
    result = search_tasks(user, WORD, per_page=2, cap=4)
    assert (result.page.total, result.page.capped, result.page.pages) == (4, True, 2)
    assert all(hit.source == "title" for hit in search_tasks(user, WORD, page=2, per_page=2, cap=4).page.items)


# -- input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01"])
def test_an_empty_query_searches_nothing(make_user, text):
    user = make_user("reporter", "P11-QC")
    with count_queries() as statements:
        result = search_tasks(user, text)
    assert (result.hint, statements()) == ("empty", 0)


@pytest.mark.parametrize("text", ["a", "鲸", " % "])
def test_a_one_character_query_gets_a_hint_not_a_scan(make_user, text):
    user = make_user("reporter", "P11-QC")
    with count_queries() as statements:
        result = search_tasks(user, text)
    assert (result.hint, statements(), result.page.items) == ("short", 0, [])


def test_the_query_is_capped_at_100_characters():
    assert len(normalise_query("长" * 5000)) == MAX_LENGTH
    assert normalise_query("  a\tb\n\x00c  ") == "a b c"


def test_like_wildcards_match_only_themselves(make_user, make_task):
    user = make_user("reporter", "P11-QC")
    percent = make_task("P11-QC", title="完成率100%以上")
    make_task("P11-QC", title="完成率1000以上")
    underscore = make_task("P11-QC", title="file_a 归档")
    make_task("P11-QC", title="fileXa 归档")
    backslash = make_task("P11-QC", title="路径 C:\\质控")
    assert [h.task.id for h in search_tasks(user, "100%以").page.items] == [percent.id]
    assert [h.task.id for h in search_tasks(user, "e_a").page.items] == [underscore.id]
    assert [h.task.id for h in search_tasks(user, "C:\\质").page.items] == [backslash.id]
    assert like_pattern("a%_\\") == "%a\\%\\_\\\\%"


@pytest.mark.parametrize(
    "text",
    [
        "' OR 1=1 --",
        "%' AND 1=0 UNION SELECT password_hash FROM users --",
        "%%%%",
        "__",
        "\\",
        "\\\\%",
        "\u202e\u200b\ufeff𠜎𠜱👩‍⚕️",
        "\x00\x01\x07\x1b[31m",
        "x" * 100_000,
        "[*](?)",
        "İstanbul ß",
    ],
)
def test_hostile_input_never_errors(client, auth, make_user, text):
    auth.login(make_user("reporter", "P11-QC"))
    for headers in ({}, {"HX-Request": "true", "HX-Target": "search-results"}):
        response = client.get("/search", query_string={"q": text, "page": "9" * 30, "per_page": "x"}, headers=headers)
        # a NUL anywhere in a request is refused by the app before any page (tracker/security.py)
        assert response.status_code == (400 if "\x00" in text else 200)


def test_a_title_with_markup_is_shown_as_text_with_the_match_marked(client, auth, make_user, make_task):
    auth.login(make_user("reporter", "P11-QC"))
    task = make_task("P11-QC", title=f"<script>alert(1)</script>{WORD}<b>粗</b>")
    _comment(make_task("P11-QC", title="有意见"), f'"><img src=x onerror=alert(1)>{WORD}')
    page = client.get("/search", query_string={"q": WORD}).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page and "<b>粗" not in page
    assert f"&lt;script&gt;alert(1)&lt;/script&gt;<mark>{WORD}</mark>&lt;b&gt;粗&lt;/b&gt;" in page
    assert f'href="/tasks/{task.id}"' in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;<mark>" in page


def test_a_match_in_markup_characters_is_marked_as_text(client, auth, make_user, make_task):
    auth.login(make_user("reporter", "P11-QC"))
    make_task("P11-QC", title="标题<mark>甲</mark>")
    page = client.get("/search", query_string={"q": "<mark>"}).get_data(as_text=True)
    assert "<mark>&lt;mark&gt;</mark>" in page


def test_snippets_cut_long_text_around_the_match():
    text = "前" * 100 + WORD + "后" * 100
    cut = snippet(text, WORD)
    assert cut.before == "…" + "前" * 30 and cut.match == WORD and cut.after == "后" * 60 + "…"
    assert snippet("没有", WORD) == type(cut)("没有", "", "")


# -- the page ----------------------------------------------------------------------------------


def test_the_page_shows_title_plan_owner_and_where_it_matched(client, auth, make_user, make_task):
    user = make_user("reporter", "P11-QC")
    auth.login(user)
    task = make_task("P11-QC", title="按要求上报")
    _evidence(task, user, f"{WORD}.docx")
    page = client.get("/search", query_string={"q": WORD}).get_data(as_text=True)
    assert 'id="search-hits"' in page and "按要求上报" in page and "测试计划" in page
    assert task.owner_unit.name in page
    assert f"<mark>{WORD}</mark>.docx" in page
    assert "证据文件" in page  # where it matched, in words


def test_an_htmx_request_gets_only_the_results(client, auth, make_user, make_task):
    auth.login(make_user("reporter", "P11-QC"))
    make_task("P11-QC", title=f"{WORD}片段")
    response = client.get("/search", query_string={"q": WORD}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers.get("Vary", "")
    assert 'id="search-hits"' in body and "navbar" not in body and 'id="search-form"' not in body


def test_the_short_query_hint_and_the_empty_prompt(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    assert "至少" in client.get("/search?q=a").get_data(as_text=True)
    assert 'id="search-hint"' in client.get("/search").get_data(as_text=True)


def test_every_page_has_the_search_box_in_the_navigation(client, auth, make_user):
    auth.login(make_user("reporter", "P11-QC"))
    page = client.get("/").get_data(as_text=True)
    nav = page[page.index("<nav") : page.index("</nav>")]
    assert 'id="nav-search"' in nav and 'action="/search"' in nav and 'name="q"' in nav
    assert 'for="nav-search-q"' in nav  # labelled


@pytest.mark.parametrize("per_page", [20, 100])
def test_the_statements_of_a_search_are_bounded(make_user, make_task, per_page):
    user = make_user("coordinator", "P11")
    uploader = make_user("reporter", "P11-QC")
    for n in range(60):
        task = make_task("P11-QC", title=f"{WORD}{n}" if n % 2 else f"任务{n}")
        if n % 3 == 0:
            _comment(task, f"意见{WORD}")
        if n % 4 == 0:
            _evidence(task, uploader, f"{WORD}{n}.pdf")
    db.session.expire_all()
    assert user.unit.path  # the signed-in user and their unit are loaded before any page
    with count_queries() as statements:
        result = search_tasks(user, WORD, per_page=per_page)
        shown = [(hit.task.plan.title, hit.task.owner_unit.name) for hit in result.page.items]  # loaded with the rows
    # 30 titles; 20 others by a comment (multiples of 6) or a file (multiples of 4)
    assert len(shown) == min(per_page, 50)
    assert statements() <= 7  # (PostgreSQL: SET LOCAL jit) the scope's units, two tiers' keys, tasks, comments, files


def test_the_page_runs_a_bounded_number_of_statements(client, auth, make_user, make_task):
    auth.login(make_user("coordinator", "P11"))
    for n in range(40):
        task = make_task("P11-QC", title=f"{WORD}{n}" if n % 2 else f"任务{n}")
        _comment(task, f"意见{WORD}")
    client.get("/search", query_string={"q": WORD})
    with count_queries() as few:
        client.get("/search", query_string={"q": WORD, "per_page": 20})
    with count_queries() as many:
        client.get("/search", query_string={"q": WORD, "per_page": 100})
    assert few() <= many() <= few() + 2 <= 16  # the other tier and its comments: two more


# -- PostgreSQL: the trigram indexes --------------------------------------------------------------


def _plan(sql: str, params: dict) -> str:
    return "\n".join(row[0] for row in db.session.execute(text("EXPLAIN " + sql), params))


def _statement_plan(statement) -> str:
    compiled = statement.compile(dialect=db.session.get_bind().dialect)
    rows = db.session.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)
    return "\n".join(row[0] for row in rows)


def test_on_postgresql_the_trigram_and_bigram_indexes_serve_the_search(database_url, make_user):
    requires_postgresql(database_url, "the search's indexes are PostgreSQL's")
    from tracker.search import service

    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # the test tables are tiny
    pattern = like_pattern("质控报告")
    for sql, index in (
        ("SELECT id FROM tasks WHERE title LIKE :p", "ix_tasks_title_trgm"),
        ("SELECT id FROM tasks WHERE title ILIKE :p", "ix_tasks_title_trgm"),
        ("SELECT id FROM tasks WHERE description LIKE :p", "ix_tasks_description_trgm"),
        (
            "SELECT task_id FROM journal_entries WHERE action = 'comment' AND comment LIKE :p",
            "ix_journal_entries_comment_trgm",
        ),
        ("SELECT task_id FROM evidence WHERE original_name ILIKE :p", "ix_evidence_original_name_trgm"),
    ):
        assert index in _plan(sql, {"p": pattern}), sql
    # the service's own statements: trigrams for 质控报告, bigrams for 质控 and A-b (no trigram in them)
    leader = make_user("leader", "NHC")
    for term, kind in (("质控报告", "trgm"), ("质控", "bigram"), ("A-b", "bigram")):
        match, branches = service._matcher(term), service._scope(leader)
        title_plan = _statement_plan(service._title_keys(branches, match))
        assert f"ix_tasks_title_{kind}" in title_plan, (term, title_plan)
        other_plan = _statement_plan(service._other_keys(branches, match))
        for table in ("tasks_description", "journal_entries_comment", "evidence_original_name"):
            assert f"ix_{table}_{kind}" in other_plan, (term, other_plan)


def test_on_postgresql_bigrams_find_what_like_finds(database_url, make_user, make_task):
    requires_postgresql(database_url, "the bigram index is PostgreSQL's")
    user = make_user("reporter", "P11-QC")
    found = make_task("P11-QC", title="院感防控")
    upper = make_task("P11-QC", title="QC Check")
    make_task("P11-QC", title="院内感染")
    assert [h.task.id for h in search_tasks(user, "院感").page.items] == [found.id]
    assert [h.task.id for h in search_tasks(user, "qc").page.items] == [upper.id]
    assert [h.task.id for h in search_tasks(user, "C c").page.items] == [upper.id]
    assert db.session.scalar(text("SELECT search_bigrams('Ab质控')")) == sorted(["ab", "b质", "质控"])


def test_a_migrated_postgresql_database_has_the_search_indexes_create_all_makes(app, scratch_database_url):
    requires_postgresql(scratch_database_url, "the search's indexes are PostgreSQL's")
    from flask_migrate import upgrade

    from tracker import create_app
    from tracker.config import TestConfig
    from tracker.models.search_indexes import SEARCH_INDEXES

    indexes = text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%trgm' OR indexname LIKE '%bigram' "
        "ORDER BY indexname"
    )
    function = text("SELECT pg_get_functiondef('search_bigrams(text)'::regprocedure)")
    created = db.session.execute(indexes).all(), db.session.scalar(function)
    migrated_app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with migrated_app.app_context():
        upgrade(revision="heads")
        migrated = db.session.execute(indexes).all(), db.session.scalar(function)
        db.session.remove()
        db.engine.dispose()
    assert sorted(name for name, _ in created[0]) == sorted(SEARCH_INDEXES)
    assert migrated == created


def test_the_search_sql_is_one_statement_per_tier_branch(make_user):
    """The scoping rule reaches the search as disjoint branches: a reporter's tier is a UNION ALL
    of owned and co-owned tasks, a leader's a single SELECT."""
    from tracker.search import service

    match = service._matcher(WORD)
    reporter = make_user("reporter", "P11-QC")
    leader = make_user("leader", "NHC")
    assert str(service._title_keys(service._scope(reporter), match)).count("UNION ALL") == 1
    assert "UNION ALL" not in str(service._title_keys(service._scope(leader), match))
