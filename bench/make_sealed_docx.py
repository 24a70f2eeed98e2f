"""Build the .docx members of the sealed set (bench/importer_docs/sealed/) from their stored texts.

    .venv/bin/python bench/make_sealed_docx.py

- jinzhong_family_planning_2020.docx: the text of jinzhong_family_planning_2020.txt with its 一、/（一）/1.
  headings numbered by Word (numbering.xml: chineseCounting 一、, chineseCounting (一), decimal 1.), the
  typed numbers taken off, so the set measures the auto-numbering path against the same truth;
- tongxin_tasks_2023.docx: the row of tongxin_tasks_2023.txt as a Word task table
  (具体任务 / 责任单位 / 配合单位 / 完成时限).

The files are made once and kept; the truth files were written from the texts before any of this ran.
"""

from __future__ import annotations

import re
from pathlib import Path

from docx import Document
from docx.oxml import parse_xml

SEALED = Path(__file__).resolve().parent / "importer_docs" / "sealed"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
ABSTRACT = (
    f'<w:abstractNum xmlns:w="{W_NS}" w:abstractNumId="70">'
    '<w:multiLevelType w:val="multilevel"/>'
    '<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="%1、"/></w:lvl>'
    '<w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="(%2)"/></w:lvl>'
    '<w:lvl w:ilvl="2"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%3."/></w:lvl>'
    "</w:abstractNum>"
)
TYPED_NUMBER = [
    (0, re.compile(r"^[一二三四五六七八九十]+、")),
    (1, re.compile(r"^[(（][一二三四五六七八九十]+[)）]")),
    (2, re.compile(r"^\d+\.")),
]


def add_list(document, num_id: int) -> None:
    numbering = document.part.numbering_part.element
    abstract = parse_xml(ABSTRACT)
    first_num = numbering.find(f"{{{W_NS}}}num")
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(parse_xml(f'<w:num xmlns:w="{W_NS}" w:numId="{num_id}"><w:abstractNumId w:val="70"/></w:num>'))


def auto_numbered(text: str):
    document = Document()
    add_list(document, 70)
    for line in text.splitlines():
        stripped = line.strip()
        for level, pattern in TYPED_NUMBER:
            match = pattern.match(stripped)
            if match:
                paragraph = document.add_paragraph(stripped[match.end() :])
                paragraph._p.get_or_add_pPr().append(
                    parse_xml(f'<w:numPr xmlns:w="{W_NS}"><w:ilvl w:val="{level}"/><w:numId w:val="70"/></w:numPr>')
                )
                break
        else:
            document.add_paragraph(line)
    return document


def task_table(text: str):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    labels = lines[0::2]
    cells = lines[1::2]
    document = Document()
    table = document.add_table(rows=2, cols=len(labels) + 1)
    for column, value in enumerate(["序号", *labels]):
        table.cell(0, column).text = value
    for column, value in enumerate(["1", *cells]):
        table.cell(1, column).text = value
    return document


def main() -> None:
    jinzhong = (SEALED / "jinzhong_family_planning_2020.txt").read_text(encoding="utf-8")
    auto_numbered(jinzhong).save(SEALED / "jinzhong_family_planning_2020.docx")
    tongxin = (SEALED / "tongxin_tasks_2023.txt").read_text(encoding="utf-8")
    task_table(tongxin).save(SEALED / "tongxin_tasks_2023.docx")


if __name__ == "__main__":
    main()
