"""A .docx read as the lines a person sees: Word's own numbering, headings by style, task tables.

Word keeps the "一、" of an auto-numbered heading out of the paragraph's text: it lives in
numbering.xml (a list definition per level: start, format, the text pattern such as "%1、" or
"（%1）") and the paragraph only names its list and level. `document_lines` computes the number
each paragraph shows, restarts included, and puts it in front of the text, so an auto-numbered
document reads exactly like the same text with its numbers typed. Headings given only by their
style (标题 1/2/3, Heading 1/2/3) without any number get the numbers a typed document would use at
their level. Tables are read where they stand; a task table (序号 / 工作任务 / 责任单位 / 完成时限)
becomes one numbered item per row, its unit and time limit as labelled clauses the extractor reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Optional

from tracker.importer.draft.numbering import int_to_cn as to_chinese

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _val(element, tag: str) -> Optional[str]:
    if element is None:
        return None
    child = element.find(W + tag)
    return None if child is None else child.get(W + "val")


@dataclass
class Level:
    start: int = 1
    fmt: str = "decimal"
    text: str = "%1."
    restart: Optional[int] = None  # restart after this level (1-based) appears; None = after any higher one
    legal: bool = False


@dataclass
class Numbering:
    """numbering.xml: abstract list definitions, the lists (num) that use them, their counters."""

    abstract: dict[str, dict[int, Level]] = field(default_factory=dict)
    lists: dict[str, str] = field(default_factory=dict)  # numId → abstractNumId
    overrides: dict[str, dict[int, int]] = field(default_factory=dict)  # numId → level → start
    counters: dict[str, list[Optional[int]]] = field(default_factory=dict)
    seen: set = field(default_factory=set)

    @classmethod
    def of(cls, document) -> "Numbering":
        numbering = cls()
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return numbering
        for abstract in root.iter(W + "abstractNum"):
            levels = {}
            for lvl in abstract.iter(W + "lvl"):
                restart = _val(lvl, "lvlRestart")
                levels[int(lvl.get(W + "ilvl", "0"))] = Level(
                    start=int(_val(lvl, "start") or 1),
                    fmt=_val(lvl, "numFmt") or "decimal",
                    text=_val(lvl, "lvlText") if _val(lvl, "lvlText") is not None else "",
                    restart=int(restart) if restart is not None else None,
                    legal=lvl.find(W + "isLgl") is not None,
                )
            numbering.abstract[abstract.get(W + "abstractNumId")] = levels
        for num in root.iter(W + "num"):
            num_id = num.get(W + "numId")
            numbering.lists[num_id] = _val(num, "abstractNumId")
            for override in num.iter(W + "lvlOverride"):
                start = _val(override, "startOverride")
                if start is not None:
                    numbering.overrides.setdefault(num_id, {})[int(override.get(W + "ilvl", "0"))] = int(start)
        return numbering

    def label(self, num_id: str, ilvl: int) -> str:
        """The number the paragraph shows (counting it), or "" for a bullet or an unknown list."""
        abstract_id = self.lists.get(num_id)
        levels = self.abstract.get(abstract_id or "")
        if not levels or ilvl not in levels or num_id == "0":
            return ""
        counters = self.counters.setdefault(abstract_id, [None] * 9)
        if num_id not in self.seen:
            self.seen.add(num_id)
            for level, start in self.overrides.get(num_id, {}).items():
                if level < len(counters):
                    counters[level] = start - 1
        level = levels[ilvl]
        counters[ilvl] = level.start if counters[ilvl] is None else counters[ilvl] + 1
        for deeper in range(ilvl + 1, len(counters)):
            restart = levels.get(deeper, Level()).restart
            if restart is None or (restart > 0 and ilvl <= restart - 1):
                counters[deeper] = None
        if level.fmt in ("bullet", "none"):
            return ""

        def shown(match) -> str:
            index = int(match.group(1)) - 1
            value = counters[index] if counters[index] is not None else levels.get(index, Level()).start
            own = levels.get(index, Level())
            return format_number(value, "decimal" if level.legal else own.fmt)

        return re.sub(r"%(\d)", shown, level.text)


ROMAN = [
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
]
HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"


def format_number(value: int, fmt: str) -> str:
    """A counter in one of Word's number formats (w:numFmt)."""
    if fmt in (
        "chineseCounting",
        "chineseCountingThousand",
        "japaneseCounting",
        "chineseLegalSimplified",
        "taiwaneseCounting",
        "taiwaneseCountingThousand",
        "ideographDigital",
    ):
        return to_chinese(value)
    if fmt == "ideographTraditional" and 1 <= value <= 10:
        return HEAVENLY_STEMS[value - 1]
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= value <= 20:
        return chr(0x2460 + value - 1)
    if fmt == "decimalFullWidth":
        return "".join(chr(ord(c) + 0xFEE0) for c in str(value))
    if fmt in ("lowerLetter", "upperLetter") and value >= 1:
        letter = chr(ord("a") + (value - 1) % 26) * ((value - 1) // 26 + 1)
        return letter if fmt == "lowerLetter" else letter.upper()
    if fmt in ("lowerRoman", "upperRoman") and value >= 1:
        out, rest = "", value
        for amount, numeral in ROMAN:
            while rest >= amount:
                out, rest = out + numeral, rest - amount
        return out if fmt == "upperRoman" else out.lower()
    return str(value)


# --- headings by style ------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.I)
_TYPED_NUMBER = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|[（(]\s*[一二三四五六七八九十\d]+\s*[）)]|\d{1,2}\s*[、.．](?!\d)|[①-⑳]|第[一二三四五六七八九十]+[章节条部分])"
)


def heading_level(style) -> Optional[int]:
    """1, 2, 3 ... for a heading style (or a style based on one), else None."""
    seen = 0
    while style is not None and seen < 10:
        match = _HEADING_STYLE.match((style.name or "").strip())
        if match:
            return int(match.group(1))
        style, seen = style.base_style, seen + 1
    return None


def typed_heading(level: int, count: int) -> str:
    """The number a typed Chinese document shows at a heading level: 一、 / （一） / 1. / （1）."""
    if level <= 1:
        return f"{to_chinese(count)}、"
    if level == 2:
        return f"（{to_chinese(count)}）"
    if level == 3:
        return f"{count}."
    return f"（{count}）"


# --- paragraphs' numbering properties ---------------------------------------------------------


def _num_pr(paragraph) -> Optional[tuple[str, int]]:
    """(numId, ilvl) of a paragraph, from its own properties or its style's (through basedOn)."""
    ppr = paragraph._p.pPr
    own = ppr.find(W + "numPr") if ppr is not None else None
    num_id = _val(own, "numId") if own is not None else None
    ilvl = _val(own, "ilvl") if own is not None else None
    style = paragraph.style
    depth = 0
    while (num_id is None or ilvl is None) and style is not None and depth < 10:
        style_ppr = style.element.pPr
        style_num = style_ppr.find(W + "numPr") if style_ppr is not None else None
        if style_num is not None:
            num_id = num_id if num_id is not None else _val(style_num, "numId")
            ilvl = ilvl if ilvl is not None else _val(style_num, "ilvl")
        style, depth = style.base_style, depth + 1
    if num_id is None:
        return None
    return num_id, int(ilvl or 0)


# --- tables ------------------------------------------------------------------------------------

_COLUMNS = {
    "number": re.compile(r"^(?:序号|编号|序)$"),
    "task": re.compile(r"工作任务|主要任务|重点任务|任务|工作内容|具体内容|内容|工作事项|事项|措施"),
    "owner": re.compile(r"责任单位|牵头单位|责任部门|牵头部门|承办单位|主办单位|负责单位|责任处室|实施主体"),
    "co_owner": re.compile(r"配合单位|协办单位|参与单位|配合部门"),
    "due": re.compile(r"完成时限|完成时间|时间节点|时限|时间安排|完成期限|截止时间|进度安排"),
    "deliverable": re.compile(r"成果形式|预期成果|工作成果|成果"),
}


_LABEL_LINE = re.compile(r"^[\u4e00-\u9fff]{2,6}$")


_TASK_LABEL = re.compile(
    r"具体任务|任务内容|工作任务|主要任务|重点任务|工作内容|具体内容|工作事项|工作措施|主要措施|任务"
)


def label_column(line: str) -> Optional[str]:
    """The column a line names when it is a task table's label standing alone ("序号", "责任单位",
    "完成时限", "具体任务"), else None."""
    text = re.sub(r"\s+", "", line).rstrip("：:")
    if not _LABEL_LINE.match(text):
        return None
    if _COLUMNS["number"].fullmatch(text):
        return "number"
    if _TASK_LABEL.fullmatch(text):
        return "task"
    for name in ("owner", "co_owner", "due", "deliverable"):
        if _COLUMNS[name].fullmatch(text):
            return name
    return None


def _columns(header: list[str]) -> Optional[dict[str, int]]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        text = re.sub(r"\s+", "", cell)
        for name, pattern in _COLUMNS.items():
            if name not in found and pattern.search(text) and (name != "task" or not _COLUMNS["owner"].search(text)):
                found[name] = index
                break
    if "task" in found and ("owner" in found or "due" in found):
        return found
    return None


def table_lines(rows: list[list[str]]) -> list[str]:
    """A task table as numbered items (one per row: the task, then 责任单位：… and 完成时限：…),
    any other table as its rows with cells joined by tabs."""
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return []
    columns = _columns(rows[0])
    if columns is None:
        return ["\t".join(cell.strip() for cell in row) for row in rows]
    lines, count = [], 0
    for row in rows[1:]:
        cells = {name: (row[index].strip() if index < len(row) else "") for name, index in columns.items()}
        task = re.sub(r"\s*\n\s*", "", cells.get("task", ""))
        if not task:
            continue
        count += 1
        number = cells.get("number", "")
        number = number if re.fullmatch(r"\d{1,3}", number) else str(count)
        text = task if re.search(r"[。；;]$", task) else task + "。"
        clauses = []
        for name, label in (
            ("owner", "责任单位"),
            ("co_owner", "配合单位"),
            ("due", "完成时限"),
            ("deliverable", "成果形式"),
        ):
            value = re.sub(r"\s+", "", cells.get(name, ""))
            if value:
                clauses.append(f"{label}：{value}")
        lines.append(f"{number}. {text}" + "".join(clause + "。" for clause in clauses))
    return lines


# --- the document --------------------------------------------------------------------------------


def document_lines(document) -> Iterator[str]:
    """The document's paragraphs and tables in their order, each paragraph with the number Word shows."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    numbering = Numbering.of(document)
    body = document.element.body
    items = []
    for child in body.iterchildren():
        if child.tag == W + "p":
            items.append(Paragraph(child, document))
        elif child.tag == W + "tbl":
            items.append(Table(child, document))
    paragraphs = [item for item in items if isinstance(item, Paragraph)]
    style_levels = [heading_level(p.style) if _num_pr(p) is None and p.text.strip() else None for p in paragraphs]
    first_heading = next((index for index, level in enumerate(style_levels) if level), None)
    # A lone top heading before every other one is the document's title, not a numbered section.
    skip_title = (
        first_heading is not None
        and style_levels.count(style_levels[first_heading]) == 1
        and all(level is None or level > style_levels[first_heading] for level in style_levels[first_heading + 1 :])
    )
    shift = 1 if skip_title else 0
    heading_counts = [0] * 10
    paragraph_index = 0
    for item in items:
        if isinstance(item, Table):
            yield from table_lines([[cell.text for cell in row.cells] for row in item.rows])
            continue
        text = item.text
        level = style_levels[paragraph_index]
        paragraph_index += 1
        num = _num_pr(item)
        if num is not None and text.strip():
            label = numbering.label(*num)
            yield (label + text.lstrip()) if label and not _TYPED_NUMBER.match(text) else text
            continue
        if level and not (skip_title and paragraph_index - 1 == first_heading) and not _TYPED_NUMBER.match(text):
            depth = level - shift
            heading_counts[depth] += 1
            for deeper in range(depth + 1, len(heading_counts)):
                heading_counts[deeper] = 0
            yield typed_heading(depth, heading_counts[depth]) + text.strip()
            continue
        yield text
