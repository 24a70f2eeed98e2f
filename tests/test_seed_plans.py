"""Concrete facts of the five seed plans, read back through `flask plans export` (the JSON other tools read)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Callable, Iterator

import pytest

PROVINCES = 32  # 31 provinces + 新疆生产建设兵团


@pytest.fixture(scope="module")
def exported(app):
    runner = app.test_cli_runner()
    cache: dict[str, dict] = {}

    def get(key: str) -> dict:
        if key not in cache:
            result = runner.invoke(args=["plans", "export", key, "--format", "json"])
            assert result.exit_code == 0, result.output
            cache[key] = json.loads(result.output)
        return cache[key]

    return get


def walk(nodes: list[dict]) -> Iterator[dict]:
    for node in nodes:
        yield node
        yield from walk(node["children"])


def find(plan: dict, predicate: Callable[[dict], bool]) -> list[dict]:
    return [node for node in walk(plan["tasks"]) if predicate(node)]


def one(plan: dict, predicate: Callable[[dict], bool]) -> dict:
    found = find(plan, predicate)
    assert len(found) == 1, [(n["ref"], n["title"]) for n in found]
    return found[0]


def each(node: dict) -> tuple:
    group = node["owner_each"] or {}
    return (group.get("kind"), group.get("level"), group.get("under"))


def cascaded_owner_codes(node: dict) -> list[str]:
    return sorted(child["owner"]["code"] for child in node["children"] if "@" in child["ref"])


# -- 000 肿瘤诊疗质量提升行动计划 -------------------------------------------------------------------


def test_tumor_plan_header_is_repaired(exported):
    plan = exported("tumor-2021")
    assert plan["doc_number"] == "国卫办医函〔2021〕513号"
    assert plan["issued"] == "2021-09-26"
    assert plan["issuer_unit"]["code"] == "NHC"
    assert [t["ref"] for t in plan["tasks"]] == ["一", "二", "三", "四", "五", "六", "七", "八"]
    assert len(plan["repairs"]) >= 2


def test_tumor_provincial_work_plan_is_due_end_of_october_2021_for_each_provincial_commission(exported):
    plan = exported("tumor-2021")
    task = one(plan, lambda n: n["due"] == "2021-10-31" and each(n)[:2] == ("commission", "provincial"))
    assert "方案" in (task["deliverable"] or "")
    codes = cascaded_owner_codes(task)
    assert len(codes) == PROVINCES
    assert all(code.startswith("P") and "-" not in code for code in codes)
    assert all(child["due"] == "2021-10-31" for child in task["children"] if "@" in child["ref"])


def test_tumor_institutional_rules_are_due_by_the_end_of_2021(exported):
    plan = exported("tumor-2021")
    year_end = find(plan, lambda n: n["due"] == "2021-12-31" and "@" not in n["ref"])
    assert year_end
    assert any(each(n)[0] == "institution" for n in year_end)


def test_tumor_national_duties_belong_to_the_national_commission(exported):
    plan = exported("tumor-2021")
    national = find(plan, lambda n: n["owner"] and n["owner"]["code"] in {"NHC", "NHC-MA"} and not n["owner_each"])
    assert national


# -- 001 国家肿瘤规范化诊疗质控工作 2024 年工作要点 ---------------------------------------------------


def test_ncc_death_case_review_plan_is_due_22_april_2024_for_each_provincial_qc_centre(exported):
    plan = exported("ncc-qc-2024")
    task = one(plan, lambda n: "死亡病例抽查工作计划" in n["title"] and "@" not in n["ref"])
    assert task["due"] == "2024-04-22"
    assert each(task)[:2] == ("qc_center", "provincial")
    codes = cascaded_owner_codes(task)
    assert len(codes) == PROVINCES and all(code.endswith("-QC") for code in codes)


def test_ncc_death_case_review_report_is_due_end_of_november_2024(exported):
    plan = exported("ncc-qc-2024")
    reports = find(plan, lambda n: n["due"] == "2024-11-30" and "@" not in n["ref"])
    assert reports
    assert any("报告" in (n["deliverable"] or "") for n in reports)


def test_ncc_seventeen_single_disease_items_each_belong_to_their_committee(exported):
    plan = exported("ncc-qc-2024")
    committee_items = find(
        plan,
        lambda n: (
            n["owner"]
            and n["owner"]["code"].startswith("NCC-")
            and n["owner"]["code"] != "NCC-QC"
            and not n["owner_each"]
        ),
    )
    owners = Counter(n["owner"]["code"] for n in committee_items)
    assert len(owners) == 17
    for node in committee_items:
        disease = node["owner"]["name"].removeprefix("国家癌症中心").split("质控")[0]
        assert disease in node["title"] + (node["description"] or ""), (node["ref"], disease)


def test_ncc_coverage_targets_are_indicators(exported):
    plan = exported("ncc-qc-2024")
    targets = {i["code"]: i["target"] for i in plan["indicators"]}
    assert {"op": ">=", "value": 90} in targets.values()
    assert {"op": "between", "min": 20, "max": 25} in targets.values()


def test_ncc_spot_checks_recur(exported):
    plan = exported("ncc-qc-2024")
    rules = {n["recurrence"] for n in walk(plan["tasks"]) if n["recurrence"]}
    assert any("FREQ=MONTHLY;" in r and "INTERVAL" not in r for r in rules)
    assert any("INTERVAL=3" in r for r in rules)


# -- 002 2021 年全国医政工作会议 ----------------------------------------------------------------------


def test_med_admin_plan_has_five_themes_and_is_tracked_without_deadlines(exported):
    plan = exported("med-admin-2021")
    assert len(plan["tasks"]) == 5
    nodes = list(walk(plan["tasks"]))
    assert len(nodes) > 15
    assert all(node["status"] == "not_started" for node in nodes)


# -- 003 全面提升医疗质量行动计划（2023-2025年） ------------------------------------------------------


def test_quality_plan_has_three_phases_with_the_dates_of_the_text(exported):
    plan = exported("quality-2023")
    assert [(p["start"], p["end"]) for p in plan["phases"]] == [
        ("2023-05-01", "2023-06-30"),
        ("2023-06-01", "2025-09-30"),
        ("2025-10-01", "2025-12-31"),
    ]


def test_quality_plan_counts_measures_1_to_25_once(exported):
    plan = exported("quality-2023")
    refs = [n["ref"] for n in walk(plan["tasks"])]
    assert len(refs) == len(set(refs))
    measures = [
        r for r in refs if r.split(".")[-1].isdigit() and 1 <= int(r.split(".")[-1]) <= 25 and r.count(".") == 1
    ]
    assert sorted(int(r.split(".")[-1]) for r in measures) == list(range(1, 26))


def test_quality_plan_recurring_duties(exported):
    plan = exported("quality-2023")
    rules = {n["recurrence"] for n in walk(plan["tasks"]) if n["recurrence"]}
    assert any(r.startswith("FREQ=WEEKLY") for r in rules)
    assert any(r.startswith("FREQ=MONTHLY") and "INTERVAL" not in r for r in rules)
    assert any("INTERVAL=3" in r for r in rules)


# -- 004 吴忠市 2016-2017 年度提升医疗质量实施方案 -------------------------------------------------------


def test_wuzhong_summary_reports_are_due_on_the_three_dates(exported):
    plan = exported("wuzhong-2016")
    assert plan["doc_number"] == "吴卫计发〔2016〕391号"
    for due in ("2016-12-12", "2017-06-12", "2017-11-10"):
        reports = find(plan, lambda n, due=due: n["due"] == due and "@" not in n["ref"])
        assert reports, due
        assert any(n["deliverable"] for n in reports), due


def test_wuzhong_annex_form_fields_carry_their_units(exported):
    plan = exported("wuzhong-2016")
    units = {i["unit"] for i in plan["indicators"]}
    assert {"个", "项", "例次", "%", "家", "元"} <= units
    assert any(i["parent"] for i in plan["indicators"])
    assert all(i["levels"] for i in plan["indicators"])
