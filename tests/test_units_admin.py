"""The unit catalogue in the web: an admin adds, renames, moves and retires units and imports
them from a sheet; a move keeps scoping and the progress figures right at once; the seed loader
keeps what was done in the web; only admins get in."""

from __future__ import annotations

import io
import time
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, text

from tests.conftest import count_queries, requires_postgresql, unit
from tracker.auth.scope import visible_tasks
from tracker.extensions import db
from tracker.importer.seed import load_seed_files, seed_files
from tracker.models import AuditEntry, OrgUnit, Plan, Task
from tracker.models.progress import ProgressState
from tracker.pickers.units import search_units
from tracker.progress import summary
from tracker.progress.summary import figures_by
from tracker.units import service as units
from tracker.units.service import UnitError

TODAY = date(2025, 6, 30)


def _journal(u: OrgUnit) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == "unit", AuditEntry.subject_id == u.id)
            .order_by(AuditEntry.id)
        )
    )


def _code(code: str):
    return db.session.scalar(select(OrgUnit).where(OrgUnit.code == code))


@pytest.fixture
def admin(make_user):
    return make_user("admin", "NHC")


def _new(client, **values):
    data = {"code": "P11-H01", "name": "北京某医院", "kind": "institution", "level": "institution", "parent": "P11"}
    data.update(values)
    return client.post("/admin/units/new", data=data)


# --- create, rename, move, retire -------------------------------------------------------------


def test_an_admin_adds_a_unit_under_a_parent_chosen_with_the_picker(client, auth, admin):
    auth.login(admin)
    page = client.get("/admin/units/new?parent=P11").get_data(as_text=True)
    assert "data-unit-picker" in page and "北京市卫生健康委" in page  # the parent's full name, not its code
    response = _new(client, parent="北京市卫生健康委")  # the picker's input takes the full name too
    assert response.status_code == 303 and response.headers["Location"] == "/admin/units/P11-H01"
    new = _code("P11-H01")
    p11 = unit("P11")
    assert (new.name, new.kind, new.level, new.parent_id, new.origin) == (
        "北京某医院",
        "institution",
        "institution",
        p11.id,
        "web",
    )
    assert new.path == f"{p11.path}{new.id}/" and new.is_within(p11)
    assert [(e.action, e.actor_id) for e in _journal(new)] == [("create", admin.id)]
    page = client.get("/admin/units/P11-H01").get_data(as_text=True)
    assert "北京某医院" in page and 'id="move-form"' in page
    assert search_units(admin, "北京某医院")[0].code == "P11-H01"  # in the picker at once


def test_a_bad_or_taken_code_a_missing_name_or_parent_is_a_form_error_and_nothing_is_stored(client, auth, admin):
    auth.login(admin)
    for values, field, message in [
        ({"code": "P11"}, "code", "已被占用"),
        ({"code": "p 11/x"}, "code", "大写字母"),
        ({"name": ""}, "name", ""),
        ({"parent": ""}, "parent", "上级单位"),
        ({"parent": "没有这个单位"}, "parent", "没有这个单位"),
        ({"kind": "hospital"}, "kind", ""),
    ]:
        response = _new(client, **values)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, values
        assert f'id="{field}"' in page and "is-invalid" in page, values
        assert message in page, (
            values,
            page[page.find("invalid-feedback") - 300 : page.find("invalid-feedback") + 300],
        )
    assert _code("P11-H01") is None


def test_a_rename_and_a_new_kind_are_journaled_field_by_field(client, auth, admin, make_unit):
    auth.login(admin)
    hospital = make_unit("P11-H02", "P11", name="北京旧名医院")
    response = client.post(
        "/admin/units/P11-H02",
        data={"name": "北京新名医院", "kind": "qc_center", "level": "provincial", "comment": "更名"},
    )
    assert response.status_code == 303
    db.session.refresh(hospital)
    assert (hospital.name, hospital.kind, hospital.level, hospital.origin) == (
        "北京新名医院",
        "qc_center",
        "provincial",
        "web",
    )
    entries = [(e.action, e.field, e.old_value, e.new_value, e.comment) for e in _journal(hospital)]
    assert entries == [
        ("edit", "name", "北京旧名医院", "北京新名医院", "更名"),
        ("edit", "kind", "institution", "qc_center", "更名"),
        ("edit", "level", "institution", "provincial", "更名"),
    ]
    history = client.get("/admin/units/P11-H02").get_data(as_text=True)
    assert "北京旧名医院 → 北京新名医院" in history


@pytest.fixture
def branch(make_unit):
    """A prefecture under P11 with two counties, one with a hospital."""
    pref = make_unit("P11-PF", "P11", kind="commission", level="prefecture", name="北京某地市卫健委")
    county = make_unit("P11-PF-C1", "P11-PF", kind="commission", level="county", name="某区卫健局")
    make_unit("P11-PF-C2", "P11-PF", kind="commission", level="county", name="某县卫健局")
    make_unit("P11-PF-C1-H", "P11-PF-C1", name="某区人民医院")
    return pref, county


def test_moving_a_unit_rewrites_the_paths_of_it_and_everything_under_it_and_journals_the_parents(
    client, auth, admin, branch
):
    pref, _county = branch
    auth.login(admin)
    response = client.post("/admin/units/P11-PF/move", data={"parent": "P12", "comment": "区划调整"})
    assert response.status_code == 303
    db.session.expire_all()
    p12 = unit("P12")
    moved = {u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.startswith("P11-PF")))}
    assert len(moved) == 4
    for u in moved.values():
        assert u.path.startswith(f"{p12.path}{pref.id}/"), u.code
        assert u.path == f"{u.parent.path}{u.id}/", u.code
        assert not u.is_within(unit("P11"))
    assert moved["P11-PF"].parent_id == p12.id and moved["P11-PF"].origin == "web"
    [entry] = [e for e in _journal(moved["P11-PF"]) if e.action == "move"]
    assert (entry.actor_id, entry.field, entry.old_value, entry.new_value, entry.comment) == (
        admin.id,
        "parent_id",
        "P11 北京市卫生健康委",
        "P12 天津市卫生健康委",
        "区划调整",
    )
    assert "P12 天津市卫生健康委" in client.get("/admin/units/P11-PF").get_data(as_text=True)


def test_a_unit_is_not_moved_under_itself_or_its_descendant(client, auth, admin, branch):
    auth.login(admin)
    before = {u.code: u.path for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.startswith("P11-PF")))}
    for target, message in (("P11-PF", "不能移到自身之下"), ("P11-PF-C1-H", "不能移到其下级单位之下")):
        response = client.post("/admin/units/P11-PF/move", data={"parent": target})
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and message in page, target
        assert 'id="move-form"' in page and "is-invalid" in page
    db.session.expire_all()
    after = {u.code: u.path for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.startswith("P11-PF")))}
    assert after == before
    assert not [e for e in _journal(branch[0]) if e.action == "move"]


def test_a_move_is_a_fixed_number_of_statements_whatever_the_size_of_the_subtree(admin, make_unit):
    pref = make_unit("P11-BIG", "P11", kind="commission", level="prefecture")
    db.session.execute(
        insert(OrgUnit),
        [
            {
                "code": f"P11-BIG-{n}",
                "name": f"医院{n}",
                "kind": "institution",
                "level": "institution",
                "parent_id": pref.id,
                "path": "",
                "position": n,
                "example": False,
                "origin": "web",
            }
            for n in range(300)
        ],
    )
    db.session.execute(
        text("UPDATE org_units SET path = :p || id || '/' WHERE parent_id = :id"), {"p": pref.path, "id": pref.id}
    )
    db.session.commit()
    target = unit("P13")
    with count_queries() as statements:
        moved = units.move_unit(admin, pref, target)
    assert moved == 301
    assert statements() <= 10, statements.sql  # the same for 3 units (see the PostgreSQL test below)
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count()).select_from(OrgUnit).where(OrgUnit.path.like(f"{target.path}{pref.id}/%"))
        )
        == 301
    )


def test_retiring_is_refused_while_the_unit_owns_open_tasks_or_has_accounts_saying_how_many(
    client, auth, admin, make_unit, make_task, make_user
):
    auth.login(admin)
    hospital = make_unit("P11-H03", "P11", name="北京待撤销医院")
    for n in range(3):
        make_task("P11-H03", title=f"未完任务{n}")
    done = make_task("P11-H03", title="已办结", status="accepted")
    reporter = make_user("reporter", "P11-H03")
    response = client.post("/admin/units/P11-H03/retire", data={"comment": "撤并"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "3 项未办结的任务" in page and "1 个启用的账户" in page
    db.session.refresh(hospital)
    assert not hospital.is_retired
    for task in db.session.scalars(select(Task).where(Task.owner_unit_id == hospital.id, Task.id != done.id)):
        task.status = "cancelled"
    reporter.active = False
    db.session.commit()
    assert client.post("/admin/units/P11-H03/retire", data={"comment": "撤并"}).status_code == 303
    db.session.refresh(hospital)
    assert hospital.is_retired and hospital.origin == "web"
    assert [e.action for e in _journal(hospital)] == ["retire"]
    assert search_units(admin, "北京待撤销医院") == []  # out of the pickers
    assert _new(client, code="P11-H04", parent="P11-H03").status_code == 422  # takes no new units
    assert client.post("/admin/units/P11-H03/restore").status_code == 303
    db.session.refresh(hospital)
    assert not hospital.is_retired and [e.action for e in _journal(hospital)] == ["retire", "restore"]


def test_a_unit_with_live_units_under_it_or_the_top_unit_is_not_retired(admin, branch):
    pref, _county = branch
    with pytest.raises(UnitError, match="2"):
        units.retire_unit(admin, pref)
    with pytest.raises(UnitError):
        units.retire_unit(admin, unit("NHC"))


# --- scoping and figures right at once after a move --------------------------------------------------


def _visible(user) -> set[int]:
    return set(db.session.scalars(visible_tasks(user).with_only_columns(Task.id)))


def test_after_a_move_the_new_parents_coordinator_sees_the_tasks_and_the_old_one_no_longer(
    client, auth, admin, branch, make_task, make_user
):
    _pref, county = branch
    task = make_task("P11-PF-C1-H", title="医院的任务", due_on=TODAY - timedelta(days=3))
    beijing, tianjin = make_user("coordinator", "P11"), make_user("coordinator", "P12")
    assert task.id in _visible(beijing) and task.id not in _visible(tianjin)
    summary.rebuild(TODAY)
    db.session.commit()
    before_p12 = figures_by("self", unit("P12"), None, TODAY)
    units.move_unit(admin, _code("P11-PF"), unit("P12"))
    db.session.commit()
    db.session.expire_all()
    # scoping: the next request (and query) already follows the new tree
    assert task.id in _visible(tianjin) and task.id not in _visible(beijing)
    auth.login(tianjin)
    assert client.get(f"/tasks/{task.id}").status_code == 200
    auth.login(beijing)
    assert client.get(f"/tasks/{task.id}").status_code == 404
    # figures: the summary is set aside, the pages read the tasks, and are right at once
    assert db.session.get(ProgressState, 1).as_of is None and not summary.ready(TODAY)
    after_p12 = figures_by("self", unit("P12"), None, TODAY)
    assert _items(after_p12) == _items(before_p12) + 1
    assert _items(figures_by("self", unit("P12"), None, TODAY, live=True)) == _items(after_p12)
    assert summary.fold(TODAY) == -1 and summary.ready(TODAY)  # the scheduler's next pass rebuilds
    assert _items(figures_by("self", unit("P12"), None, TODAY)) == _items(after_p12)


def _items(rows) -> int:
    return sum(int(row[2] or 0) for row in rows)


# --- the seed loader keeps what the web did ------------------------------------------------------


def test_seed_load_keeps_units_added_renamed_or_moved_in_the_web(admin, branch):
    from pathlib import Path

    pref, _county = branch
    units.edit_unit(admin, unit("P11-QC"), "北京市肿瘤质控中心（改名）", "qc_center", "provincial")
    units.move_unit(admin, unit("P12-QC"), unit("P11"))
    db.session.commit()
    report = load_seed_files(seed_files(Path(__file__).resolve().parent.parent / "seed_plans"))
    db.session.commit()
    db.session.expire_all()
    assert report.units_kept == 2 and report.units_updated == 0
    assert _code("P11-PF") is not None and _code("P11-PF-C1-H") is not None  # not in units.yaml: kept
    assert unit("P11-QC").name == "北京市肿瘤质控中心（改名）"
    assert unit("P12-QC").parent_id == unit("P11").id and unit("P12-QC").is_within(unit("P11"))


# --- import ------------------------------------------------------------------------------------


def _csv(rows) -> bytes:
    lines = ["代码,名称,类型,级别,上级单位"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def _import(client, data: bytes, name="units.csv"):
    return client.post(
        "/admin/units/import", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def test_a_sheet_with_bad_rows_names_each_by_row_and_column_and_stores_nothing_then_the_fixed_one_stores_all(
    client, auth, admin
):
    auth.login(admin)
    good = [
        ["P64-NEW", "宁夏某新设市卫健委", "卫生健康委", "地市级", "P64"],
        ["P64-NEW-C", "某新设县卫健局", "commission", "county", "P64-NEW"],  # a row above
        ["P64-NEW-H", "某新设县人民医院", "医疗机构", "机构", "某新设县卫健局"],  # by the name of a row above
    ]
    bad = good + [
        ["P11", "重复代码", "医疗机构", "机构", "P64"],  # row 5: the code is taken
        ["P64-X", "某医院", "医院集团", "机构", "P64"],  # row 6: unknown kind
        ["P64-Y", "某医院", "医疗机构", "乡镇", "P64-Z"],  # row 7: unknown level; parent on a later row
        ["P64-Z", "", "医疗机构", "机构", "查无此单位"],  # row 8: no name; unknown parent
    ]
    response = _import(client, _csv(bad))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for where in (
        "第 5 行，A 列（代码）",
        "第 6 行，C 列（类型）",
        "第 7 行，D 列（级别）",
        "第 7 行，E 列（上级单位）",
        "第 8 行，B 列（名称）",
        "第 8 行，E 列（上级单位）",
    ):
        assert where in page, where
    assert page.count("<li>第 ") == 6
    assert _code("P64-NEW") is None  # nothing stored, not even the good rows
    response = _import(client, _csv(good))
    assert response.status_code == 200 and "已导入 3 个单位" in response.get_data(as_text=True)
    made = {c: _code(c) for c in ("P64-NEW", "P64-NEW-C", "P64-NEW-H")}
    assert made["P64-NEW"].parent_id == unit("P64").id
    assert made["P64-NEW-C"].parent_id == made["P64-NEW"].id and made["P64-NEW-H"].parent_id == made["P64-NEW-C"].id
    assert made["P64-NEW-H"].path == f"{made['P64-NEW-C'].path}{made['P64-NEW-H'].id}/"
    assert (made["P64-NEW"].kind, made["P64-NEW"].level) == ("commission", "prefecture")
    assert all(u.origin == "web" for u in made.values())
    assert "第 4 行" in _journal(made["P64-NEW-H"])[0].comment


def test_the_template_sheet_downloads_and_its_example_rows_import(client, auth, admin):
    auth.login(admin)
    response = client.get("/admin/units/import/template.xlsx")
    assert response.status_code == 200
    data = response.get_data()
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert [c.value for c in sheet[1]] == ["代码 *", "全称 *", "类别 *", "级别 *", "上级单位（代码或全称） *"]
    response = _import(client, data, "template.xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    assert _code("WZ-LT-H2").parent_id == unit("WZ-LT").id
    assert _code("WZ-NEW-H").parent_id == _code("WZ-NEW").id


def test_a_file_that_is_no_sheet_is_refused_with_a_reason(client, auth, admin):
    auth.login(admin)
    response = _import(client, b"\x00\x01garbage", "units.xlsx")
    assert response.status_code == 422 and "Excel" in response.get_data(as_text=True)


# --- who gets in --------------------------------------------------------------------------------


def test_only_admins_manage_units(client, auth, make_user, branch):
    pages = [
        "/admin/units",
        "/admin/units/new",
        "/admin/units/P11-PF",
        "/admin/units/import",
        "/admin/units/import/template.xlsx",
    ]
    posts = [
        "/admin/units/new",
        "/admin/units/P11-PF",
        "/admin/units/P11-PF/move",
        "/admin/units/P11-PF/retire",
        "/admin/units/P11-PF/restore",
        "/admin/units/import",
    ]
    for role, code in (("coordinator", "P11"), ("coordinator", "NHC"), ("reporter", "P11-PF"), ("leader", "NHC")):
        auth.login(make_user(role, code))
        for url in pages:
            assert client.get(url).status_code == 403, (role, url)
        for url in posts:
            assert client.post(url, data={"parent": "P12", "name": "x"}).status_code == 403, (role, url)
    db.session.expire_all()
    assert unit("P11-PF").parent_id == unit("P11").id


def test_the_list_is_a_tree_in_path_order_filtered_by_search_under_kind_and_state(client, auth, admin, branch):
    auth.login(admin)
    page = client.get("/admin/units?under=P11-PF").get_data(as_text=True)
    rows = [code for code in ("P11-PF", "P11-PF-C1", "P11-PF-C1-H", "P11-PF-C2") if f'data-code="{code}"' in page]
    assert rows == ["P11-PF", "P11-PF-C1", "P11-PF-C1-H", "P11-PF-C2"]
    at = {code: page.index(f'data-code="{code}"') for code in rows}
    # tree order: each unit right after its parent or its parent's subtree, never in another's
    assert at["P11-PF"] < min(at["P11-PF-C1"], at["P11-PF-C2"]) and at["P11-PF-C1"] < at["P11-PF-C1-H"]
    assert not at["P11-PF-C1"] < at["P11-PF-C2"] < at["P11-PF-C1-H"]
    fragment = client.get("/admin/units?q=某县", headers={"HX-Request": "true", "HX-Target": "results"})
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'data-code="P11-PF-C2"' in body and 'data-code="P11-PF-C1"' not in body
    assert 'data-code="P11-PF-C1-H"' in client.get("/admin/units?kind=institution&under=P11").get_data(as_text=True)
    with count_queries() as statements:
        client.get("/admin/units")
    assert statements() <= 12


# --- PostgreSQL: a unit with 10,000 tasks under it ---------------------------------------------------


def test_moving_a_unit_with_10000_tasks_keeps_paths_scope_and_figures_right_in_one_transaction(
    database_url, admin, make_unit, make_user
):
    requires_postgresql(database_url, "the 10,000-task move is measured on PostgreSQL")
    pref = make_unit("P11-MV", "P11", kind="commission", level="prefecture", name="迁移地市")
    hospitals = [make_unit(f"P11-MV-H{n}", "P11-MV", name=f"迁移医院{n}") for n in range(20)]
    plan = Plan(key="move-10k", title="迁移测试计划", issuer_unit=unit("NHC"))
    db.session.add(plan)
    db.session.flush()
    rows = [
        {
            "plan_id": plan.id,
            "ref": f"M{n}",
            "title": f"任务{n}",
            "owner_unit_id": hospitals[n % 20].id,
            "status": "accepted" if n % 4 == 0 else "not_started",
            "percent": 100 if n % 4 == 0 else 0,
            "progress": 100.0 if n % 4 == 0 else 0.0,
            "due_on": TODAY - timedelta(days=n % 30),
            "completed_on": TODAY - timedelta(days=40) if n % 4 == 0 else None,
            "weight": 1.0,
            "depth": 0,
            "path": "",
            "position": n,
            "origin": "manual",
            "co_owner_selectors": [],
            "description": "",
            "deliverable": "",
            "notes": "",
            "version": 1,
        }
        for n in range(10_000)
    ]
    db.session.execute(insert(Task), rows)
    db.session.execute(text("UPDATE tasks SET path = '/' || id || '/' WHERE plan_id = :p"), {"p": plan.id})
    summary.rebuild(TODAY)
    db.session.commit()
    beijing, tianjin = make_user("coordinator", "P11"), make_user("coordinator", "P12")
    p11, p12 = unit("P11"), unit("P12")

    def scoped(user) -> int:
        return db.session.scalar(
            select(func.count()).select_from(Task).where(Task.plan_id == plan.id, visible_tasks(user).whereclause)
        )

    def figures(u):
        (row,) = figures_by("self", u, "plan", TODAY, plan_id=plan.id) or [(None, None, 0, 0)]
        return int(row[2]), int(row[3])  # items, done

    assert scoped(beijing) == 10_000 and scoped(tianjin) == 0
    assert figures(p11) == (10_000, 2_500) and figures(p12)[0] == 0
    started = time.perf_counter()
    with count_queries() as statements:
        moved = units.move_unit(admin, pref, p12, "区划调整")
    elapsed = time.perf_counter() - started
    assert moved == 21 and statements() <= 10, statements.sql
    # within the same transaction, before it commits: everything already follows the new tree
    db.session.expire_all()
    assert (
        db.session.scalar(select(func.count()).select_from(OrgUnit).where(OrgUnit.path.like(f"{p12.path}{pref.id}/%")))
        == 21
    )
    assert scoped(tianjin) == 10_000 and scoped(beijing) == 0
    started = time.perf_counter()
    assert figures(p12) == (10_000, 2_500)  # the summary set aside: read from the tasks
    read = time.perf_counter() - started
    assert figures(p11)[0] == 0
    # one transaction: undone, nothing of the move is left
    db.session.rollback()
    db.session.expire_all()
    assert unit("P11-MV").parent_id == p11.id and scoped(beijing) == 10_000
    assert figures(p11) == (10_000, 2_500) and summary.ready(TODAY)
    # done again and committed: right at once, and after the scheduler's rebuild
    units.move_unit(admin, unit("P11-MV"), unit("P12"))
    db.session.commit()
    assert scoped(tianjin) == 10_000 and figures(unit("P12")) == (10_000, 2_500)
    assert summary.fold(TODAY) == -1
    db.session.commit()
    assert figures(unit("P12")) == (10_000, 2_500) and figures(unit("P11"))[0] == 0
    print(
        f"\nmoved a unit with 21 units and 10,000 tasks under it in {elapsed * 1000:.1f} ms, {statements()} statements;"
        f" the new parent's figures read from the tasks right after in {read * 1000:.1f} ms"
    )


def test_a_retired_unit_takes_no_new_cascade_children_from_the_web_or_the_seed_loader(admin, make_unit):
    from tracker.cascade.service import LIST, PROVINCES, CascadeError, TargetSpec, target_units
    from tracker.importer.seed import units_matching

    new_province = make_unit("P99", "NHC", kind="commission", level="provincial", name="某新设省卫生健康委")
    assert "P99" in {u.code for u in target_units(TargetSpec(PROVINCES), admin)}
    units.retire_unit(admin, new_province, "撤并")
    db.session.commit()
    assert "P99" not in {u.code for u in target_units(TargetSpec(PROVINCES), admin)}
    assert "P99" not in {u.code for u in units_matching({"kind": "commission", "level": "provincial"})}
    with pytest.raises(CascadeError, match="P99"):
        target_units(TargetSpec(LIST, codes=["P11", "P99"]), admin)


def test_the_active_searches_carry_real_htmx_attributes(client, auth, admin):
    """WTForms writes `hx_get=` as the attribute `hx_get`, which htmx ignores: the search inputs of
    the units and accounts lists name theirs with dashes."""
    auth.login(admin)
    for url in ("/admin/units", "/admin/users"):
        page = client.get(url).get_data(as_text=True)
        start = page.index('id="q"') if 'id="q"' in page else page.index('name="q"')
        tag = page[page.rfind("<input", 0, start) : page.index(">", start)]
        assert 'hx-get="' in tag and 'hx-trigger="input changed delay:300ms, search"' in tag, (url, tag)
        assert "hx_get" not in tag, url
