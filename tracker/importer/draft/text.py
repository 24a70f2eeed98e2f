"""Reading a policy document into clean lines: .txt or .docx in, the same text out.

A .docx is read paragraph by paragraph (python-docx), so a document saved from Word gives the
same lines as its plain-text copy. Then the text is normalised: odd spaces, the line-wrap
spaces a PDF copy leaves between Chinese characters, and words broken across lines or pages.
"""

from __future__ import annotations

import io
import re
import unicodedata

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


def normalise(text: str) -> tuple[list[str], list[str]]:
    """(clean lines, dropped page-chrome lines): page-break and line-wrap damage undone,
    blank lines and web-page chrome dropped."""
    from tracker.importer.draft.chrome import is_chrome

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u3000", " ").replace("\xa0", " ").replace("\t", " ").replace("\u200b", "")
    text = text.replace("査", "查")  # a variant character common in copied text
    raw = [unicodedata.normalize("NFC", line).strip() for line in text.split("\n")]
    lines = [_squeeze(re.sub(r" {2,}", " ", line)) for line in raw]
    lines = [piece for line in lines for part in _RUN_ON.split(line) for piece in _split_head_from_first_item(part)]
    kept = [line for line in lines if line and not is_chrome(line)]
    dropped = [line for line in lines if line and is_chrome(line)]
    return _join_broken(kept), dropped


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
