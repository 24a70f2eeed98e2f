"""Reading a policy document into clean lines: .txt or .docx in, the same text out.

A .docx is read paragraph by paragraph (python-docx), so a document saved from Word gives the
same lines as its plain-text copy. Then the text is normalised: odd spaces, the line-wrap
spaces a PDF copy leaves between Chinese characters, and words broken across lines or pages.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata
from typing import Optional

CJK = r"\u3400-\u9fff\uf900-\ufaff"
CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef“”‘’《》〔〕【】—…"
_SPACE_BETWEEN = re.compile(
    rf"(?<=[{CJK}{CJK_PUNCT}])[ \t]+(?=[{CJK}{CJK_PUNCT}0-9%A-Za-z])|(?<=[0-9%A-Za-z])[ \t]+(?=[{CJK}{CJK_PUNCT}])"
)
SENTENCE_END = "。；;！!？?：:）)」』”\"'"
_NUMBERED_START = re.compile(
    r"^\s*(?:[-•·●]\s*)?(?:[一二三四五六七八九十]+\s*[、.．]|[（(]\s*[一二三四五六七八九十\dIVXivx]+\s*[）)]|\d{1,2}\s*[、.．](?!\d)|[①-⑳]|[）)])"
)


class DocumentError(ValueError):
    """The uploaded file cannot be read as a document."""


def read_document(filename: str, data: bytes) -> str:
    """The text of a .txt (UTF-8, UTF-16 or GB18030) or .docx file."""
    name = (filename or "").lower()
    if name.endswith(".docx") or data[:2] == b"PK":
        from tracker.office_archive import check_office_archive

        check_office_archive(data)  # ArchiveRefused before python-docx inflates anything
        return _read_docx(data)
    if name.endswith(".doc") or data[:4] == b"\xd0\xcf\x11\xe0":
        raise DocumentError("old Word .doc files are not supported: save the document as .docx or .txt")
    return _decode(data)


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DocumentError("the file is neither UTF-8 nor GB18030 text")


def _read_docx(data: bytes) -> str:
    from docx import Document  # python-docx

    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # a broken zip, not a Word document
        raise DocumentError("the file is not a readable .docx document") from exc
    from tracker.importer.draft.word import document_lines

    return "\n".join(document_lines(document))


# A page that annotates every character with its pinyin ("印發(fā)了"): the annotations are debris.
_RUBY = re.compile(r"(?<=[\u4e00-\u9fff])\((?:[a-zü]*[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ][a-zü]*|[a-z]{1,6}\d)\)")
TRADITIONAL_SHARE = 0.05  # of the CJK characters that differ in simplified: a traditional-character copy


@functools.lru_cache(maxsize=1)
def _to_simplified():
    import opencc  # OpenCC, the conversion tables of its upstream project

    return opencc.OpenCC("t2s")


def simplified(text: str) -> tuple[str, list[str]]:
    """The text as the rules read it, with what was repaired: a copy in traditional characters
    (國家衛生健康委) is read in simplified ones, a pinyin annotation after each character dropped."""
    repairs = []
    stripped, count = _RUBY.subn("", text)
    if count >= 3:
        text = stripped
        repairs.append(f"{count} pinyin annotations after characters (印發(fā)) removed")
    cjk = set(re.findall(r"[\u4e00-\u9fff]", text))
    if cjk:
        converter = _to_simplified()
        changed = {c for c in cjk if converter.convert(c) != c}
        occurrences = re.findall(r"[\u4e00-\u9fff]", text)
        share = sum(1 for c in occurrences if c in changed) / len(occurrences)
        if share >= TRADITIONAL_SHARE:
            text = converter.convert(text)
            repairs.append(f"the text is in traditional characters ({share:.0%} of them): read in simplified ones")
    return text, repairs


def normalise(text: str) -> tuple[list[str], list[str]]:
    """(clean lines, dropped page-chrome lines): page-break and line-wrap damage undone,
    blank lines and web-page chrome dropped."""
    from tracker.importer.draft.chrome import is_chrome

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u3000", " ").replace("\xa0", " ").replace("\u200b", "")
    text = text.replace("査", "查")  # a variant character common in copied text
    raw = [unicodedata.normalize("NFC", line).strip() for line in text.split("\n")]
    raw = [line.replace("\t", " ") for line in _task_records(_tab_tables([line for line in raw if line]))]
    lines = [_squeeze(re.sub(r" {2,}", " ", line)) for line in raw]
    lines = [piece for line in lines for part in _RUN_ON.split(line) for piece in _split_head_from_first_item(part)]
    lines = [piece for line in lines for piece in _split_addressees(line)]
    kept = [line for line in lines if line and not is_chrome(line)]
    dropped = [line for line in lines if line and is_chrome(line)]
    return _join_broken(kept), dropped


def _tab_tables(lines: list[str]) -> list[str]:
    """A task table copied as text, its cells separated by tabs (序号 / 工作任务 / 责任单位 / 完成时限
    on the first row): one numbered item per row, as a Word table is read."""
    from tracker.importer.draft.word import table_lines

    out: list[str] = []
    index = 0
    while index < len(lines):
        if lines[index].count("\t") >= 2:
            end = index
            while end < len(lines) and lines[end].count("\t") >= 1:
                end += 1
            block = [line.split("\t") for line in lines[index:end]]
            out.extend(table_lines(block) if len(block) > 1 else lines[index:end])
            index = end
        else:
            out.append(lines[index])
            index += 1
    return out


def _task_records(lines: list[str]) -> list[str]:
    """A task table as a web page renders it, each cell under its label on its own line
    ("具体任务" / its text / "责任单位" / its units / "完成时限" / its time): one numbered item per
    record, as the same table in Word is read. A label seen again starts the next record; the
    last label's cell ends with its line."""
    from tracker.importer.draft.word import label_column, table_lines

    out: list[str] = []
    index = 0
    while index < len(lines):
        if label_column(lines[index]) is None:
            out.append(lines[index])
            index += 1
            continue
        table = _cell_table(lines, index)
        if table is not None:
            rows, index = table
            out.extend(table_lines(rows))
            continue
        if label_column(lines[index]) == "number":
            out.append(lines[index])
            index += 1
            continue
        labels: list[str] = []
        records: list[dict[str, str]] = [{}]
        cursor, current = index, None
        while cursor < len(lines):
            line = lines[cursor]
            if label_column(line) is not None:
                if line in records[-1]:
                    records.append({})
                if line not in labels:
                    labels.append(line)
                current = line
                records[-1][current] = ""
            elif line:
                if records[-1][current] and current == labels[-1] and len(records[-1]) == len(labels):
                    break  # past the last cell of the last record
                records[-1][current] += line
            cursor += 1
        columns = {label_column(label) for label in labels}
        if "task" not in columns or not columns & {"owner", "due"} or not all(records[-1].values()):
            out.append(lines[index])
            index += 1
            continue
        out.extend(table_lines([labels] + [[record.get(label, "") for label in labels] for record in records]))
        index = cursor
    return out


def _cell_table(lines: list[str], index: int) -> Optional[tuple[list[list[str]], int]]:
    """A table copied from a web page one cell per line: its header's labels on consecutive lines
    ("序号" / "工作任务" / "责任单位" / "完成时限"), then its rows, each opening with its number when the
    table numbers them. (rows with the header first, the index after the table) or None. A row
    with more lines than cells has its task broken over lines; with fewer, its last cells empty."""
    from tracker.importer.draft.word import label_column

    labels = []
    cursor = index
    while cursor < len(lines) and label_column(lines[cursor]) is not None and len(labels) < 8:
        labels.append(lines[cursor])
        cursor += 1
    columns = [label_column(label) for label in labels]
    if len(labels) < 3 or len(set(columns)) < len(columns) or "task" not in columns:
        return None
    if not {"owner", "due"} & set(columns):
        return None
    body: list[str] = []
    while cursor < len(lines) and lines[cursor] and label_column(lines[cursor]) is None:
        if parse_marker_like(lines[cursor]) and columns[0] != "number":
            break
        body.append(lines[cursor])
        cursor += 1
    rows: list[list[str]] = []
    width = len(labels)
    if columns[0] == "number":
        starts = []
        for position, line in enumerate(body):
            if line.strip() == str(len(starts) + 1):
                starts.append(position)
        if not starts or starts[0] != 0:
            return None
        for number, begin in enumerate(starts):
            cells = body[begin + 1 : starts[number + 1] if number + 1 < len(starts) else len(body)]
            if number + 1 == len(starts):  # the last row ends with its own cells; the text goes on after it
                taken = max(width - 1, 1)
                cursor -= len(cells) - min(len(cells), taken)
                cells = cells[:taken]
            rows.append([body[begin]] + _fit(cells, columns[1:]))
    else:
        if len(body) < width:
            return None
        count = len(body) // width
        cursor -= len(body) - count * width
        rows = [body[r * width : (r + 1) * width] for r in range(count)]
    return [labels] + rows, cursor


def _fit(cells: list[str], columns: list[Optional[str]]) -> list[str]:
    if len(cells) > len(columns) and "task" in columns:  # a task broken over lines
        at = columns.index("task")
        extra = len(cells) - len(columns)
        cells = cells[:at] + ["".join(cells[at : at + extra + 1])] + cells[at + extra + 1 :]
    return cells + [""] * (len(columns) - len(cells))


def parse_marker_like(line: str) -> bool:
    return bool(re.match(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[）)])", line))


# Numbering run together on one line ("一、总体要求。（一）指导思想。…1.…"): split before each number
# that follows the end of a sentence.
_RUN_ON = re.compile(
    r"(?<=[。；！？;])\s*(?=(?:[一二三四五六七八九十]+\s*、|[（(]\s*[一二三四五六七八九十]+\s*[）)]|\d{1,2}\s*[.．、](?![\d.．])))"
)

# A heading run together with its first numbered item and no stop between them
# ("一、报告的主要情况 1. 地方党政领导…"): split before the item "1." that follows the heading's words.
_HEAD_THEN_FIRST_ITEM = re.compile(
    rf"^([一二三四五六七八九十]{{1,3}}、[^。；;，,\d]{{1,20}}?[{CJK}])\s*(?=1\s*[.．](?![\d.．]))"
)


# The addressees run together with the text ("各省、自治区、直辖市中医药管理部门，…卫生局: 8月31日，我局…"):
# the 主送 line ends at its colon.
_ADDRESSEES_THEN_TEXT = re.compile(r"^(各[^。；;！？:：「」《》]{4,118}?[:：])\s*(?=\S)")


def _split_addressees(line: str) -> list[str]:
    match = _ADDRESSEES_THEN_TEXT.match(line)
    if not match or re.search(r"要|应|须|务必|请", match.group(1)):
        return [line]
    return [match.group(1), line[match.end() :]]


def _split_head_from_first_item(line: str) -> list[str]:
    match = _HEAD_THEN_FIRST_ITEM.match(line)
    return [match.group(1), line[match.end() :]] if match else [line]


_DIGIT_GAP = re.compile(rf"(?<=[{CJK}])[ ]+(?=[0-9])|(?<=[0-9%])[ ]+(?=[{CJK}])")


def _squeeze(line: str) -> str:
    """Remove the spaces a PDF copy leaves inside Chinese text ('质控 管理体系', '2024 年');
    a short line keeps its spaces between words (a signature: 'X办公厅 Y办公室')."""
    if len(line) >= 24:
        return _SPACE_BETWEEN.sub("", line)
    return _DIGIT_GAP.sub("", line)


def _join_broken(lines: list[str]) -> list[str]:
    """Join a line broken inside a sentence (a wrapped paragraph or a page break) to its rest."""
    out: list[str] = []
    for line in lines:
        if not line:
            continue
        if out and _continues(out[-1], line):
            out[-1] = out[-1] + ("" if _is_cjk_edge(out[-1], line) else " ") + line
        else:
            out.append(line)
    return out


def _is_cjk_edge(left: str, right: str) -> bool:
    return bool(re.match(rf"[{CJK}{CJK_PUNCT}0-9]", right[0])) and bool(re.match(rf"[{CJK}{CJK_PUNCT}0-9]", left[-1]))


def _continues(previous: str, line: str) -> bool:
    if _NUMBERED_START.match(line):
        return False
    if line[-1:] in ":：" and _ADDRESSEES_THEN_TEXT.match(line + " ."):
        return False  # the addressees (主送) stand on a line of their own
    if previous.count("《") > previous.count("》"):
        return True  # a title broken inside its book-title marks
    if (
        previous[-1] in SENTENCE_END
        or previous.endswith("——")
        or re.search(r"(?:通知|通报|意见|方案|要点|计划|办法|决定|批复)$", previous)
    ):
        return False
    if _NUMBERED_START.match(previous) and not re.search(r"[。；;]", previous) and len(previous) < 40:
        return False  # a numbered heading line; its text follows on the next line
    if not re.search(rf"[{CJK}]", previous + line):
        return False  # English: lines are paragraphs
    # A wrapped paragraph: the broken line is long; short lines are headings, names, dates.
    return len(previous) >= 24


def split_sentences(text: str) -> list[str]:
    """Sentences ending in 。；！？ (Chinese) or '. ' (English), each with its end mark."""
    parts = re.findall(r"[^。；;！!？?]*[。；;！!？?]+[”’」』）)]?|[^。；;！!？?]+$", text)
    sentences = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if not re.search(rf"[{CJK}]", part):
            sentences.extend(s.strip() for s in re.split(r"(?<=[a-z0-9)\]][.;])\s+(?=[A-Z])", part) if s.strip())
        else:
            sentences.append(part)
    return sentences
