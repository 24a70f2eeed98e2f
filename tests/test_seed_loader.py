"""The seed loader: validates whole files first, names the problem precisely, writes nothing on error."""

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.importer.schema import SeedError
from tracker.importer.seed import load_seed_files, seed_files
from tracker.models import IndicatorDefinition, JournalEntry, OrgUnit, Phase, Plan, Task

ROOT = Path(__file__).resolve().parent.parent


def good_plan() -> dict:
    return {
        "key": "test-plan",
        "title": "测试行动计划",
        "issuer_unit": "P13",
        "issued": "2025-03-01",
        "phases": [{"key": "startup", "name": "启动阶段", "start": "2025-03-01", "end": "2025-04-30"}],
        "indicators": [
            {
                "code": "COVERAGE",
                "name": "覆盖率",
                "unit": "%",
                "type": "percent",
                "target": {"op": ">=", "value": 80},
                "levels": ["county"],
                "task": "一.(一)",
            }
        ],
        "tasks": [
            {
                "ref": "一",
                "title": "总体要求",
                "children": [
                    {
                        "ref": "一.(一)",
                        "title": "制定方案",
                        "owner": "P13-QC",
                        "due": "2025-04-30",
                        "deliverable": "工作方案",
                        "phase": "startup",
                    },
                    {
                        "ref": "一.(二)",
                        "title": "月度例会",
                        "owner": {"each": {"kind": "qc_center", "level": "provincial"}},
                        "co_owners": ["P13"],
                        "recurrence": "FREQ=MONTHLY;BYMONTHDAY=-1",
                    },
                ],
            }
        ],
    }


def write(tmp_path: Path, data, name="test_plan.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def row_counts() -> tuple:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (OrgUnit, Plan, Phase, Task, JournalEntry, IndicatorDefinition)
    )


def refused(tmp_path, data, *expected_fragments, also: list[Path] = ()) -> str:
    before = row_counts()
    path = write(tmp_path, data)
    with pytest.raises(SeedError) as caught:
        load_seed_files([*also, path])
    message = "\n".join(caught.value.problems)
    for fragment in expected_fragments:
        assert fragment in message
    db.session.rollback()
    assert row_counts() == before, "nothing may be written when a file is refused"
    return message


def test_a_good_plan_loads_with_cascade_phase_and_indicator(tmp_path):
    report = load_seed_files([write(tmp_path, good_plan())])
    plan = db.session.scalar(select(Plan).where(Plan.key == "test-plan"))
    tasks = {t.ref: t for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))}
    assert tasks["一.(一)"].owner_unit.code == "P13-QC"
    assert tasks["一.(一)"].phase.key == "startup"
    template = tasks["一.(二)"]
    assert template.owner_selector == {"kind": "qc_center", "level": "provincial"}
    assert template.owner_unit.code == "P13"
    children = [t for t in tasks.values() if t.parent_id == template.id]
    assert len(children) == 32
    assert all(c.recurrence == "FREQ=MONTHLY;BYMONTHDAY=-1" and c.origin == "cascade" for c in children)
    assert tasks["一.(二)@P11-QC"].owner_unit.name == "北京市肿瘤质控中心"
    assert tasks["一.(二)@P11-QC"].path == f"{template.path}{tasks['一.(二)@P11-QC'].id}/"
    assert report.tasks_created == 3 + 32


def test_loading_twice_changes_nothing(tmp_path):
    path = write(tmp_path, good_plan())
    load_seed_files([path])
    db.session.commit()
    before = row_counts()
    versions = dict(db.session.execute(select(Task.ref, Task.version)).all())
    report = load_seed_files([path])
    db.session.commit()
    assert not report.changed
    assert row_counts() == before
    assert dict(db.session.execute(select(Task.ref, Task.version)).all()) == versions


def test_all_seed_files_load_twice_without_change():
    report = load_seed_files(seed_files(ROOT / "seed_plans"))
    assert not report.changed
    assert len(report.plans) == 5


def test_a_changed_due_date_is_updated_and_journaled(tmp_path):
    data = good_plan()
    load_seed_files([write(tmp_path, data)])
    data["tasks"][0]["children"][0]["due"] = "2025-05-15"
    report = load_seed_files([write(tmp_path, data)])
    task = db.session.scalar(select(Task).where(Task.ref == "一.(一)", Task.plan.has(key="test-plan")))
    assert str(task.due_on) == "2025-05-15"
    assert report.tasks_updated == 1
    entry = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id == task.id, JournalEntry.field == "due_on")
    ).one()
    assert (entry.old_value, entry.new_value) == ("2025-04-30", "2025-05-15")


def test_bad_date_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["due"] = "2025-02-30"
    message = refused(tmp_path, data)
    assert message == (
        "test_plan.yaml: tasks[0](ref 一).children[0](ref 一.(一)).due: '2025-02-30' is not a valid date (YYYY-MM-DD)"
    )


def test_unknown_owner_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["owner"] = "P99-QC"
    refused(
        tmp_path, data, "test_plan.yaml: tasks[0](ref 一).children[0](ref 一.(一)).owner: unknown unit code 'P99-QC'"
    )


def test_unknown_selector_kind_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][1]["owner"] = {"each": {"kind": "hospital"}}
    refused(tmp_path, data, "children[1](ref 一.(二)).owner.each.kind: unknown kind 'hospital'")


def test_duplicate_ref_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][1]["ref"] = "一.(一)"
    refused(
        tmp_path,
        data,
        "children[1](ref 一.(一)).ref: duplicate ref '一.(一)' (first at tasks[0](ref 一).children[0](ref 一.(一)))",
    )


def test_missing_title_is_refused(tmp_path):
    data = good_plan()
    del data["tasks"][0]["children"][0]["title"]
    refused(tmp_path, data, "test_plan.yaml: tasks[0](ref 一).children[0](ref 一.(一)).title: is required")


def test_wrong_type_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"] = {"ref": "一.(一)"}
    refused(tmp_path, data, "test_plan.yaml: tasks[0](ref 一).children: expected a list, got a mapping")


def test_wrong_weight_type_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["weight"] = "heavy"
    refused(tmp_path, data, "children[0](ref 一.(一)).weight: expected a number greater than 0")


def test_unknown_phase_and_bad_rrule_are_both_reported(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["phase"] = "evaluation"
    data["tasks"][0]["children"][1]["recurrence"] = "FREQ=SOMETIMES"
    message = refused(tmp_path, data, "phase: unknown phase 'evaluation'", "recurrence: invalid RRULE 'FREQ=SOMETIMES'")
    assert len(message.splitlines()) == 2


def test_unknown_field_is_refused(tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["deadline"] = "2025-04-30"
    refused(tmp_path, data, "children[0](ref 一.(一)).deadline: unknown field")


def test_invalid_yaml_is_refused_with_its_line(tmp_path):
    refused(tmp_path, "key: x\ntasks: [unclosed\n", "test_plan.yaml: line 3: invalid YAML")


def test_indicator_with_a_bad_target_is_refused(tmp_path):
    data = good_plan()
    data["indicators"][0]["target"] = {"op": "between", "min": 25, "max": 20}
    refused(tmp_path, data, "indicators[0](code COVERAGE).target: max is below min")


def test_one_bad_file_stops_the_good_ones_too(tmp_path):
    good = write(tmp_path, good_plan(), "good.yaml")
    bad = good_plan()
    bad["key"] = "other-plan"
    bad["tasks"][0]["title"] = ""
    refused(tmp_path, bad, "test_plan.yaml: tasks[0](ref 一).title: is required", also=[good])
    assert db.session.scalar(select(Plan).where(Plan.key == "test-plan")) is None


def test_units_file_errors_are_named(tmp_path):
    units = {
        "units": [
            {"code": "X1", "name": "甲", "kind": "commission", "level": "nowhere"},
            {"code": "X1", "name": "乙", "kind": "commission", "level": "county"},
        ]
    }
    before = row_counts()
    with pytest.raises(SeedError) as caught:
        load_seed_files([write(tmp_path, units, "units.yaml")])
    assert caught.value.problems == [
        "units.yaml: units[0].level: unknown level 'nowhere' (one of national, provincial, prefecture, county, institution)",
        "units.yaml: units[1].code: duplicate code 'X1' (first at units[0])",
    ]
    assert row_counts() == before


def test_cli_refuses_a_bad_file_with_exit_1_and_one_line_per_problem(runner, tmp_path):
    data = good_plan()
    data["tasks"][0]["children"][0]["due"] = "2025-13-01"
    before = row_counts()
    result = runner.invoke(args=["seed", "load", str(write(tmp_path, data))])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: test_plan.yaml: tasks[0](ref 一).children[0](ref 一.(一)).due: '2025-13-01' is not a valid date (YYYY-MM-DD)"
    )
    assert row_counts() == before


def test_cli_loads_and_reports(runner, tmp_path):
    result = runner.invoke(args=["seed", "load", str(write(tmp_path, good_plan()))])
    assert result.exit_code == 0, result.output
    assert "plans: test-plan" in result.output
    assert "tasks: 35 created" in result.output
