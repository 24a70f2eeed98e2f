"""Drafting a plan from its document: short documents of the genre, written for these tests
(other numbering, dates and units than the seed documents)."""

from __future__ import annotations

import io
from datetime import date

import pytest
import yaml

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan, read_document, to_seed
from tracker.importer.draft.dates import find_cadence, find_dates
from tracker.importer.draft.numbering import parse_marker
from tracker.importer.draft.text import normalise
from tracker.importer.schema import parse_plan_file

UNITS = [
    CatalogueUnit("NHC", "国家卫生健康委", "commission", "national", None),
    CatalogueUnit("NHC-MA", "国家卫生健康委医政司", "commission", "national", "NHC"),
    CatalogueUnit("NCC", "国家癌症中心", "qc_center", "national", "NHC"),
    CatalogueUnit("NCC-QC", "国家肿瘤性疾病医疗质量控制中心", "qc_center", "national", "NCC"),
    CatalogueUnit("NCC-LUNG", "国家癌症中心肺癌质控专家委员会", "committee", "national", "NCC"),
    CatalogueUnit("P64", "宁夏回族自治区卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("P64-QC", "宁夏回族自治区肿瘤质控中心", "qc_center", "provincial", "P64"),
    CatalogueUnit("YC", "银川市卫生健康委", "commission", "prefecture", "P64"),
    CatalogueUnit("YC-XQ", "兴庆区卫生健康局", "commission", "county", "YC"),
]

# A provincial implementation plan with a notice in front, page chrome around it, every
# numbering depth, bracketed and written-out owners, deadlines, cadences and phases.
PROVINCIAL_PLAN = """\
首页 > 政务公开 > 通知公告
宁卫医发〔2025〕42号
关于印发《全区胸痛救治能力提升工作方案》的通知
各地级市卫生健康委，自治区肿瘤质控中心：
现将《全区胸痛救治能力提升工作方案》印发给你们，请结合实际认真组织实施。
宁夏回族自治区卫生健康委
2025年3月6日
chest_pain_banner.png
全区胸痛救治能力提升工作方案
为提高急性胸痛救治水平，制定本方案。
一、 总体目标
到2026年底，全区胸痛救治网络基本建成，救治时间明显缩短。
二、重点任务
( 一 ) 健全救治网络。各地级市卫生健康委要于2025年6月30日前完成辖区胸痛中心布局规划。（自治区肿瘤质控中心指导）
（二）规范救治流程
1. 统一转运标准。由银川市卫生健康委牵头，兴庆区卫生健康局配合，制定院前院内衔接方案。
2、 定期回顾病例。医疗机构要每季度开展一次胸痛病例回顾，并于每季度末报送回顾记录。
（1）胸痛病例登记。医疗机构要于2025年9月底前上报登记制度。
（2）质量分析。自治区肿瘤质控中心要每半年形成一份质量分析报告。
①分析院内延误环节。
②分析转运延误环节。
（三）加强人员培训。医疗机构要加强急诊人员培训。一是开展急救技能轮训。二是组织模拟演练。三是建立培训档案。
三、实施步骤
（一）准备阶段（2025年3月—4月）
各地级市卫生健康委制定本地实施方案，报自治区卫生健康委备案。
（二）推进阶段（2025年5月至12月）
各地级市卫生健康委按方案推进工作，于2025年10月中旬报送中期进展，年底前报送年度总结。
四、工作要求
医疗机构要高度重视。
联系电话：0951-5012345
相关链接：胸痛中心建设指南
"""


@pytest.fixture
def catalogue():
    return Catalogue(UNITS)


def walk(tasks):
    for task in tasks:
        yield task
        yield from walk(task.get("children", []))


def by_ref(draft):
    return {task["ref"]: task for task in walk(draft["tasks"])}


def test_the_notice_gives_title_document_number_issuer_and_date(catalogue):
    draft = draft_plan(PROVINCIAL_PLAN, catalogue, "fangan.txt")
    assert draft["title"] == "全区胸痛救治能力提升工作方案"
    assert draft["doc_number"] == "宁卫医发〔2025〕42号"
    assert draft["issuer"] == "宁夏回族自治区卫生健康委"
    assert draft["issuer_unit"] == "P64"
    assert draft["issued"] == "2025-03-06"
    assert draft["meta_sources"]["doc_number"] == "宁卫医发〔2025〕42号"


def test_the_section_tree_follows_the_numbering_at_every_depth(catalogue):
    refs = by_ref(draft_plan(PROVINCIAL_PLAN, catalogue))
    for ref in (
        "一",
        "二",
        "二.(一)",
        "二.(二)",
        "二.(二).1",
        "二.(二).2",
        "二.(二).2.(1)",
        "二.(二).2.(2)",
        "二.(二).2.(2).①",
        "二.(二).2.(2).②",
        "二.(三)",
        "二.(三).1",
        "二.(三).3",
        "三.(一)",
        "三.(二)",
        "四",
    ):
        assert ref in refs, ref
    assert refs["二.(一)"]["title"] == "健全救治网络"
    assert refs["二.(二).1"]["title"] == "统一转运标准"
    assert refs["二.(三).2"]["title"] == "组织模拟演练"


def test_the_page_chrome_is_dropped(catalogue):
    draft = draft_plan(PROVINCIAL_PLAN, catalogue)
    text = yaml.safe_dump(to_seed(draft), allow_unicode=True)
    for chrome in ("首页 > 政务公开", "chest_pain_banner.png", "0951-5012345", "相关链接"):
        assert chrome not in text
    assert "chest_pain_banner.png" in draft["dropped"]


def test_owners_from_brackets_lead_units_subjects_and_the_catalogue(catalogue):
    refs = by_ref(draft_plan(PROVINCIAL_PLAN, catalogue))
    network = refs["二.(一)"]
    assert network["owner"] == {"each": {"kind": "commission", "level": "prefecture", "under": "P64"}}
    # "自治区肿瘤质控中心" in the region's own notice: its one such centre
    assert network["co_owners"] == ["P64-QC"]
    transfer = refs["二.(二).1"]
    assert transfer["owner"] == "YC"
    assert transfer["co_owners"] == ["YC-XQ"]
    assert "由银川市卫生健康委牵头" in transfer["sources"]["owner"]
    assert refs["二.(二).2.(1)"]["owner"] == {"each": {"kind": "institution", "under": "P64"}}
    # the items under a heading that names its unit take that unit
    assert refs["二.(二).2.(2).①"]["owner"] == "P64-QC"  # the region's one 肿瘤质控中心
    # an enumerated duty (一是…) takes the owner of the item that lists it
    assert refs["二.(三).1"]["owner"] == {"each": {"kind": "institution", "under": "P64"}}


def test_due_dates_in_their_common_forms_each_with_its_sentence(catalogue):
    refs = by_ref(draft_plan(PROVINCIAL_PLAN, catalogue))
    assert refs["二.(一)"]["due"] == "2025-06-30"
    assert refs["二.(一)"]["sources"]["due"].startswith("各地级市卫生健康委要于2025年6月30日前")
    assert refs["二.(二).2.(1)"]["due"] == "2025-09-30"
    assert refs["一"]["due"] == "2026-12-31"
    progress = refs["三.(二)"]
    dues = sorted(child["due"] for child in progress["children"])
    assert dues == ["2025-10-20", "2025-12-31"]  # 中旬 → the 20th; 年底前 → the plan's year


def test_recurrences_deliverables_and_phases(catalogue):
    draft = draft_plan(PROVINCIAL_PLAN, catalogue)
    refs = by_ref(draft)
    assert refs["二.(二).2"]["recurrence"] == "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"
    assert refs["二.(二).2.(2)"]["recurrence"] == "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1"
    assert refs["二.(二).2.(2)"]["deliverable"] == "质量分析报告"
    assert refs["二.(二).1"]["deliverable"] == "院前院内衔接方案"
    assert refs["三.(一)"]["deliverable"].endswith("（报自治区卫生健康委备案）")
    assert [(p["name"], p["start"], p["end"]) for p in draft["phases"]] == [
        ("准备阶段", "2025-03-01", "2025-04-30"),
        ("推进阶段", "2025-05-01", "2025-12-31"),
    ]
    assert refs["三.(一)"]["phase"] == "phase-1"
    assert (refs["三.(二)"]["start"], refs["三.(二)"]["due"]) == ("2025-05-01", "2025-12-31")


def test_the_draft_is_a_valid_seed_plan_file(catalogue, tmp_path):
    draft = draft_plan(PROVINCIAL_PLAN, catalogue, "fangan.txt")
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(to_seed(draft), allow_unicode=True, sort_keys=False), encoding="utf-8")
    spec = parse_plan_file(path, {u.code for u in UNITS})
    assert spec.title == "全区胸痛救治能力提升工作方案"
    assert spec.issued == date(2025, 3, 6)
    network = next(t for t in spec.walk() if t.ref == "二.(一)")
    assert "due from «各地级市卫生健康委要于2025年6月30日前" in network.notes


def test_a_docx_with_the_same_text_gives_the_same_draft(catalogue):
    from docx import Document

    document = Document()
    for line in PROVINCIAL_PLAN.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    from_docx = draft_plan(read_document("fangan.docx", buffer.getvalue()), catalogue, "fangan")
    from_text = draft_plan(read_document("fangan.txt", PROVINCIAL_PLAN.encode("utf-8")), catalogue, "fangan")
    assert to_seed(from_docx) == to_seed(from_text)
    assert len(list(walk(from_docx["tasks"]))) >= 20


def test_gb18030_text_reads_like_utf8(catalogue):
    assert read_document("a.txt", PROVINCIAL_PLAN.encode("gb18030")) == PROVINCIAL_PLAN


# A national work-points document: units responsible in brackets, "分别负责" split per unit,
# a joint name (a centre hosted by its parent), cooperating units, two deadlines in one item.
WORK_POINTS = """\
国家癌症中心关于印发2025年肺癌质控工作要点的通知
各省级肿瘤质控中心：
2025年肺癌质控工作要点
一、重点工作
(一)完善质控网络
推动各省肺癌质控专家组成立。(国家癌症中心肺癌质控专家委员会负责,省级肿瘤质控中心配合)
(二)开展病历抽查
各省级质控中心于2025年5月10日前上交病历抽查方案,于2025年10月底提交抽查总结报告。国家肿瘤性疾病医疗质量控制中心将组织专家开展督导。(国家肿瘤性疾病医疗质量控制中心、省级肿瘤质控中心分别负责,医疗机构配合)
(三)开展专题调研
国家癌症中心 国家肿瘤性疾病医疗质量控制中心将开展肺癌筛查情况调研,预期今年完成调研报告。(国家癌症中心 国家肿瘤性疾病医疗质量控制中心负责)
"""


def test_bracketed_owners_with_cooperating_units(catalogue):
    draft = draft_plan(WORK_POINTS, catalogue)
    refs = by_ref(draft)
    assert draft["issuer_unit"] == "NCC"
    assert draft["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    network = refs["一.(一)"]
    assert network["owner"] == "NCC-LUNG"
    assert network["co_owners"] == [{"each": {"kind": "qc_center", "level": "provincial"}}]


def test_units_responsible_each_for_their_part_are_split_with_their_deadlines(catalogue):
    check = by_ref(draft_plan(WORK_POINTS, catalogue))["一.(二)"]
    children = check["children"]
    provincial = {"each": {"kind": "qc_center", "level": "provincial"}}
    assert [(c["owner"], c.get("due")) for c in children] == [
        ("NCC-QC", None),
        (provincial, "2025-05-10"),
        (provincial, "2025-10-31"),
    ]
    assert children[1]["deliverable"] == "病历抽查方案"
    assert children[2]["deliverable"] == "抽查总结报告"
    assert all({"each": {"kind": "institution"}} in c["co_owners"] for c in children)


def test_a_centre_named_with_its_host_is_the_centre_with_the_host_as_co_owner(catalogue):
    survey = by_ref(draft_plan(WORK_POINTS, catalogue))["一.(三)"]
    assert survey["owner"] == "NCC-QC"
    assert survey["co_owners"] == ["NCC"]
    assert survey["due"] == "2025-12-31"  # 今年 in a 2025 plan


# A conference report without numbered sub-items: headings on their own line, "——" headings,
# paragraphs led by a short phrase, and 一要/二要 enumerations.
REPORT = """\
2025年基层卫生工作要点解读
2025-01-20
卫生网
国家卫生健康委在会上部署了全年工作。
一、夯实基层服务网络
村医队伍建设。
稳定村医队伍，落实村医待遇。
家庭医生签约。
扩大签约覆盖面，做实签约服务。
二、提升县域能力
补短板——
急诊能力。加强县医院急诊科建设，完善急救设备。
儿科能力。加强县医院儿科建设，配齐儿科医师。
强监管——
加强考核，重点要发挥好考核的作用。一要持续推进县医院评审。二要持续推进基层机构评价。
评论
登录后才可以留言
"""


def test_unnumbered_headings_dash_headings_lead_phrases_and_enumerations(catalogue):
    draft = draft_plan(REPORT, catalogue)
    refs = by_ref(draft)
    assert draft["issued"] == "2025-01-20"
    assert draft["issuer_unit"] == "NHC"
    assert refs["一.1"]["title"] == "村医队伍建设"
    assert refs["一.2"]["title"] == "家庭医生签约"
    assert refs["二.1"]["title"] == "补短板"
    assert [refs["二.1.1"]["title"], refs["二.1.2"]["title"]] == ["急诊能力", "儿科能力"]
    assert refs["二.2"]["title"] == "强监管"
    assert [refs["二.2.1"]["title"], refs["二.2.2"]["title"]] == ["持续推进县医院评审", "持续推进基层机构评价"]
    # no unit named: the units one level below the issuing commission
    assert refs["一.1"]["owner"] == {"each": {"kind": "commission", "level": "provincial"}}
    assert "登录后才可以留言" not in yaml.safe_dump(to_seed(draft), allow_unicode=True)


# An English translation: roman numerals, "(1)" for （一）, a translated repeat counted once.
TRANSLATION = """\
Full text is as follows:
Action Plan to Improve Rural Emergency Care (2025-2026)
I. General requirements
(1) Guiding ideology
Put patients first.
II. Work tasks
(1) Strengthen the basis
1. Improve triage. Medical institutions shall improve triage in emergency departments.
2. Hold monthly reviews. Medical institutions hold a review meeting every month.
(2) Strengthen the network
3. Build transfer channels. Provincial health administrative departments shall build transfer channels by the end of June 2025.
(2) Strengthen the network
3. Build transfer channels. Provincial health administrative departments shall build transfer channels.
3. Work arrangement
(I) Start-up phase (May-June 2025)
The provincial health administrative departments formulate work plans.
"""


def test_an_english_translation_is_read_with_its_numbering(catalogue):
    draft = draft_plan(TRANSLATION, catalogue)
    refs = by_ref(draft)
    assert draft["title"] == "Action Plan to Improve Rural Emergency Care (2025-2026)"
    assert {"一", "一.(一)", "二", "二.(一)", "二.(二)", "二.1", "二.2", "二.3", "三", "三.(一)"} <= set(refs)
    assert refs["二.1"]["owner"] == {"each": {"kind": "institution"}}
    assert refs["二.2"]["recurrence"] == "FREQ=MONTHLY;BYMONTHDAY=-1"
    assert refs["二.3"]["owner"] == {"each": {"kind": "commission", "level": "provincial"}}
    assert refs["二.3"]["due"] == "2025-06-30"
    assert sum(1 for r in refs if r.startswith("二.3")) == 1  # the repeated item is counted once
    assert draft["phases"][0]["start"] == "2025-05-01" and draft["phases"][0]["end"] == "2025-06-30"


@pytest.mark.parametrize(
    "sentence, year, expected",
    [
        ("各地要于2025年7月15日前报送方案", None, [(None, date(2025, 7, 15))]),
        ("于2026年9月底前完成评估", None, [(None, date(2026, 9, 30))]),
        ("年底前报送总结", 2027, [(None, date(2027, 12, 31))]),
        ("12月底提交报告", 2025, [(None, date(2025, 12, 31))]),
        ("2025年8-9月开展督查", None, [(date(2025, 8, 1), date(2025, 9, 30))]),
        ("2025年10月中旬汇总", None, [(None, date(2025, 10, 20))]),
        ("于2025年3月8和2025年9月8日上报", None, [(None, date(2025, 3, 8)), (None, date(2025, 9, 8))]),
        ("分别于2026年5月、10月上旬形成总结", None, [(None, date(2026, 5, 10)), (None, date(2026, 10, 10))]),
        ("（2025年11月1日至12月15日）", None, [(date(2025, 11, 1), date(2025, 12, 15))]),
        ("Implementation Phase (July 2025 - March 2026)", None, [(date(2025, 7, 1), date(2026, 3, 31))]),
    ],
)
def test_dates_in_their_common_forms(sentence, year, expected):
    assert [(h.start, h.due) for h in find_dates(sentence, year)] == expected


@pytest.mark.parametrize(
    "sentence, rule",
    [
        ("每月召开一次例会", "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ("每季度通报一次", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"),
        ("每半年报送进展", "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1"),
        ("季度或半年抽查", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1"),
        ("每年开展一次评估", "FREQ=YEARLY"),
        ("建立院周会制度", "FREQ=WEEKLY"),
    ],
)
def test_cadence_words_become_recurrence_rules(sentence, rule):
    assert find_cadence(sentence)[1] == rule


def test_cadence_is_not_read_into_a_half_year_mention():
    assert find_cadence("上半年完成调研") is None


@pytest.mark.parametrize(
    "line, style, value",
    [
        ("一、总体要求", "cn", 1),
        ("十二、其他", "cn", 12),
        ("（三）加强领导", "pcn", 3),
        ("( 三 ) 加强领导", "pcn", 3),
        ("(3)加强领导", "pnum", 3),
        ("（3）加强领导", "pnum", 3),
        ("3.加强领导", "num", 3),
        ("3、加强领导", "num", 3),
        ("- 4.加强领导", "num", 4),
        ("⑤加强领导", "circ", 5),
        (")推行新模式", "lost", 0),
        ("IV. Work tasks", "cn", 4),
        ("(2) Guiding ideology", "pcn", 2),
    ],
)
def test_numbering_markers_and_their_variants(line, style, value):
    marker = parse_marker(line)
    assert (marker.style, marker.value) == (style, value)


@pytest.mark.parametrize("line", ["2025年工作要点", "3.5万元", "二〇二五年", "12月底前完成"])
def test_lines_that_only_look_numbered(line):
    assert parse_marker(line) is None or parse_marker(line).style != "num"


def test_a_lost_bracket_continues_the_numbering_and_is_noted(catalogue):
    text = "一、任务\n（一）甲项工作。医疗机构要做甲。\n)乙项工作。医疗机构要做乙。\n"
    refs = by_ref(draft_plan(text, catalogue))
    assert refs["一.(二)"]["title"] == "乙项工作"
    assert "numbering lost" in refs["一.(二)"]["notes"]


def test_words_broken_across_lines_and_pdf_spaces_are_joined():
    lines, _dropped = normalise(
        "（一）建立工作机制，针对诊疗过程关键点开展抽查工作，抽查内容包括首次治疗前有无明确的\n\n分期；\n2024 年 质控 工作"
    )
    assert lines[0].endswith("有无明确的分期；")
    assert lines[1] == "2024年 质控 工作"
