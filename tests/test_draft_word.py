"""A .docx as Word writes it: auto-numbered headings, headings by style alone, task tables."""

from __future__ import annotations

import io

import pytest
from docx import Document
from docx.oxml import parse_xml

from tracker.importer.draft import Catalogue, CatalogueUnit, draft_plan, read_document, to_seed
from tracker.importer.draft.word import format_number

UNITS = [
    CatalogueUnit("NHC", "国家卫生健康委", "commission", "national", None),
    CatalogueUnit("P53", "云南省卫生健康委", "commission", "provincial", "NHC"),
    CatalogueUnit("KM", "昆明市卫生健康委", "commission", "prefecture", "P53"),
    CatalogueUnit("QJ", "曲靖市卫生健康委", "commission", "prefecture", "P53"),
    CatalogueUnit("P53-QC", "云南省医疗质量控制中心", "qc_center", "provincial", "P53"),
]

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# The same plan typed with its numbers: the auto-numbered document must read exactly like it.
TYPED = """\
云南省卫生健康委关于印发2024年医疗质量提升工作方案的通知
云卫医发〔2024〕18号
各州、市卫生健康委，省医疗质量控制中心：
现将《2024年医疗质量提升工作方案》印发给你们，请认真贯彻执行。
云南省卫生健康委
2024年3月12日
2024年医疗质量提升工作方案
为持续提升医疗质量，制定本方案。
一、工作目标
到2024年底，全省二级以上医院全部建立质量管理委员会。
二、重点任务
（一）健全质控网络。昆明市卫生健康委要于2024年6月30日前完成辖区质控网络建设。
（二）开展专项检查。省医疗质量控制中心每季度开展一次专项检查。
1.制定检查方案。省医疗质量控制中心于2024年4月底前制定检查方案。
2.组织现场检查。曲靖市卫生健康委于2024年9月底前完成现场检查。
三、保障措施
（一）加强组织领导。各州、市卫生健康委要高度重视。
（二）强化督导考核。省医疗质量控制中心于2024年12月31日前报送年度总结。
"""

# (level, text) of each line of TYPED that Word numbers by itself; None = a plain paragraph.
LEVELS = {"一、": 0, "二、": 0, "三、": 0, "（一）": 1, "（二）": 1, "1.": 2, "2.": 2}


def numbering_xml() -> str:
    """A list definition like the one a Chinese Word template uses: 一、 / （一） / 1."""
    return (
        f'<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="90">'
        '<w:multiLevelType w:val="multilevel"/>'
        '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
        '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="（%2）"/></w:lvl>'
        '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>'
        "</w:abstractNum>"
    )


def add_list(document, abstract_xml: str, num_id: int, overrides: dict[int, int] | None = None) -> None:
    numbering = document.part.numbering_part.element
    abstract = parse_xml(abstract_xml)
    first_num = numbering.find(f"{{{W_NS}}}num")
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    override_xml = "".join(
        f'<w:lvlOverride w:ilvl="{level}"><w:startOverride w:val="{start}"/></w:lvlOverride>'
        for level, start in (overrides or {}).items()
    )
    numbering.append(
        parse_xml(
            f'<w:num xmlns:w="{W_NS}" w:numId="{num_id}"><w:abstractNumId w:val="{abstract.get(f"{{{W_NS}}}abstractNumId")}"/>'
            f"{override_xml}</w:num>"
        )
    )


def numbered_paragraph(document, text: str, num_id: int, level: int):
    paragraph = document.add_paragraph(text)
    ppr = paragraph._p.get_or_add_pPr()
    ppr.append(parse_xml(f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))
    return paragraph


def split_number(line: str) -> tuple[int | None, str]:
    for prefix, level in LEVELS.items():
        if line.startswith(prefix):
            return level, line[len(prefix) :]
    return None, line


def saved(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def catalogue():
    return Catalogue(UNITS)


def draft_of(catalogue, filename: str, data: bytes) -> dict:
    return to_seed(draft_plan(read_document(filename, data), catalogue, "plan"))


def walk(tasks):
    for task in tasks:
        yield task
        yield from walk(task.get("children", []))


def test_an_auto_numbered_docx_reads_like_the_text_typed_with_its_numbers(catalogue):
    document = Document()
    add_list(document, numbering_xml(), 90)
    for line in TYPED.splitlines():
        level, text = split_number(line)
        if level is None:
            document.add_paragraph(line)
        else:
            numbered_paragraph(document, text, 90, level)
    typed = draft_of(catalogue, "plan.txt", TYPED.encode())
    auto = draft_of(catalogue, "plan.docx", saved(document))
    assert auto == typed
    refs = [task["ref"] for task in walk(auto["tasks"])]
    assert {"一", "二", "二.(一)", "二.(二)", "二.(二).1", "二.(二).2", "三.(二)"} <= set(refs)
    dues = {task["ref"]: task.get("due") for task in walk(auto["tasks"])}
    assert dues["二.(一)"] == "2024-06-30" and dues["二.(二).2"] == "2024-09-30" and dues["三.(二)"] == "2024-12-31"


def test_word_numbering_restarts_and_start_overrides(catalogue):
    # The second-level count starts again under each top heading; a list instance may start at 3.
    document = Document()
    add_list(document, numbering_xml(), 90)
    add_list(document, numbering_xml().replace('w:abstractNumId="90"', 'w:abstractNumId="91"'), 91, {0: 3})
    numbered_paragraph(document, "甲", 90, 0)
    numbered_paragraph(document, "甲一", 90, 1)
    numbered_paragraph(document, "甲二", 90, 1)
    numbered_paragraph(document, "乙", 90, 0)
    numbered_paragraph(document, "乙一", 90, 1)
    numbered_paragraph(document, "乙一1", 90, 2)
    numbered_paragraph(document, "丙", 91, 0)
    lines = read_document("x.docx", saved(document)).splitlines()
    assert lines == ["一、甲", "（一）甲一", "（二）甲二", "二、乙", "（一）乙一", "1.乙一1", "三、丙"]


def test_a_bullet_list_adds_no_number_and_typed_numbers_are_not_doubled():
    document = Document()
    add_list(
        document,
        numbering_xml().replace(
            'w:val="chineseCounting"/><w:lvlText w:val="%1、"', 'w:val="bullet"/><w:lvlText w:val="•"'
        ),
        90,
    )
    numbered_paragraph(document, "一项说明", 90, 0)
    add_list(document, numbering_xml().replace('w:abstractNumId="90"', 'w:abstractNumId="92"'), 92)
    numbered_paragraph(document, "一、已经手写编号的标题", 92, 0)
    assert read_document("x.docx", saved(document)).splitlines() == ["一项说明", "一、已经手写编号的标题"]


def test_headings_by_style_alone_read_as_numbered_headings(catalogue):
    # 标题 1 / 标题 2 without numbers: the document's own title stays unnumbered when it is the only
    # heading of its level above the others.
    document = Document()
    typed_lines = TYPED.splitlines()
    for line in typed_lines:
        level, text = split_number(line)
        if line == "2024年医疗质量提升工作方案":
            document.add_heading(line, level=1)
        elif level is None or level == 2:
            document.add_paragraph(line)
        else:
            document.add_heading(text, level=level + 2)
    assert draft_of(catalogue, "plan.docx", saved(document)) == draft_of(catalogue, "plan.txt", TYPED.encode())


def test_a_docx_task_table_becomes_one_task_per_row(catalogue):
    document = Document()
    for line in TYPED.splitlines()[:10]:
        document.add_paragraph(line)
    document.add_paragraph("二、重点任务")
    table = document.add_table(rows=1, cols=4)
    for cell, text in zip(table.rows[0].cells, ["序号", "工作任务", "责任单位", "完成时限"]):
        cell.text = text
    rows = [
        ("1", "完成辖区质控网络建设", "昆明市卫生健康委", "2024年6月30日前"),
        ("2", "组织开展现场检查", "曲靖市卫生健康委", "2024年9月底"),
        ("3", "报送年度质控报告", "省医疗质量控制中心", "2024年12月31日前"),
    ]
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row):
            cell.text = text
    document.add_paragraph("三、保障措施")
    document.add_paragraph("各州、市卫生健康委要高度重视。")
    draft = draft_of(catalogue, "plan.docx", saved(document))
    tasks = {task["ref"]: task for task in walk(draft["tasks"])}
    assert [tasks[f"二.{n}"]["title"] for n in (1, 2, 3)] == [
        "完成辖区质控网络建设",
        "组织开展现场检查",
        "报送年度质控报告",
    ]
    assert [tasks[f"二.{n}"]["due"] for n in (1, 2, 3)] == ["2024-06-30", "2024-09-30", "2024-12-31"]
    assert [tasks[f"二.{n}"]["owner"] for n in (1, 2, 3)] == ["KM", "QJ", "P53-QC"]


@pytest.mark.parametrize(
    "value, fmt, shown",
    [
        (3, "chineseCounting", "三"),
        (12, "chineseCountingThousand", "十二"),
        (2, "ideographTraditional", "乙"),
        (4, "decimalEnclosedCircle", "④"),
        (27, "lowerLetter", "aa"),
        (14, "upperRoman", "XIV"),
        (7, "decimal", "7"),
    ],
)
def test_word_number_formats(value, fmt, shown):
    assert format_number(value, fmt) == shown
