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


# --- the head and the end of a notice as web pages carry it --------------------------------

SICHUAN_UNITS = UNITS + [
    CatalogueUnit("P51", "四川省卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("P51-CDC", "四川省疾控局", "commission", "provincial", "P51"),
    CatalogueUnit("CD", "成都市卫生健康委", "commission", "prefecture", "P51"),
]

PAGE = """\
当前位置: 首页 > 政务公开 > 通知公告
索 引 号: 008123456/2025-00031 公开日期: 2025-03-10
发布机构: 省卫生健康委 文  号: 川卫办发〔2025〕12号
  • 时间:2025-03-12 09:30:00
  • 发布:四川省卫生健康委
四川省卫生健康委关于印发2025年全省院前急救工作要点的通知
各市（州）卫生健康委，委直属有关单位：
现将2025年全省院前急救工作要点印发给你们，请认真贯彻执行。
四川省卫生健康委
2025年3月10日
2025年四川院前急救工作要点
一、完善急救网络
（一）站点布局。各市州卫生健康委要于6月底前完成急救站点布局调整，省卫生健康委、疾控局适时开展督导。
（二）人员培训。省卫生健康委适时组织全省急救人员轮训。
"""


def sichuan():
    return Catalogue(SICHUAN_UNITS)


def test_a_pages_metadata_block_is_chrome_and_its_doc_number_is_read():
    draft = draft_plan(PAGE, sichuan(), "page")
    assert draft["doc_number"] == "川卫办发〔2025〕12号"
    assert any(line.startswith("索引号") for line in draft["dropped"])
    assert any("时间:2025-03-12" in line for line in draft["dropped"])
    assert draft["issued"] == "2025-03-10"
    # the plan's heading names it otherwise than the notice: the notice still ends at its date
    refs = by_ref(draft)
    assert set(refs) == {"一", "一.(一)", "一.(二)"}
    assert "印发给你们" not in refs["一"].get("description", "")
    assert draft["title"] == "2025年全省院前急救工作要点"


def test_a_time_label_of_plan_text_is_not_chrome():
    from tracker.importer.draft.chrome import is_chrome

    assert is_chrome("时间:2025-03-12 09:30:00")
    assert not is_chrome("时间：2025年4月下旬")


def test_prefectures_of_provinces_with_autonomous_prefectures_clause_subjects_and_same_place_names():
    refs = by_ref(draft_plan(PAGE, sichuan(), "page"))
    # 市州 are the province's prefectures; 省卫生健康委、疾控局 opening a later clause co-own the item
    assert refs["一.(一)"]["owner"] == {"each": {"kind": "commission", "level": "prefecture", "under": "P51"}}
    assert set(refs["一.(一)"]["co_owners"]) == {"P51", "P51-CDC"}
    assert refs["一.(一)"]["due"] == "2025-06-30"
    # a subject before 适时 owns its duty
    assert refs["一.(二)"]["owner"] == "P51"


def test_the_doc_number_of_a_commission_names_the_issuer_when_nothing_else_does():
    text = (
        PAGE.replace("四川省卫生健康委\n2025年3月10日\n", "")
        .replace("四川省卫生健康委关于印发", "关于印发")
        .replace("  • 发布:四川省卫生健康委\n", "")
    )
    draft = draft_plan(text, sichuan(), "page")
    assert draft["issuer_unit"] == "P51"
    refs = by_ref(draft)
    assert refs["一.(一)"]["owner"]["each"] == {"kind": "commission", "level": "prefecture", "under": "P51"}


def test_several_levels_named_together_own_together():
    mention = Catalogue(UNITS).mentions("各市、县（市、区）卫生健康委要建立工作台账。", "P44")[0]
    assert mention.owner.level == "prefecture" and mention.owner.under == "P44"
    assert [o.level for o in mention.extra] == ["county"]


def test_the_old_name_of_a_commission_is_the_commission():
    assert Catalogue(UNITS).lookup("国家卫生计生委办公厅") == "NHC"


FOOTER = """\
国家卫生健康委办公厅关于加强院内急救管理的通知
国卫办医函〔2025〕88号
各省、自治区、直辖市卫生健康委：
为提升院内急救能力，现就有关要求通知如下。
一、健全院内急救体系
要明确院内急救响应流程，配齐急救设备。
二、加强急救培训
要定期组织全员急救技能培训。
我委将适时对各地院内急救工作开展情况进行抽查。
国家卫生健康委办公厅
2025年5月6日
来源：国家卫生健康委网站
关于我们
网站地图
友情链接
中国政府网
"""


def test_a_site_footer_and_the_issuers_closing_remark_are_not_the_last_items_text():
    draft = draft_plan(FOOTER, Catalogue(UNITS), "footer")
    last = by_ref(draft)["二"]
    assert "我委将适时" not in last["description"]
    assert "友情链接" not in last["description"] and "国家卫生健康委办公厅" not in last["description"]
    assert "due" not in last
    assert draft["issued"] == "2025-05-06"
    assert draft["issuer"] == "国家卫生健康委办公厅" and draft["issuer_unit"] == "NHC"
    assert any(line.startswith("我委将适时") for line in draft["unplaced"])  # shown, not dropped
    assert last["owner"] == {"each": {"kind": "commission", "level": "provincial"}}


UNNUMBERED = """\
国家卫生健康委办公厅关于印发2025年患者安全专项行动清单的通知
国卫办医政函〔2025〕15号
各省、自治区、直辖市及新疆生产建设兵团卫生健康委：
为持续提升患者安全管理水平，我委组织制定了2025年患者安全专项行动清单，现印发给你们，请组织辖区医疗机构对照清单开展自查整改，并于10月31日前报送工作总结。各地要加强培训宣传，及时总结推广典型经验。
现将清单印发给你们，请认真贯彻执行。
附件：1.2025年患者安全专项行动清单
2.自查整改情况汇总表
国家卫生健康委办公厅
2025年3月3日
"""


def test_a_notice_without_numbered_items_drafts_one_item_per_request():
    draft = draft_plan(UNNUMBERED, Catalogue(UNITS), "unnumbered")
    refs = by_ref(draft)
    assert set(refs) == {"1", "2"}
    assert refs["1"]["title"].startswith("组织辖区医疗机构对照清单开展自查整改")
    assert refs["1"]["due"] == "2025-10-31"
    assert refs["2"]["title"].startswith("加强培训宣传")
    assert all(t["owner"] == {"each": {"kind": "commission", "level": "provincial"}} for t in refs.values())
    assert "ref made here" in refs["1"]["notes"]
    # the 附件 list above the signature is not the signature
    assert draft["issuer"] == "国家卫生健康委办公厅" and draft["issued"] == "2025-03-03"


@pytest.mark.parametrize("text", [PAGE, FOOTER, UNNUMBERED])
def test_the_same_notices_saved_as_docx_give_the_same_drafts(text):
    import io

    from docx import Document

    from tracker.importer.draft import read_document

    document = Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    catalogue = sichuan()
    from_docx = draft_plan(read_document("n.docx", buffer.getvalue()), catalogue, "n")
    from_text = draft_plan(read_document("n.txt", text.encode("utf-8")), catalogue, "n")
    assert to_seed(from_docx) == to_seed(from_text)


@pytest.mark.parametrize(
    "clause, owner, co",
    [
        ("由广州市卫生健康委负责，深圳市卫生健康委协助，完成时限：10月底。", "GZ", ["SZ"]),
        ("佛山市卫生健康委配合，广州市卫生健康委牵头，完成时限：10月底。", "GZ", ["FS"]),
        ("承办：深圳市卫生健康委。完成时限：10月底。", "SZ", []),
    ],
)
def test_lead_and_helping_units_in_any_order(catalogue, clause, owner, co):
    text = NOTICE.replace("广州市卫生健康委牵头，佛山市卫生健康委配合，完成时限：10月底。", clause)
    task = by_ref(draft_plan(text, catalogue, "n"))["二.(二)"]
    assert task["owner"] == owner
    assert task.get("co_owners", []) == co
    assert task["due"] == "2024-10-31"


def test_a_date_in_a_numbered_heading_is_the_due_date_and_leaves_the_title(catalogue):
    text = (
        "广东省卫生健康委关于开展病历质量专项检查的通知\n各地级以上市卫生健康委：\n现将有关事项通知如下。\n"
        "一、工作安排\n（一）自查整改（2024年6月底前）。各地级以上市卫生健康委要组织辖区医院开展自查。\n"
        "（二）督导检查(2024年9月—10月)。广东省医疗质量控制中心组织专家督导。\n"
    )
    refs = by_ref(draft_plan(text, catalogue, "n"))
    assert refs["一.(一)"]["due"] == "2024-06-30" and refs["一.(一)"]["title"] == "自查整改"
    assert refs["一.(二)"]["due"] == "2024-10-31" and refs["一.(二)"]["title"] == "督导检查"


def test_a_unit_of_the_issuers_place_named_by_its_level_word_alone():
    units = [
        CatalogueUnit("P34", "安徽省卫生健康委", "commission", "provincial", None),
        CatalogueUnit("LB", "灵璧县卫生健康委", "commission", "county", "P34"),
        CatalogueUnit("LB-MZ", "灵璧县民政局", "committee", "county", "P34"),
    ]
    text = (
        "灵璧县卫生健康委关于印发2021年重点任务分解的通知\n"
        "1.加快发展健康、养老服务业。\n牵头责任单位：县卫健委、县民政局\n"
        "2.创建国家卫生县城。\n牵头责任单位：县卫健委\n"
    )
    refs = by_ref(draft_plan(text, Catalogue(units), "n"))
    assert refs["1"]["owner"] == "LB" and refs["1"]["co_owners"] == ["LB-MZ"]
    assert refs["2"]["owner"] == "LB"


def test_a_heading_run_together_with_items_separated_by_half_width_semicolons(catalogue):
    text = (
        "广东省卫生健康委关于报送学习贯彻情况的通知\n各地级以上市卫生健康委：\n现就报送要求通知如下。"
        " 一、报告的主要情况 1. 领导批示指示等; 2. 召开会议情况; 3. 其他需要及时报告的情况。"
        " 二、报告的时间方式 1. 会议召开3日内报告; 2. 重要材料以报告形式上报。\n"
    )
    refs = by_ref(draft_plan(text, catalogue, "n"))
    assert {"一", "一.1", "一.2", "一.3", "二", "二.1", "二.2"} <= set(refs)
    assert refs["一"]["title"] == "报告的主要情况" and refs["一.2"]["title"].startswith("召开会议情况")


def test_each_unit_of_a_type_the_issuers_place_holds_one_level_down():
    units = [
        CatalogueUnit("P14", "山西省卫生健康委", "commission", "provincial", None),
        CatalogueUnit("JZ", "晋中市卫生健康委", "commission", "prefecture", "P14"),
        CatalogueUnit("JZ-JSX", "晋中市计生协", "committee", "prefecture", "JZ"),
    ]
    text = (
        "晋中市卫生健康委\n关于做好计生协改革工作的通知\n现就有关事项通知如下：\n"
        "一、建立月报制度。各县(区、市)计生协每月25日前要向市计生协报送任务清单。\n"
    )
    refs = by_ref(draft_plan(text, Catalogue(units), "n"))
    assert refs["一"]["owner"] == {"each": {"kind": "committee", "level": "county", "under": "JZ-JSX"}}


def test_a_target_by_a_year_is_due_at_that_years_end():
    hits = find_dates("到2025年，基本建成能够有效应对重大疫情的应急指挥体系", 2023)
    assert [(h.due, h.deadline) for h in hits] == [(date(2025, 12, 31), True)]


# --- several addressees (主送) -----------------------------------------------------------------

ADDRESSED_UNITS = UNITS + [CatalogueUnit("P44-CL", "广东省残联", "committee", "provincial", None)]

ADDRESSED = """\
广东省卫生健康委关于开展医疗机构无障碍环境建设专项检查的通知
粤卫函〔2024〕88号
{addressees}
为推进医疗机构无障碍环境建设，现将有关事项通知如下。
一、开展自查。于9月30日前完成无障碍设施自查。
二、总结报送。11月15日前报送工作总结。
广东省卫生健康委
2024年8月1日
"""
EACH_PREFECTURE_COMMISSION = {"each": {"kind": "commission", "level": "prefecture", "under": "P44"}}


def addressed(addressees: str) -> dict:
    return by_ref(draft_plan(ADDRESSED.format(addressees=addressees), Catalogue(ADDRESSED_UNITS), "n"))


def test_a_notice_to_the_cities_commissions_and_disability_federations_gives_them_its_items():
    # 残联 after 各地级以上市卫生健康委 shares its level word: each city's 残联, under the province's
    for ref in ("一", "二"):
        item = addressed("各地级以上市卫生健康委、残联：")[ref]
        assert item["owner"] == EACH_PREFECTURE_COMMISSION
        assert item["co_owners"] == [{"each": {"kind": "committee", "level": "prefecture", "under": "P44-CL"}}]
        assert "owner from «(no unit named: the document's addressees)»" in item["notes"]


def test_three_addressees_the_first_owns_the_others_co_own_each_at_its_level():
    item = addressed("各市卫生健康委、残联，广东省医疗质量控制中心：")["一"]
    assert item["owner"] == EACH_PREFECTURE_COMMISSION
    assert item["co_owners"] == [{"each": {"kind": "committee", "level": "prefecture", "under": "P44-CL"}}, "P44-QC"]
    # two levels of one kind named together, and a body the catalogue cannot place (委直属各单位)
    item = addressed("各市、县（市、区）卫生健康委，委直属各单位：")["二"]
    assert item["owner"] == EACH_PREFECTURE_COMMISSION
    assert item["co_owners"] == [{"each": {"kind": "commission", "level": "county", "under": "P44"}}]


def test_a_single_addressee_owns_alone():
    item = addressed("各地级以上市卫生健康委：")["一"]
    assert item["owner"] == EACH_PREFECTURE_COMMISSION and "co_owners" not in item


# --- the end of a notice: contact lines, the 文号 above the signature ---------------------------

SIGNATURE = "广东省卫生健康委办公室\n2024年7月20日\n"


@pytest.mark.parametrize(
    "contacts",
    [
        "联系人：王明\n电话：020-83710000\n邮箱：yzc@gd.gov.cn\n",
        "联系人：医政处 王明\n联系电话：020-83710000\n",
        "联系人：王明，联系电话：020-83710000，电子邮箱：yzc@gd.gov.cn\n",
    ],
)
@pytest.mark.parametrize("where", ["above the signature", "below the date"])
def test_contact_lines_after_the_last_item_are_not_its_text(catalogue, contacts, where):
    body = NOTICE.removesuffix(SIGNATURE)
    text = body + contacts + SIGNATURE if where == "above the signature" else NOTICE + contacts
    draft = draft_plan(text, catalogue, "notice")
    last = by_ref(draft)["二.(三)"]
    assert "王明" not in last["title"] + last["description"] and "020" not in last["description"]
    assert draft["issuer"] == "广东省卫生健康委办公室" and draft["issued"] == "2024-07-20"
    assert any(line.startswith("联系人") for line in draft["dropped"])
    assert not draft["unplaced"]


@pytest.mark.parametrize(
    "ending",
    [
        "晋卫发〔2024〕12号\n广东省卫生健康委办公室\n2024年7月20日\n",
        "（晋卫发〔2024〕12号）\n广东省卫生健康委办公室\n2024年7月20日\n",
        "广东省卫生健康委办公室\n晋卫发〔2024〕12号\n2024年7月20日\n",
    ],
)
def test_a_doc_number_standing_above_the_signature_or_its_date_is_found(catalogue, ending):
    text = NOTICE.replace("粤卫办医函〔2024〕31号\n", "").removesuffix(SIGNATURE) + ending
    draft = draft_plan(text, catalogue, "notice")
    assert draft["doc_number"] == "晋卫发〔2024〕12号"
    assert draft["issuer"] == "广东省卫生健康委办公室" and draft["issued"] == "2024-07-20"
    last = by_ref(draft)["二.(三)"]
    assert "晋卫发" not in last["title"] + last["description"]
    assert last["due"] == "2024-12-31"
