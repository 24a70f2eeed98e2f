"""Rules of the policy-document genre the draft importer reads, each on a short document
written for its test (other numbering, dates and units than the seed documents)."""
from __future__ import annotations

import pytest

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan

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
        "加强村卫生室标准化建设", "持续推进家庭医生签约服务扩面，以慢病管理为重点", "持续加强基层药品供应保障"]
    assert refs["一.1.1"]["description"].startswith("在完善乡镇卫生院设备配置的基础上")
    assert "一.1.4" not in refs
    # one sentence under its topic: the topic is the item
    assert refs["一.2"]["title"] == "服务质量" and not refs["一.2"].get("children")


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




@pytest.mark.parametrize("text", [TOPICS, TRANSLATED, CHINESE_GAP])
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
