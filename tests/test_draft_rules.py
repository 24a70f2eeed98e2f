"""Rules of the policy-document genre the draft importer reads, each on a short document
written for its test (other numbering, dates and units than the seed documents)."""

from __future__ import annotations

import pytest

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan
from tracker.importer.draft.extract import _named_actions
from tracker.importer.draft.owners import field_forms

UNITS = [
    CatalogueUnit("NHC", "国家卫生健康委", "commission", "national", None),
    CatalogueUnit("NHC-CDC", "国家卫生健康委疾控局", "commission", "national", "NHC"),
    CatalogueUnit("NHC-PHC", "国家卫生健康委基层卫生健康司", "commission", "national", "NHC"),
    CatalogueUnit("P53", "云南省卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("KM", "昆明市卫生健康委", "commission", "prefecture", "P53"),
    CatalogueUnit("KM-WH", "五华区卫生健康局", "commission", "county", "KM"),
]


@pytest.fixture
def catalogue():
    return Catalogue(UNITS)


def walk(tasks):
    for task in tasks:
        yield task
        yield from walk(task.get("children", []))


def by_ref(draft):
    return {task["ref"]: task for task in walk(draft["tasks"])}


# --- a topic heading "…——" over several duty sentences ---------------------------------

TOPICS = """\
2024年基层卫生工作会议要点
2024-03-05
国家卫生健康委在会上部署了全年工作。
一、强化基层服务
服务能力——
在完善乡镇卫生院设备配置的基础上，要加强村卫生室标准化建设。持续推进家庭医生签约服务扩面，以慢病管理为重点。需要强调的是，要持续加强基层药品供应保障。
服务质量——
要落实基层首诊要求，推进远程会诊下沉到乡镇卫生院，进一步提升基层服务质量。
"""


def test_a_topic_heading_over_several_duty_sentences_lists_one_item_per_sentence(catalogue):
    refs = by_ref(draft_plan(TOPICS, catalogue))
    assert [refs[f"一.1.{n}"]["title"] for n in (1, 2, 3)] == [
        "加强村卫生室标准化建设",
        "持续推进家庭医生签约服务扩面，以慢病管理为重点",
        "持续加强基层药品供应保障",
    ]
    assert refs["一.1.1"]["description"].startswith("在完善乡镇卫生院设备配置的基础上")
    assert "一.1.4" not in refs
    # one sentence under its topic: the topic is the item
    assert refs["一.2"]["title"] == "服务质量" and not refs["一.2"].get("children")


# --- the issuer's own work, and the issuer's department for the plan's field ---------------

CONFERENCE = """\
【全国疾病预防控制工作会议】2025年部署要点
2025-02-10
国家卫生健康委在会上部署了全年工作。
一、完善防控体系
监测预警。
修订传染病监测技术标准，健全多点触发预警机制。
现场处置。
加强流调队伍建设，做好应急物资储备。
规范管理。
指导医疗机构建立健全院内感染监测规范，定期开展院内自查。
"""


def test_making_a_standard_is_the_issuers_own_work_done_by_its_department_for_the_field(catalogue):
    draft = draft_plan(CONFERENCE, catalogue)
    refs = by_ref(draft)
    assert draft["issuer_unit"] == "NHC"
    # 疾病预防控制 abbreviates to 疾控: the 疾控局 of the issuing commission
    assert refs["一.1"]["owner"] == "NHC-CDC"
    assert "the issuer's own work" in refs["一.1"]["sources"]["owner"]
    # no instrument made: the addressees, the provincial commissions
    assert refs["一.2"]["owner"] == {"each": {"kind": "commission", "level": "provincial"}}
    # the institutions make their own rules when the commission guides them to
    assert refs["一.3"]["owner"] == {"each": {"kind": "commission", "level": "provincial"}}


def test_without_a_department_for_the_field_the_issuer_itself_does_its_own_work(catalogue):
    text = CONFERENCE.replace("全国疾病预防控制工作会议", "全国卫生应急工作会议")
    refs = by_ref(draft_plan(text, catalogue))
    assert refs["一.1"]["owner"] == "NHC"


def test_a_city_plan_does_not_make_standards_of_its_own_accord(catalogue):
    text = CONFERENCE.replace("国家卫生健康委在会上", "昆明市卫生健康委在会上")
    refs = by_ref(draft_plan(text, catalogue))
    assert refs["一.1"]["owner"] == {"each": {"kind": "commission", "level": "county", "under": "KM"}}


def test_a_department_is_found_by_its_field_or_the_fields_abbreviation(catalogue):
    assert field_forms("疾病预防控制") >= {"疾病预防控制", "疾控"}
    assert field_forms("质量控制") >= {"质控"}
    assert catalogue.department_for("NHC", ["基层卫生健康"]) == "NHC-PHC"
    assert catalogue.department_for("NHC", ["疾病预防控制"]) == "NHC-CDC"
    assert catalogue.department_for("NHC", ["医疗质量"]) is None
    assert catalogue.department_for("P53", ["疾病预防控制"]) is None


# --- the parts of 总体要求, and a top-level heading that lost its number -------------------

TRANSLATED = """\
Full text is as follows:
Action Plan for Safer Blood Transfusion (2026-2027)
I. General requirements
(1) Guiding ideology
Put patient safety first in every transfusion.
2. Work objectives
By 2027, transfusion errors fall markedly in all hospitals.
Scope of application
All blood stations and secondary hospitals.
3. Work tasks
(1) Strengthen the chain
1. Check every bag. Medical institutions shall check every blood bag.
"""


def test_a_part_of_the_general_requirements_stays_under_them_whatever_its_number(catalogue):
    refs = by_ref(draft_plan(TRANSLATED, catalogue))
    assert refs["一.(一)"]["title"] == "Guiding ideology"
    assert refs["一.(二)"]["title"] == "Work objectives"


def test_an_unnumbered_heading_where_a_top_level_number_is_skipped_takes_that_number(catalogue):
    refs = by_ref(draft_plan(TRANSLATED, catalogue))
    assert refs["二"]["title"] == "Scope of application"
    assert refs["二"]["description"] == "All blood stations and secondary hospitals."
    assert "read as 二" in refs["二"]["notes"]
    assert refs["三"]["title"] == "Work tasks"
    assert "三.(一)" in refs
    assert "Scope of application" not in refs["一.(二)"]["description"]


CHINESE_GAP = """\
全省院前急救能力提升方案
一、总体要求
（一）指导思想
以人民健康为中心，提升院前急救水平，缩短急救反应时间，保障群众生命安全。
（二）工作目标
到2027年，全省急救网络覆盖所有县区，城市急救反应时间明显缩短。
实施范围
全省各级急救中心。
三、重点任务
（一）完善急救网络。各州市卫生健康委要于2026年6月底前完成急救站点布局。
"""


def test_a_chinese_heading_without_its_number_between_two_sections(catalogue):
    refs = by_ref(draft_plan(CHINESE_GAP, catalogue))
    assert refs["二"]["title"] == "实施范围"
    assert refs["三.(一)"]["due"] == "2026-06-30"
    assert set(r for r in refs if r.startswith("一")) == {"一", "一.(一)", "一.(二)"}


# --- special actions named in the text without sections of their own -----------------------

SPECIAL = """\
云南省卫生健康委关于印发《全省护理质量提升行动方案》的通知
各州市卫生健康委：
现将方案印发给你们，请认真贯彻执行。
云南省卫生健康委
2025年4月2日
全省护理质量提升行动方案
一、总体要求
本行动部署3项专项行动：护理安全专项行动、“暖心”行动及静脉治疗规范行动。
二、重点任务
（一）加强培训。各州市卫生健康委要于2025年9月底前完成全员培训。
"""


def test_special_actions_named_in_the_text_become_items_of_their_own(catalogue):
    draft = draft_plan(SPECIAL, catalogue)
    refs = by_ref(draft)
    group = refs["专项行动"]
    assert group["title"] == "三项专项行动"
    assert [c["title"] for c in group["children"]] == ["护理安全专项行动", "“暖心”行动", "静脉治疗规范行动"]
    assert [c["ref"] for c in group["children"]] == ["专项行动.(一)", "专项行动.(二)", "专项行动.(三)"]
    assert all("owner" not in c for c in group["children"])  # the text names no owner for them
    assert draft["tasks"][-1] is group


def test_special_actions_with_sections_of_their_own_are_not_repeated(catalogue):
    text = SPECIAL + "三、专项行动\n（一）护理安全专项行动。各州市卫生健康委要组织开展护理安全检查。\n"
    assert "专项行动" not in by_ref(draft_plan(text, catalogue))


@pytest.mark.parametrize(
    "sentence, expected",
    [
        (
            "同时，方案设置了院感防控提升行动、“清源”行动和急救能力提升行动3个专项行动，作为核心任务。",
            ["院感防控提升行动", "“清源”行动", "急救能力提升行动"],
        ),
        (
            'The plan sets up three special actions: "clean hands" action, infection control improvement action, and blood safety action.',
            ['"clean hands" action', "infection control improvement action", "blood safety action"],
        ),
    ],
)
def test_named_special_actions_in_chinese_and_in_translation(sentence, expected):
    assert _named_actions(sentence)[1] == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "本方案提出20条具体措施和4项专项行动。",  # counted, not named
        "方案部署3项专项行动：院感防控提升行动、“清源”行动。",  # two names for three actions
        "The plan proposes 28 measures and 5 special actions.",
    ],
)
def test_a_mere_count_of_special_actions_is_not_read_as_their_names(sentence):
    assert _named_actions(sentence) is None


@pytest.mark.parametrize("text", [TOPICS, CONFERENCE, TRANSLATED, CHINESE_GAP, SPECIAL])
def test_a_docx_with_the_same_text_gives_the_same_draft_under_these_rules(catalogue, text):
    import io

    from docx import Document

    from tracker.importer.draft import read_document, to_seed

    document = Document()
    for line in text.splitlines():
        document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    from_docx = draft_plan(read_document("plan.docx", buffer.getvalue()), catalogue, "plan")
    from_text = draft_plan(read_document("plan.txt", text.encode("utf-8")), catalogue, "plan")
    assert to_seed(from_docx) == to_seed(from_text)
