"""Forms of real notices met on documents the importer had not read: a year the text does not
state, a task table as labelled lines, abbreviated local names, a 文号 that names its issuer by
its short name, the addressees asked in the preamble, a deadline in the preamble, a page date by
its label, a copy in traditional characters with pinyin after each character."""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from docx import Document

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan, read_document, to_seed
from tracker.importer.draft.owners import short_forms
from tracker.importer.draft.text import simplified

UNITS = [
    CatalogueUnit("NHC", "国家卫生健康委", "commission", "national", None),
    CatalogueUnit("NATCM", "国家中医药局", "commission", "national", "NHC"),
    CatalogueUnit("P14", "山西省卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("P64", "宁夏回族自治区卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("JZ", "晋中市卫生健康委", "commission", "prefecture", "P14"),
    CatalogueUnit("JZ-JSX", "晋中市计生协", "committee", "prefecture", "JZ"),
    CatalogueUnit("TX", "同心县卫生健康局", "commission", "county", "P64"),
    CatalogueUnit("TX-WL", "同心县文化旅游广电局", "committee", "county", "P64"),
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


def owners(task) -> set:
    """The owner and co-owners of an item and of the child duties it was split into."""
    found = {json.dumps(o, sort_keys=True) for o in [task.get("owner")] + task.get("co_owners", []) if o}
    for child in task.get("children", []):
        found |= owners(child)
    return found


def dues(task) -> set[str]:
    found = {task["due"]} if task.get("due") else set()
    for child in task.get("children", []):
        found |= dues(child)
    return found


TASK_RECORD = """\
具体任务
全面落实疫情防控措施，抓紧完成方舱医院升级改造，二级以上医疗机构发热门诊应设尽设；改扩建社区卫生服务中心，深入开展爱国卫生运动。
责任单位
卫健局、文旅局
配合单位
各乡镇
完成时限
发热门诊应设尽设，1月底前完成；其它事项12月底前取得明显成效
"""


def test_a_task_table_rendered_as_labelled_lines_is_one_item_with_its_owners_and_deadlines(catalogue):
    draft = draft_plan(TASK_RECORD, catalogue, "row.txt", given_year=2023)
    (task,) = draft["tasks"]
    assert task["ref"] == "1" and task["title"].startswith("全面落实疫情防控措施")
    seed = by_ref(draft)["1"]
    assert owners(seed) == {'"TX"', '"TX-WL"'}  # 卫健局、文旅局: the only such units
    assert all(child["owner"] == "TX" for child in seed["children"])  # one child duty per deadline
    assert dues(seed) == {"2023-01-31", "2023-12-31"}


def test_the_labelled_lines_a_tab_separated_copy_and_a_word_table_draft_alike(catalogue):
    document = Document()
    table = document.add_table(rows=2, cols=4)
    header = ["具体任务", "责任单位", "配合单位", "完成时限"]
    cells = TASK_RECORD.splitlines()[1::2]
    for index, (label, value) in enumerate(zip(header, cells)):
        table.rows[0].cells[index].text = label
        table.rows[1].cells[index].text = value
    buffer = io.BytesIO()
    document.save(buffer)
    tabbed = "\t".join(header) + "\n" + "\t".join(cells) + "\n"
    drafts = [
        draft_plan(TASK_RECORD, catalogue, "a", given_year=2023),
        draft_plan(tabbed, catalogue, "a", given_year=2023),
        draft_plan(read_document("a.docx", buffer.getvalue()), catalogue, "a", given_year=2023),
    ]
    seeds = [json.dumps(to_seed(d)["tasks"], ensure_ascii=False, sort_keys=True) for d in drafts]
    assert seeds[0] == seeds[1] == seeds[2]


def test_an_abbreviated_local_name_is_read_only_when_one_unit_fits():
    assert short_forms("同心县卫生健康局") >= {"卫健局"}
    assert "文旅局" in short_forms("同心县文化旅游广电局")
    two_counties = Catalogue(UNITS + [CatalogueUnit("YC", "盐池县卫生健康局", "commission", "county", "P64")])
    seed = by_ref(draft_plan(TASK_RECORD, two_counties, "row.txt", given_year=2023))["1"]
    assert '"TX"' not in owners(seed)  # 卫健局 of which county: no guess
    # the issuer's own place tells them apart
    text = "盐池县卫生健康局\n关于做好卫生创建工作的通知\n1.开展爱国卫生运动。责任单位：卫健局。完成时限：2023年6月底前。\n"
    assert owners(by_ref(draft_plan(text, two_counties, "n"))["1"]) == {'"YC"'}


def test_dates_without_a_year_take_the_year_given_only_when_the_document_states_none(catalogue):
    draft = draft_plan(TASK_RECORD, catalogue, "row.txt", given_year=2023)
    assert draft["year_given"] == 2023
    assert "the document states no year" in to_seed(draft)["notes"]
    assert "the year given with it, 2023, taken" in json.dumps(to_seed(draft), ensure_ascii=False)
    dated = "关于做好2021年卫生创建工作的通知\n" + TASK_RECORD
    own = draft_plan(dated, catalogue, "row.txt", given_year=2023)
    assert own["year_given"] is None
    assert dues(by_ref(own)["1"]) == {"2021-01-31", "2021-12-31"}
    without = draft_plan(TASK_RECORD, catalogue, "row.txt")
    assert not dues(by_ref(without)["1"])  # no year anywhere and none given: no date is made up


JINZHONG = """\
晋中市卫生健康委员会
索引号: jz-wjw-2020-00002 发布机构:
生效日期: 2020-03-15 废止日期:
来源: 发布时间:2020-03-14 浏览次数:
市计生协发〔2020〕2号
关于进一步做好县级计生协综合改革任务
及新冠肺炎疫情防控工作的通知
为扎实推进县级计生协综合改革，各县(区、市)计生协要明确重点任务分工，倒排时间表，确保在12月底前完成改革任务。现就有关事项通知如下:
一、计生协综合改革
（一）建立月报表制度
各县(区、市)每月25日前将本月报表报市计生协。
（二）推进改革任务的相关要求
1.各县(区、市)计生协改革已被纳入年度考核范围，务必予以高度重视。
二、疫情防控
（一）做好宣传引导
加强防控知识宣传。
"""


def test_a_notice_of_a_body_named_in_its_doc_number_and_its_addressees_asked_in_the_preamble(catalogue):
    draft = draft_plan(JINZHONG, catalogue, "n")
    assert draft["title"] == "关于进一步做好县级计生协综合改革任务及新冠肺炎疫情防控工作的通知"
    assert draft["issuer_unit"] == "JZ-JSX"  # 市计生协发: the city's 计生协, of the place the page names
    assert draft["issued"] == "2020-03-14"  # 发布时间 before 生效日期
    refs = by_ref(draft)
    county_jsx = {"each": {"kind": "committee", "level": "county", "under": "JZ-JSX"}}
    for ref in ("一.(一)", "一.(二).1", "二.(一)"):
        assert refs[ref]["owner"] == county_jsx, ref
    # the preamble's deadline names the reform: item 一's, not the epidemic item's
    assert refs["一"]["due"] == "2020-12-31" and "preamble" in refs["一"]["notes"]
    assert not refs["二"].get("due")
    assert draft["unplaced"] == []


def test_a_preamble_deadline_that_names_no_item_stays_unplaced(catalogue):
    text = JINZHONG.replace("确保在12月底前完成改革任务", "确保在12月底前报送总结")
    draft = draft_plan(text, catalogue, "n")
    assert not by_ref(draft)["一"].get("due")
    assert any("12月底前报送总结" in line for line in draft["unplaced"])


def test_a_labelled_page_date_ranks_by_its_label():
    lines = "成文日期：2021年5月7日\n发布时间:2021-05-20 10:49\n关于做好卫生创建工作的通知\n一、开展爱国卫生运动。\n"
    assert draft_plan(lines, Catalogue(UNITS), "n")["issued"] == "2021-05-07"


SATCM_SIMPLIFIED = (
    "各省、自治区、直辖市中医药管理部门，各计划单列市中医药管理部门: 8月31日，我局印发了《关于认真学习贯彻全国卫生与健康"
    "大会精神的通知》（国中医药办发〔2016〕28号），现就报送学习贯彻情况的具体要求通知如下。 一、报告的主要情况 1. 地方党政"
    "领导就学习贯彻大会精神的批示等； 2. 其他需要及时报告的情况。 二、报告的时间方式 1. 会议召开、文件出台3日内报告，其他"
    "材料及时报送； 2. 重要材料请以报告形式报告。\n"
)
SATCM_TRADITIONAL = (
    "各省、自治區(qū)、直轄市中醫(yī)藥管理部門(mén)，各計(jì)劃單列市中醫(yī)藥管理部門(mén): 8月31日，我局印發(fā)了《關(guān)於認(rèn)真學(xué)"
    "習(xí)貫徹全國(guó)衛(wèi)生與健康大會(huì)精神的通知》（國(guó)中醫(yī)藥辦發(fā)〔2016〕28號(hào)），現(xiàn)就報(bào)送學(xué)習(xí)貫徹情況的具體要求通知如"
    "下。 一、報(bào)告的主要情況 1. 地方黨政領(lǐng)導(dǎo)就學(xué)習(xí)貫徹大會(huì)精神的批示等； 2. 其他需要及時(shí)報(bào)告的情況。 二、報(bào)告的時(shí)"
    "間方式 1. 會(huì)議召開(kāi)、文件出臺(tái)3日內(nèi)報(bào)告，其他材料及時(shí)報(bào)送； 2. 重要材料請(qǐng)以報(bào)告形式報(bào)告。\n"
)


def test_a_traditional_character_copy_with_pinyin_debris_drafts_as_the_simplified_text(catalogue):
    text, repairs = simplified(SATCM_TRADITIONAL)
    assert "(" not in text.split("（")[0] and "国家" not in text and "学习贯彻" in text
    assert any("traditional characters" in r for r in repairs) and any("pinyin" in r for r in repairs)
    assert simplified(SATCM_SIMPLIFIED) == (SATCM_SIMPLIFIED, [])  # simplified text is left as it is
    a, b = draft_plan(SATCM_TRADITIONAL, catalogue, "n"), draft_plan(SATCM_SIMPLIFIED, catalogue, "n")
    assert to_seed(a)["tasks"] == to_seed(b)["tasks"]
    assert a["issuer_unit"] == "NATCM"  # 我局印发…（国中医药办发〔2016〕28号）: the issuer's own 文号
    provincial = {"each": {"kind": "commission", "level": "provincial"}}
    assert by_ref(b)["二.2"]["owner"] == provincial  # the addressees, run together with the text


def test_upload_form_takes_a_year_and_the_review_says_it_was_used(client, auth, make_user, app, tmp_path):
    app.config["DRAFT_DIR"] = str(tmp_path / "drafts")
    auth.login(make_user("coordinator", "P64"))
    page = client.get("/drafts").get_data(as_text=True)
    this_year = datetime.now(ZoneInfo("Asia/Shanghai")).year
    assert 'name="year"' in page and f'value="{this_year}"' in page
    data = {"document": (io.BytesIO("1.开展自查。完成时限：8月15日前。".encode()), "a.txt"), "year": "1989"}
    refused = client.post("/drafts", data=data, content_type="multipart/form-data")
    assert refused.status_code == 400
    assert "1990" in refused.get_data(as_text=True) and not list((tmp_path / "drafts").glob("*.json"))
    data = {"document": (io.BytesIO("1.开展自查。完成时限：8月15日前。".encode()), "a.txt"), "year": "2023"}
    created = client.post("/drafts", data=data, content_type="multipart/form-data")
    assert created.status_code == 303
    review = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'id="draft-year-given"' in review and "2023" in review
    (saved,) = (tmp_path / "drafts").glob("*.json")
    assert json.loads(saved.read_text("utf-8"))["tasks"][0]["due"] == "2023-08-15"


def test_flask_plans_draft_takes_a_year_and_refuses_a_bad_one(runner, tmp_path):
    source = tmp_path / "row.txt"
    source.write_text(TASK_RECORD, encoding="utf-8")
    result = runner.invoke(args=["plans", "draft", str(source), "--year", "2023"])
    assert result.exit_code == 0, result.output
    assert "2023-01-31" in yaml.safe_dump(yaml.safe_load(result.output))
    bad = runner.invoke(args=["plans", "draft", str(source), "--year", "23"])
    assert bad.exit_code != 0 and "year" in bad.output.lower()


CELL_TABLE = """\
关于印发2024年全区卫生健康重点工作任务分工的通知
各地级市卫生健康委：
现将任务分工印发给你们，请认真落实。

序号

工作任务

责任单位

完成时限

1

制定全区医疗质量提升方案，

明确各专业质控目标

宁夏回族自治区卫生健康委

2024年6月底前

2

开展二级以上医院质控检查

各地级市卫生健康委

2024年10月底前

附件：任务分工表
"""


def test_a_table_copied_one_cell_per_line_is_one_item_per_row(catalogue):
    refs = by_ref(draft_plan(CELL_TABLE, catalogue, "n"))
    assert refs["1"]["title"].startswith("制定全区医疗质量提升方案，明确各专业质控目标")  # a cell over two lines
    assert refs["1"]["owner"] == "P64" and refs["1"]["due"] == "2024-06-30"
    assert refs["2"]["owner"] == {"each": {"kind": "commission", "level": "prefecture", "under": "P64"}}
    assert refs["2"]["due"] == "2024-10-31"
    assert "附件" not in refs["2"].get("description", "")  # the text after the table is not its last cell


def test_a_label_word_in_running_text_is_not_a_table(catalogue):
    text = "关于做好2024年质控工作的通知\n一、工作任务\n（一）开展质控检查。各地级市卫生健康委要于2024年6月底前完成。\n二、责任单位\n（一）明确分工。\n"
    refs = by_ref(draft_plan(text, catalogue, "n"))
    assert refs["一"]["title"] == "工作任务" and refs["二"]["title"] == "责任单位"
    assert refs["一.(一)"]["due"] == "2024-06-30"
