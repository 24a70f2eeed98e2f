"""Indicator forms: periods, validation, submission and approval, aggregation, completeness,
escalation of overdue forms. Services are called without the client."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import count_queries, unit
from tracker.extensions import db
from tracker.indicators import service
from tracker.indicators.aggregate import aggregate
from tracker.indicators.service import FormInvalid, FormLocked, IndicatorError, open_period, save_form
from tracker.indicators.validation import build_layout, check_form, meets_target
from tracker.models import Escalation, IndicatorDefinition, IndicatorForm, JournalEntry, Plan, Task
from tracker.plans.operations import NotAllowed
from tracker.tasks.escalation import escalate

UTC = timezone.utc


@pytest.fixture(autouse=True)
def english(app):
    """Messages in English (the msgids), as a request would have them."""
    with app.test_request_context(), force_locale("en"):
        yield


def wuzhong() -> Plan:
    return db.session.scalar(select(Plan).where(Plan.key == "wuzhong-2016"))


def form_of(period, code: str) -> IndicatorForm:
    return db.session.scalar(
        select(IndicatorForm).where(IndicatorForm.period_id == period.id, IndicatorForm.unit_id == unit(code).id)
    )


@pytest.fixture
def wz_coord(make_user):
    return make_user("coordinator", "WZ")


@pytest.fixture
def county_period(wz_coord):
    """Wuzhong's second-half 2016 round for the five county bureaus, due 2016-12-12 (三.(三).1)."""
    period = open_period(wuzhong(), wz_coord, "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ"))
    db.session.commit()
    return period


FULL = {
    "v-QC_CENTERS": "3",
    "v-EQA_ITEMS": "12",
    "v-MUTUAL_RECOG_L3": "20",
    "v-MUTUAL_RECOG_L3_L2": "8",
    "v-REMOTE_CONSULTS": "100",
    "v-REMOTE_PATHOLOGY": "30",
    "v-REMOTE_IMAGING": "50",
    "v-REMOTE_COUNTY_HOSPITALS": "2",
    "v-GRASSROOTS_TRAINING": "340",
    "v-CONTINUITY_DISEASES": "4",
    "v-CHRONIC_CONTINUITY_INSTITUTIONS": "5",
    "v-COST_MGMT_INSTITUTIONS": "2",
    "v-IO_MODELS": "3",
    "v-DS_SAFETY_RULES": "2",
    "v-DS_CATALOGUE_PUBLIC": "1",
    "v-DS_DISEASES": "6",
    "v-DS_TECHNIQUES": "4",
    "v-DS_CASES": "120",
    "v-DS_GENERAL_ANAESTHESIA_RATE": "35.5",
    "v-DS_COMPLICATION_RATE": "1.2",
    "v-DS_ADMISSION_48H_RATE": "0.8",
    "v-DS_FOLLOW_UP_RATE": "96",
    "v-COUNTY_PUBLIC_HOSPITALS": "2",
    "v-PRIVATE_HOSPITALS": "6",
    "v-INTERVENTION_RATE": "50",
    "v-ENDOSCOPY_RATE": "25",
    "v-DIALYSIS_RATE": "75",
    "v-COUNTY_PRIVATE_STAFF_TRAINING": "210",
}


# --- periods -----------------------------------------------------------------------------------


def test_a_city_coordinator_opens_a_half_year_for_its_five_county_bureaus(county_period):
    forms = db.session.scalars(select(IndicatorForm).where(IndicatorForm.period_id == county_period.id)).all()
    assert sorted(f.unit.code for f in forms) == ["WZ-HSB", "WZ-LT", "WZ-QTX", "WZ-TX", "WZ-YC"]
    assert (county_period.start_on, county_period.end_on, county_period.key) == (
        date(2016, 7, 1),
        date(2016, 12, 31),
        "2016H2",
    )
    task = form_of(county_period, "WZ-LT").task
    assert (task.origin, task.owner_unit.code, task.due_on, task.status) == (
        "indicator_form",
        "WZ-LT",
        date(2016, 12, 12),
        "not_started",
    )
    assert task.parent.ref == "IND-2016H2-county" and task.ref == "IND-2016H2-county@WZ-LT"
    assert task.path == f"{task.parent.path}{task.id}/"


def test_the_form_of_a_county_holds_the_whole_annex(county_period):
    layout = service.layout_for(county_period)
    assert len(layout.fields) == 66
    assert [g.name for g in layout.groups][:2] == ["医疗质量管理与控制体系建设", "疾病诊疗质量连续化管理"]
    assert [c.code for c in layout.by_code["DS_CASES"].children] == ["DS_CASES_L3", "DS_CASES_L2"]


def test_opening_a_period_is_refused_for_bad_input_and_twice(wz_coord, county_period, make_user):
    plan = wuzhong()
    with pytest.raises(IndicatorError, match="already open"):
        open_period(plan, wz_coord, "half", 2016, 2, date(2016, 12, 12), "county", unit("WZ"))
    with pytest.raises(IndicatorError):
        open_period(plan, wz_coord, "quarter", 2017, 5, date(2017, 12, 12), "county", unit("WZ"))
    with pytest.raises(IndicatorError):
        open_period(plan, wz_coord, "year", 2017, 1, date(2017, 12, 12), "national", unit("WZ"))
    with pytest.raises(NotAllowed):
        open_period(plan, make_user("reporter", "WZ-LT"), "year", 2017, 1, date(2018, 1, 15), "county", unit("WZ"))
    with pytest.raises(NotAllowed):
        open_period(plan, wz_coord, "year", 2017, 1, date(2018, 1, 15), "county", unit("P11"))


# --- validation --------------------------------------------------------------------------------


@pytest.fixture
def layout(county_period):
    return service.layout_for(county_period)


@pytest.mark.parametrize(
    "code, raw, message",
    [
        ("QC_CENTERS", "abc", "'abc' is not a number."),
        ("QC_CENTERS", "2.5", "A count is a whole number of 0 or more."),
        ("QC_CENTERS", "-1", "A count is a whole number of 0 or more."),
        ("DS_TOP_COST_1", "-3", "An amount cannot be negative."),
        ("DS_FOLLOW_UP_RATE", "101", "A percentage lies between 0 and 100."),
        ("DS_FOLLOW_UP_RATE", "-0.5", "A percentage lies between 0 and 100."),
    ],
)
def test_each_value_rule_refuses_a_bad_value_with_a_message(layout, code, raw, message):
    result = check_form(layout, {f"v-{code}": raw})
    assert result.errors == {code: message}


def test_a_percent_sign_and_thousands_separators_are_accepted(layout):
    result = check_form(layout, {"v-DS_FOLLOW_UP_RATE": "96.5%", "v-GRASSROOTS_TRAINING": "1,340"})
    assert result.errors == {}
    assert (result.numbers["DS_FOLLOW_UP_RATE"], result.numbers["GRASSROOTS_TRAINING"]) == (96.5, 1340)


def test_a_breakdown_is_never_above_its_total(layout):
    result = check_form(layout, {"v-REMOTE_CONSULTS": "10", "v-REMOTE_PATHOLOGY": "12"})
    assert result.errors == {"REMOTE_PATHOLOGY": "Above its total, 年度开展远程会诊病例数量 (10)."}
    # "其中死亡率" is a subset of the complication rate
    result = check_form(layout, {"v-DS_COMPLICATION_RATE": "1.2", "v-DS_MORTALITY_RATE": "2"})
    assert list(result.errors) == ["DS_MORTALITY_RATE"]


def test_split_breakdowns_add_up_to_at_most_their_total(layout):
    result = check_form(layout, {"v-DS_CASES": "100", "v-DS_CASES_L3": "60", "v-DS_CASES_L2": "50"})
    assert result.errors == {
        "DS_CASES_L3": "The breakdowns add up to 110, above the total 100.",
        "DS_CASES_L2": "The breakdowns add up to 110, above the total 100.",
    }
    assert check_form(layout, {"v-DS_CASES": "100", "v-DS_CASES_L3": "60", "v-DS_CASES_L2": "40"}).errors == {}


def test_a_rate_per_grade_is_not_bounded_by_the_overall_rate(layout):
    result = check_form(layout, {"v-DS_FOLLOW_UP_RATE": "90", "v-DS_FOLLOW_UP_RATE_L3": "98"})
    assert result.errors == {}


def test_a_per_disease_row_names_an_icd10_code(layout):
    result = check_form(layout, {"v-DOWN_REFERRAL_RATE_1": "12", "i-DOWN_REFERRAL_RATE_1": "hypertension"})
    assert result.errors == {
        "item:DOWN_REFERRAL_RATE_1": "'HYPERTENSION' is not a valid ICD10 code (for example I63.9)."
    }
    result = check_form(layout, {"v-DOWN_REFERRAL_RATE_1": "12", "i-DOWN_REFERRAL_RATE_1": "i10"})
    assert result.errors == {} and result.items["DOWN_REFERRAL_RATE_1"] == "I10"
    result = check_form(layout, {"i-COST_DROP_TECHNIQUE_1": "45.23"})
    assert result.errors == {}


def test_submission_requires_every_top_level_field(layout):
    result = check_form(layout, {"v-QC_CENTERS": "3"}, complete=True)
    assert result.errors["EQA_ITEMS"] == "Required."
    assert "QC_CENTERS" not in result.errors
    assert "REMOTE_PATHOLOGY" not in result.errors  # a breakdown is optional
    assert "DS_TOP_COST" not in result.errors  # the head of a list of items
    assert check_form(layout, FULL, complete=True).errors == {}


# --- saving, submission, approval ----------------------------------------------------------


def test_a_bad_value_saves_nothing(county_period, make_user):
    reporter = make_user("reporter", "WZ-LT")
    form = form_of(county_period, "WZ-LT")
    with pytest.raises(FormInvalid) as refused:
        save_form(form, reporter, {"v-QC_CENTERS": "3", "v-EQA_ITEMS": "many"})
    assert refused.value.errors == {"EQA_ITEMS": "'many' is not a number."}
    db.session.rollback()
    assert service.form_values(form).numbers == {}
    assert form.task.status == "not_started"


def test_a_reporter_saves_a_draft_then_submits_and_each_change_is_journaled(county_period, make_user):
    reporter = make_user("reporter", "WZ-LT")
    form = form_of(county_period, "WZ-LT")
    save_form(form, reporter, {"v-QC_CENTERS": "3"})
    db.session.commit()
    assert (form.status, form.task.status) == ("draft", "in_progress")
    assert service.form_values(form).numbers["QC_CENTERS"] == 3
    with pytest.raises(FormInvalid) as refused:
        save_form(form, reporter, {"v-QC_CENTERS": "3"}, submit=True)
    assert refused.value.errors["EQA_ITEMS"] == "Required."
    save_form(form, reporter, FULL, submit=True, now=datetime(2016, 12, 10, 2, tzinfo=UTC))
    db.session.commit()
    assert (form.status, form.task.status) == ("submitted", "submitted")
    assert form.first_submitted_at == datetime(2016, 12, 10, 2, tzinfo=UTC)
    journal = db.session.scalars(
        select(JournalEntry).where(JournalEntry.task_id == form.task_id, JournalEntry.field == "EQA_ITEMS")
    ).all()
    assert [(j.old_value, j.new_value) for j in journal] == [(None, "12")]


def test_approve_locks_the_form_and_return_unlocks_it(county_period, make_user, wz_coord):
    reporter = make_user("reporter", "WZ-LT")
    form = form_of(county_period, "WZ-LT")
    save_form(form, reporter, FULL, submit=True)
    with pytest.raises(FormLocked):
        save_form(form, reporter, FULL)
    with pytest.raises(NotAllowed):  # a unit does not review its own form
        service.approve_form(form, make_user("coordinator", "WZ-LT"))
    with pytest.raises(IndicatorError, match="reason"):
        service.return_form(form, wz_coord, "  ")
    service.return_form(form, wz_coord, "病种编码缺失")
    db.session.commit()
    assert (form.status, form.task.status, form.return_reason) == ("returned", "returned", "病种编码缺失")
    save_form(form, reporter, dict(FULL, **{"v-QC_CENTERS": "4"}), submit=True)
    service.approve_form(form, wz_coord)
    db.session.commit()
    assert (form.status, form.task.status) == ("approved", "accepted")
    with pytest.raises(FormLocked, match="locked"):
        save_form(form, reporter, dict(FULL, **{"v-QC_CENTERS": "5"}))
    assert service.form_values(form).numbers["QC_CENTERS"] == 4


def test_a_leader_and_another_county_cannot_fill_the_form(county_period, make_user):
    form = form_of(county_period, "WZ-LT")
    with pytest.raises(NotAllowed):
        save_form(form, make_user("leader", "NHC"), FULL)
    with pytest.raises(NotAllowed):
        save_form(form, make_user("reporter", "WZ-YC"), FULL)


# --- aggregation -------------------------------------------------------------------------------


@pytest.fixture
def rate_plan(make_unit):
    """A plan with a derived rate: follow-ups / operations, target >= 90 %, reported by three
    hospitals under two districts of one city."""
    plan = Plan(key="rate-plan", title="随访率计划", issuer_unit=unit("WZ"))
    db.session.add(plan)
    db.session.flush()
    for position, (code, name, type_, extra) in enumerate(
        [
            ("OPS", "手术例数", "count", {}),
            ("FOLLOWED", "随访例数", "count", {"parent_code": "OPS"}),
            (
                "FOLLOW_RATE",
                "随访率",
                "percent",
                {"numerator_code": "FOLLOWED", "denominator_code": "OPS", "target_op": ">=", "target_value": 90.0},
            ),
            ("SATISFACTION", "满意度", "percent", {}),
        ]
    ):
        parent = extra.pop("parent_code", None)
        definition = IndicatorDefinition(
            plan=plan,
            code=code,
            name=name,
            unit="%" if type_ == "percent" else "例",
            type=type_,
            levels=["institution"],
            group="随访",
            position=position,
            **extra,
        )
        if parent:
            definition.parent = db.session.scalar(
                select(IndicatorDefinition).where(
                    IndicatorDefinition.plan_id == plan.id, IndicatorDefinition.code == parent
                )
            )
        db.session.add(definition)
        db.session.flush()
    db.session.commit()
    return plan


def _report(period, code, values, user, approve_by=None):
    form = form_of(period, code)
    save_form(form, user, values, submit=True)
    if approve_by:
        service.approve_form(form, approve_by)
    return form


def test_a_rate_aggregated_over_three_units_equals_the_rate_of_the_sums(rate_plan, make_user, wz_coord):
    period = open_period(rate_plan, wz_coord, "year", 2017, 1, date(2018, 1, 15), "institution", unit("WZ"))
    admin = make_user("admin", "NHC")
    figures = {"WZ-LT-H": (100, 99, 80), "WZ-YC-H": (10, 5, 90), "WZ-TX-H": (50, 45, 70)}
    for code, (ops, followed, satisfaction) in figures.items():
        _report(
            period, code, {"v-OPS": str(ops), "v-FOLLOWED": str(followed), "v-SATISFACTION": str(satisfaction)}, admin
        )
    db.session.commit()
    city = unit("WZ")
    with count_queries() as statements:
        table = aggregate(period, city)
    assert statements() <= 5
    rows = {r.field.code: r for r in table.rows}
    assert rows["OPS"].total.value == 160 and rows["FOLLOWED"].total.value == 149
    assert rows["FOLLOW_RATE"].total.value == pytest.approx(149 * 100 / 160)  # 93.125, not the mean 83.0
    assert rows["FOLLOW_RATE"].total.meets is True
    assert rows["SATISFACTION"].total.summed is False  # a typed rate is never averaged
    by_column = {c.code: cell for c, cell in zip(table.columns, rows["FOLLOW_RATE"].cells)}
    assert by_column["WZ-YC"].value == 50.0 and by_column["WZ-YC"].meets is False
    assert by_column["WZ-LT"].value == 99.0 and by_column["WZ-LT"].meets is True
    satisfaction = {c.code: cell.value for c, cell in zip(table.columns, rows["SATISFACTION"].cells)}
    assert satisfaction["WZ-TX"] == 70  # one form in the column: its own value
    assert [c.code for c in table.columns] == ["WZ-LT", "WZ-YC", "WZ-TX"]
    assert aggregate(period, unit("WZ"), approved_only=True).total_forms == 0


def test_counts_are_summed_up_the_tree(county_period, make_user, wz_coord):
    for code, qc in (("WZ-LT", "3"), ("WZ-YC", "2")):
        _report(county_period, code, dict(FULL, **{"v-QC_CENTERS": qc}), make_user("reporter", code), wz_coord)
    db.session.commit()
    table = aggregate(county_period, unit("WZ"), approved_only=True)
    rows = {r.field.code: r for r in table.rows}
    assert rows["QC_CENTERS"].total.value == 5 and rows["DS_CASES"].total.value == 240
    assert table.total_forms == 2


def test_meets_target_handles_between(rate_plan):
    coverage = db.session.scalar(select(IndicatorDefinition).where(IndicatorDefinition.code == "QC_COVERAGE_COUNTY"))
    assert (meets_target(coverage, 22), meets_target(coverage, 26), meets_target(coverage, None)) == (True, False, None)


# --- completeness and timeliness ---------------------------------------------------------------


def test_completeness_and_timeliness_on_a_hand_built_case(county_period, make_user, wz_coord):
    # LT on time (the due day itself, 23:00 Beijing) and approved; YC late; TX submitted on time;
    # HSB and QTX never submit.
    on_due_day = datetime(2016, 12, 12, 15, 0, tzinfo=UTC)  # 2016-12-12 23:00 Asia/Shanghai
    late = datetime(2016, 12, 12, 16, 30, tzinfo=UTC)  # 2016-12-13 00:30 Asia/Shanghai
    for code, when in (("WZ-LT", on_due_day), ("WZ-YC", late), ("WZ-TX", datetime(2016, 12, 1, tzinfo=UTC))):
        save_form(form_of(county_period, code), make_user("reporter", code), FULL, submit=True, now=when)
    service.approve_form(form_of(county_period, "WZ-LT"), wz_coord)
    db.session.commit()
    city = unit("WZ")
    with count_queries() as statements:
        table = service.completeness(county_period, city, today=date(2016, 12, 20))
    assert statements() <= 4
    total = table.total
    assert (total.expected, total.submitted, total.on_time, total.approved, total.overdue) == (5, 3, 2, 1, 2)
    assert (total.completeness, total.timeliness) == (60.0, 40.0)
    rows = {r.unit.code: (r.expected, r.submitted, r.on_time, r.approved, r.overdue) for r in table.rows}
    assert rows == {
        "WZ-LT": (1, 1, 1, 1, 0),
        "WZ-YC": (1, 1, 0, 0, 0),
        "WZ-TX": (1, 1, 1, 0, 0),
        "WZ-HSB": (1, 0, 0, 0, 1),
        "WZ-QTX": (1, 0, 0, 0, 1),
    }
    county = service.completeness(county_period, unit("WZ-YC"), today=date(2016, 12, 20))
    assert [(r.unit.code, r.submitted, r.on_time) for r in county.rows] == [("WZ-YC", 1, 0)]


# --- escalation --------------------------------------------------------------------------------


def test_an_overdue_form_escalates_like_a_task_and_a_submitted_one_does_not(county_period, make_user):
    save_form(form_of(county_period, "WZ-LT"), make_user("reporter", "WZ-LT"), FULL, submit=True)
    db.session.commit()
    escalate(datetime(2016, 12, 13, 1, 0, tzinfo=UTC))  # one day overdue
    fired = db.session.scalars(select(Escalation).join(Task).where(Task.origin == "indicator_form")).all()
    owners = sorted(e.task.owner_unit.code for e in fired if e.level == "overdue")
    assert owners == ["WZ-HSB", "WZ-QTX", "WZ-TX", "WZ-YC"]


def test_a_derived_rate_is_computed_and_its_numerator_never_exceeds_its_denominator(rate_plan):
    layout = build_layout(service.definitions_of(rate_plan.id, "institution"))
    result = check_form(layout, {"v-OPS": "40", "v-FOLLOWED": "30"})
    assert result.errors == {} and result.numbers["FOLLOW_RATE"] == 75.0
    result = check_form(layout, {"v-OPS": "40", "v-FOLLOWED": "50"})
    assert result.errors == {"FOLLOWED": "Above its total, 手术例数 (40)."}
    # without the "其中" link the rate's own rule speaks
    layout.by_code["FOLLOWED"].parent = None
    layout.by_code["OPS"].children = []
    result = check_form(layout, {"v-OPS": "40", "v-FOLLOWED": "50"})
    assert result.errors == {"FOLLOWED": "Above its denominator (40): the rate 随访率 would exceed 100 %."}
