"""Forms of real notices the draft importer must read: dates without a year or as labels, ranges,
halves and quarters, owners by label or by 主办/承办/协办, in short documents written for the test."""

from __future__ import annotations

from datetime import date

import pytest

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan, to_seed
from tracker.importer.draft.dates import find_dates

UNITS = [
    CatalogueUnit("NHC", "国家卫生健康委", "commission", "national", None),
    CatalogueUnit("P44", "广东省卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("GZ", "广州市卫生健康委", "commission", "prefecture", "P44"),
    CatalogueUnit("SZ", "深圳市卫生健康委", "commission", "prefecture", "P44"),
    CatalogueUnit("FS", "佛山市卫生健康委", "commission", "prefecture", "P44"),
    CatalogueUnit("P44-QC", "广东省医疗质量控制中心", "qc_center", "provincial", "P44"),
]


@pytest.fixture
def catalogue():
    return Catalogue(UNITS)


def by_ref(draft):
    out = {}

    def visit(tasks):
        for task in tasks:
            out[task["ref"]] = task
            visit(task.get("children", []))

    visit(to_seed(draft)["tasks"])
    return out


@pytest.mark.parametrize(
    "text, due, start",
    [
        ("于8月15日前报送自查报告", date(2024, 8, 15), None),
        ("完成时限：6月底", date(2024, 6, 30), None),
        ("时间：2017年4月下旬", date(2017, 4, 30), None),
        ("4月上旬前完成", date(2024, 4, 10), None),
        ("5月中旬前上报", date(2024, 5, 20), None),
        ("2—4月完成摸底调查", date(2024, 4, 30), date(2024, 2, 1)),
        ("2023年5月至6月开展检查", date(2023, 6, 30), date(2023, 5, 1)),
        ("上半年完成评估", date(2024, 6, 30), date(2024, 1, 1)),
        ("2025年下半年完成验收", date(2025, 12, 31), date(2025, 7, 1)),
        ("一季度末前报送", date(2024, 3, 31), date(2024, 1, 1)),
        ("第三季度完成", date(2024, 9, 30), date(2024, 7, 1)),
        ("年内完成", date(2024, 12, 31), None),
    ],
)
def test_dates_in_the_forms_notices_use(text, due, start):
    hits = find_dates(text, 2024)
    assert [(h.due, h.start) for h in hits][:1] == [(due, start)]
    assert hits[0].deadline


def test_a_cadence_is_not_a_date():
    assert find_dates("每季度报送一次工作进展", 2024) == []


NOTICE = """\
广东省卫生健康委办公室关于开展医疗质量专项检查的通知
粤卫办医函〔2024〕31号
各地级以上市卫生健康委：
为做好医疗质量专项检查工作，现将有关事项通知如下。
一、自查阶段
各地级以上市卫生健康委组织辖区医疗机构开展自查，于8月15日前报送自查报告。
二、抽查阶段
（一）组织抽查。时间：9月下旬。牵头单位：广东省医疗质量控制中心；配合单位：广州市卫生健康委、深圳市卫生健康委。
（二）抽查总结。广州市卫生健康委牵头，佛山市卫生健康委配合，完成时限：10月底。
（三）通报结果。主办：广东省卫生健康委 协办：广东省医疗质量控制中心。完成时限：2024年12月31日前。
广东省卫生健康委办公室
2024年7月20日
"""


def test_a_notice_without_years_on_its_dates_takes_its_own_year(catalogue):
    refs = by_ref(draft_plan(NOTICE, catalogue, "notice"))
    assert refs["一"]["due"] == "2024-08-15"
    assert "gives no year: the document's year 2024 taken" in refs["一"]["notes"]
    assert refs["二.(一)"]["due"] == "2024-09-30"
    assert refs["二.(二)"]["due"] == "2024-10-31"
    assert refs["二.(三)"]["due"] == "2024-12-31"


def test_owners_by_label_lead_clause_and_host_with_helpers(catalogue):
    refs = by_ref(draft_plan(NOTICE, catalogue, "notice"))
    assert refs["二.(一)"]["owner"] == "P44-QC"
    assert refs["二.(一)"]["co_owners"] == ["GZ", "SZ"]
    assert refs["二.(二)"]["owner"] == "GZ"
    assert refs["二.(二)"]["co_owners"] == ["FS"]
    assert refs["二.(三)"]["owner"] == "P44"
    assert refs["二.(三)"]["co_owners"] == ["P44-QC"]


def test_several_responsible_units_are_owner_and_co_owners(catalogue):
    text = NOTICE.replace(
        "牵头单位：广东省医疗质量控制中心；配合单位：广州市卫生健康委、深圳市卫生健康委。",
        "责任单位：深圳市卫生健康委、佛山市卫生健康委。",
    )
    refs = by_ref(draft_plan(text, catalogue, "notice"))
    assert refs["二.(一)"]["owner"] == "SZ"
    assert refs["二.(一)"]["co_owners"] == ["FS"]


def test_the_signature_date_and_closing_words_are_not_text_of_the_last_item(catalogue):
    draft = draft_plan(NOTICE + "特此通知。\n", catalogue, "notice")
    last = by_ref(draft)["二.(三)"]
    assert "办公室" not in last["description"] and "特此通知" not in last["description"]
    assert "2024年7月20日" not in last["description"]
    assert draft["issued"] == "2024-07-20"
    assert draft["issuer"] == "广东省卫生健康委办公室"
    assert draft["doc_number"] == "粤卫办医函〔2024〕31号"


def test_a_duty_outside_every_item_is_named_not_dropped(catalogue):
    # A dated duty after the 附件 list (which closes the body) and one in the opening paragraph.
    text = NOTICE.replace(
        "为做好医疗质量专项检查工作，现将有关事项通知如下。",
        "为做好医疗质量专项检查工作，各地级以上市卫生健康委要于7月31日前确定联络员。现将有关事项通知如下。",
    )
    text += "附件：1.自查表\n请各地于11月30日前报送检查总结。\n"
    draft = draft_plan(text, catalogue, "notice")
    assert any("7月31日前确定联络员" in line for line in draft["unplaced"])
    assert any("11月30日前报送检查总结" in line for line in draft["unplaced"])
    assert not draft["fewer_items"]


def test_a_draft_with_fewer_items_than_numbered_headings_says_so(catalogue):
    # The same number twice at one place is read as a repeated copy: the draft says it kept fewer
    # items than the document numbers, and names the dated duty it left out.
    text = NOTICE.replace(
        "（三）通报结果。", "（二）补充材料。佛山市卫生健康委于11月15日前报送补充材料。\n（三）通报结果。"
    )
    draft = draft_plan(text, catalogue, "notice")
    assert draft["fewer_items"] and draft["numbered_lines"] == 6
    assert any("11月15日前报送补充材料" in line for line in draft["unplaced"])
    assert not draft_plan(NOTICE, catalogue, "notice")["fewer_items"]


def test_numbering_run_together_on_one_line_is_split_into_items(catalogue):
    one_line = NOTICE.replace("一、自查阶段\n", "一、自查阶段。").replace(
        "二、抽查阶段\n（一）组织抽查。", "二、抽查阶段。（一）组织抽查。"
    )
    assert one_line.count("\n") < NOTICE.count("\n")
    assert set(by_ref(draft_plan(one_line, catalogue, "n"))) == set(by_ref(draft_plan(NOTICE, catalogue, "n")))


def test_a_numbered_list_of_site_links_is_not_a_section(catalogue):
    page = "1.网站声明\n2.网站地图\n3.联系我们\n" + NOTICE
    refs = by_ref(draft_plan(page, catalogue, "n"))
    assert set(refs) == set(by_ref(draft_plan(NOTICE, catalogue, "n")))


def test_several_cadences_in_one_item_become_one_child_duty_each(catalogue):
    text = NOTICE.replace(
        "（三）通报结果。",
        "（三）评先评优。广东省医疗质量控制中心每月评选优秀单位，每季评选优秀个人。\n（四）通报结果。",
    )
    refs = by_ref(draft_plan(text, catalogue, "n"))
    children = refs["二.(三)"]["children"]
    assert [c["recurrence"] for c in children] == [
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1",
    ]
    assert "每月评选优秀单位" in children[0]["title"] and "每季评选优秀个人" in children[1]["title"]
    assert all(c["owner"] == "P44-QC" for c in children)


def test_two_quarters_named_together_span_both():
    hit = find_dates("一、二季度开展培训", 2024)[0]
    assert (hit.start, hit.due) == (date(2024, 1, 1), date(2024, 6, 30))
