"""The section tree of a document: numbered items at every depth, plus the unnumbered
structure documents use (a short heading line, "抓存量——", a paragraph led by "区域协同。",
and "一是…二是…" enumerations inside a paragraph).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from tracker.importer.draft.chrome import is_closer
from tracker.importer.draft.numbering import Marker, int_to_cn, parse_marker, ref_segment

NUMBERED = ("cn", "pcn", "num", "pnum", "circ")
_ENUM = re.compile(r"(?:^|(?<=[。；;！？]))\s*(?:其)?([一二三四五六七八九十])(是|要|则|方面|)(?=[^、，。])")


@dataclass
class Node:
    style: str  # cn pcn num pnum circ | head dash lead enum | root
    value: int = 0
    head: str = ""  # the text after the numbering on its own line
    paras: list[str] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    parent: Optional["Node"] = None
    english: bool = False
    segment: str = ""
    notes: list[str] = field(default_factory=list)
    marked: str = ""  # the style the line was written in, before reading it
    unplaced: list[str] = field(default_factory=list)  # root only: lines no item took

    def add(self, child: "Node") -> "Node":
        child.parent = self
        self.children.append(child)
        return child

    @property
    def numbered(self) -> bool:
        return self.style in NUMBERED

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def text(self) -> str:
        return "".join(p if re.search(r"[\u4e00-\u9fff]", p) else p + " " for p in [self.head] + self.paras).strip()


def _title_like(text: str) -> bool:
    stripped = text.rstrip("。.")
    return (
        bool(stripped)
        and not re.search(r"[，。；,;：:]", stripped)
        and len(stripped) <= (60 if re.match(r"[A-Za-z]", stripped) else 18)
    )


def parse_tree(lines: list[str]) -> tuple[Node, list[str]]:
    """The section tree of the body lines, and the preamble before the first section."""
    root = Node("root")
    preamble: list[str] = []
    stack: list[Node] = [root]
    skipping = False
    since: list[
        tuple[Node, Optional[str]]
    ] = []  # paragraphs (node, line) and headings (node, None) since the last numbered line
    for index, line in enumerate(lines):
        if is_closer(line):
            root.unplaced.extend(lines[index + 1 :])
            break
        marker = parse_marker(line)
        if marker is not None:
            if _restore_lost_top(root, stack, marker, since):
                marker = Marker("cn", marker.value, marker.rest, marker.english)
            since = []
            node = _place(root, stack, marker)
            skipping = node is None
            if skipping:
                root.unplaced.append(line)
            continue
        if skipping:
            root.unplaced.append(line)
            continue
        current = stack[-1]
        if current is root:
            preamble.append(line)
            continue
        nxt = lines[index + 1] if index + 1 < len(lines) else ""
        if re.search(r"——+$|—{1,2}$", line) and len(line) <= 24:
            anchor = _numbered_anchor(stack)
            node = anchor.add(Node("dash", head=re.sub(r"[—\-]+$", "", line).strip('“”"')))
            del stack[stack.index(anchor) + 1 :]
            stack.append(node)
            continue
        if (
            _title_like(line)
            and nxt
            and parse_marker(nxt) is None
            and not _title_like(nxt)
            and not is_closer(nxt)
            and not re.search(r"要|应当|应|须|必须|负责|shall|should|must", line)
        ):
            anchor = stack[-1] if stack[-1].style in ("dash",) else _numbered_anchor(stack)
            if anchor.style == "dash" or not any(c.style == "lead" for c in anchor.children):
                node = anchor.add(Node("head", head=line.rstrip("。."), english=bool(re.match(r"[A-Za-z]", line))))
                del stack[stack.index(anchor) + 1 :]
                stack.append(node)
                since.append((node, None))
                continue
        current.paras.append(line)
        since.append((current, line))
    for node in list(root.walk()):
        _split_leads(node)
    for node in list(root.walk()):
        _promote_sides(node)
    for node in list(root.walk()):
        _split_inline_heads(node)
    for node in list(root.walk()):
        _split_enumeration(node)
    for node in list(root.walk()):
        _split_topic_duties(node)
    _assign_segments(root)
    return root, preamble


def _top_candidate(root: Node, stack: list[Node], marker: Marker) -> bool:
    """A line that may number a top-level section: 一、, or '3.' heading a translation's section."""
    if marker.style == "cn":
        return True
    return (
        marker.english
        and marker.style == "num"
        and _title_like(marker.rest)
        and any(c.style == "cn" for c in root.children)
    )


def _restore_lost_top(root: Node, stack: list[Node], marker: Marker, since: list) -> bool:
    """'一、… 行动范围 … 三、…': the top-level number after the last one is skipped, and a
    heading line without a number stands in between: that heading is the missing section,
    its number lost. It takes the lines after it; True when the marker is top-level."""
    tops = [c for c in root.children if c.style == "cn"]
    if not tops or not _top_candidate(root, stack, marker) or marker.value != tops[-1].value + 2:
        return False
    for position, (node, line) in enumerate(since):
        heading = node.head if line is None else line
        if line is not None and not (_title_like(line) and not re.search(r"[。.]$", line)):
            continue
        if line is None and not node.english and len(heading) > 18:
            continue
        lost = root.add(
            Node(
                "cn",
                tops[-1].value + 1,
                heading,
                english=node.english if line is None else bool(re.match(r"[A-Za-z]", line)),
            )
        )
        lost.notes.append(
            f"heading without its number between {ref_segment('cn', tops[-1].value)} and "
            f"{ref_segment('cn', marker.value)}: read as {ref_segment('cn', lost.value)}"
        )
        for later_node, later_line in since[position + 1 :]:
            if later_line is None:
                continue
            if later_line in later_node.paras:
                later_node.paras.remove(later_line)
            lost.paras.append(later_line)
        if line is None:  # a heading node: its own paragraphs move with it
            lost.paras = node.paras + [p for p in lost.paras if p not in node.paras]
            node.parent.children.remove(node)
        elif line in node.paras:
            node.paras.remove(line)
        del stack[1:]
        stack.append(lost)
        return True
    return False


def _numbered_anchor(stack: list[Node]) -> Node:
    for node in reversed(stack):
        if node.numbered or node.style == "root":
            return node
    return stack[0]


# 总体要求 (general requirements) holds the plan's 指导思想, 基本原则 and 目标: parts of it,
# never sections of their own, whatever numbering a copy gives them.
_GENERAL_SECTION = re.compile(r"总体要求|总体思路|general requirements?|overall requirements?", re.I)
_GENERAL_PART = re.compile(
    r"^(?:指导思想|基本原则|工作原则|(?:工作|行动|主要|总体)?目标(?:任务)?|工作思路"
    r"|guiding (?:ideology|thought|principles?)|(?:basic|working) principles?|(?:work|action|main|overall) (?:objectives?|goals?|targets?)|objectives?|goals?)[。.]?\s*$",
    re.I,
)


def _place(root: Node, stack: list[Node], marker: Marker) -> Optional[Node]:
    """Put a numbered line in the tree; None when it repeats an item (a translated copy)."""
    style = marker.style
    numbered_stack = [n for n in stack if n.numbered]
    if style == "lost":  # ")推行…": the bracket and number were lost; the next of its level
        style = "pcn"
        siblings_parent = next((n.parent for n in reversed(numbered_stack) if n.style == "pcn"), None)
        last = [c for c in (siblings_parent.children if siblings_parent else []) if c.style == "pcn"]
        marker = Marker("pcn", (last[-1].value + 1) if last else 1, marker.rest)
        repaired = True
    else:
        repaired = False
    if style == "num" and _GENERAL_PART.match(marker.rest):
        top = next((n for n in reversed(numbered_stack) if n.style == "cn"), None)
        parts = [c for c in top.children if c.style == "pcn"] if top is not None else []
        if parts and _GENERAL_SECTION.search(top.head) and marker.value == parts[-1].value + 1:
            style = "pcn"  # '2. Action objectives' after '(1) Guiding ideology': a part of the general requirements
            marker = Marker("pcn", marker.value, marker.rest, marker.english)
    if marker.english and style == "num" and _title_like(marker.rest):
        tops = [c for c in root.children if c.style == "cn"]
        if tops and marker.value == tops[-1].value + 1:
            style = "cn"  # a translation numbering a top-level heading "5." after "Iv."
    if (
        marker.english
        and style == "num"
        and numbered_stack
        and (
            numbered_stack[-1].style == "cn"
            or (numbered_stack[-1].style == "pcn" and numbered_stack[-1].marked == "num")
        )
    ):
        style = "pcn"  # "1." directly under a top-level heading of a translation stands for （一）
    if style == "cn":
        parent = root
    else:
        same = next((n for n in reversed(numbered_stack) if n.style == style), None)
        if same is not None:
            parent = same.parent
        else:
            deeper_than = [
                n for n in numbered_stack if n.style in NUMBERED and NUMBERED.index(n.style) < NUMBERED.index(style)
            ]
            parent = deeper_than[-1] if deeper_than else (numbered_stack[-1] if numbered_stack else root)
    if any(c.numbered and c.style == style and c.value == marker.value for c in parent.children):
        return None  # the same number again at the same place: a repeated (translated) text
    node = parent.add(Node(style, marker.value, marker.rest, english=marker.english, marked=marker.style))
    if repaired:
        node.notes.append(f"numbering lost (the line began with ')'): read as {ref_segment('pcn', marker.value)}")
    while stack and stack[-1] is not parent:
        stack.pop()
    if not stack:
        stack.append(root)
    stack.append(node)
    return node


_LEAD = re.compile(r"^[“\"]?([^，。；：,;:“”\"（）()]{2,20})[”\"]?[。.](?=\S)")
_SIDES = re.compile(r"^(?:一方面|另一方面|其一|其二|一则|二则)(?:要|是)?")
_INLINE_HEAD = re.compile(r"(?:^|(?<=[。；]))([^，。；：,;:“”\"（）()]{2,8})。(?=[^。]{6,})")
_COMMA_LEAD = re.compile(r"^([^，。；：,;:“”\"（）()]{2,6})[，,](?=\S)")


def _split_leads(node: Node) -> None:
    """Paragraphs led by a short phrase ('区域协同。加强…'), two or more in a row, become items."""
    if node.children and any(c.numbered for c in node.children):
        return
    paras = node.paras
    leads = [bool(_LEAD.match(p)) or (node.style == "dash" and bool(_COMMA_LEAD.match(p))) for p in paras]
    runs = sum(1 for i in range(len(paras) - 1) if leads[i] and leads[i + 1])
    if runs == 0:
        return
    kept: list[str] = []
    current: Optional[Node] = None
    for para, is_lead in zip(paras, leads):
        if is_lead:
            match = _LEAD.match(para) or _COMMA_LEAD.match(para)
            current = node.add(Node("lead", head=match.group(1), paras=[para[match.end() :].strip()]))
        elif current is not None:
            current.paras.append(para)
        else:
            kept.append(para)
    node.paras = kept


def _promote_sides(node: Node) -> None:
    """'事前——一方面要完善…。另一方面要把好…。': the two sides are items of their own,
    each titled with the heading ('事前：完善…')."""
    if node.style != "dash" or node.paras or len(node.children) < 2:
        return
    if not all(c.style == "lead" and _SIDES.match(c.head) for c in node.children):
        return
    parent = node.parent
    index = parent.children.index(node)
    for child in node.children:
        child.style = "head"
        child.head = f"{node.head}：{_SIDES.sub('', child.head)}"
        child.parent = parent
    parent.children[index : index + 1] = node.children


def _split_inline_heads(node: Node) -> None:
    """'机构管理政策。修订…。专科管理政策。完善…': short heads inside one paragraph, two or more."""
    if node.children or node.style == "root":
        return
    text = "".join(node.paras)
    heads = [
        m
        for m in _INLINE_HEAD.finditer(text)
        if not re.match(r"^(?:一|二|三|四|五|六|七|八|九|十)(?:是|要)", m.group(1))
    ]
    if len(heads) < 2:
        return
    before = text[: heads[0].start()].strip()
    for number, match in enumerate(heads):
        end = heads[number + 1].start() if number + 1 < len(heads) else len(text)
        node.add(Node("lead", head=match.group(1), paras=[text[match.end() : end].strip()]))
    node.paras = [before] if before else []


def _split_enumeration(node: Node) -> None:
    """'一是…。二是…。三是…' (or 一要/二要) inside an item's text become its sub-items."""
    if node.children:
        return
    text = "".join(node.paras) if node.paras else ""
    head_text = node.head
    source, in_head = (text, False)
    matches = _enum_matches(source)
    if len(matches) < 2:
        source, in_head = (head_text, True)
        matches = _enum_matches(head_text)
        if len(matches) < 2:
            return
    before = source[: matches[0].start()].strip()
    for number, match in enumerate(matches, start=1):
        end = matches[number].start() if number < len(matches) else len(source)
        chunk = source[match.end() : end].strip()
        node.add(Node("enum", number, head=chunk))
    if in_head:
        node.head = before
    else:
        node.paras = [before] if before else []


_DUTY = re.compile(r"要|应当|应|须|持续|加强|完善|推进|推动|建立|健全|落实|提升|开展|强化|做好|加快|巩固")
_FRAMING = re.compile(r"^[^，。；,;]*?(?:的基础上|的同时|的是|之外)[，,]\s*(?:要|还要|应)?")


def _split_topic_duties(node: Node) -> None:
    """'医疗质量与安全——' over one paragraph of several sentences, each a duty of its own
    ('…要加强X建设。持续完善Y。要持续加强Z。'): the topic heading lists its duties, one item
    per sentence. The item is titled with the duty itself, without a framing clause such as
    '在…的基础上，' or '需要强调的是，'."""
    if node.style != "dash" or node.children or not node.paras:
        return
    sentences = [s for s in re.findall(r"[^。！？]+[。！？]?", "".join(node.paras)) if s.strip("。！？ ")]
    if len(sentences) < 2 or not all(_DUTY.search(s) for s in sentences):
        return
    for sentence in sentences:
        sentence = sentence.strip()
        title = _FRAMING.sub("", sentence).rstrip("。！？")
        title = re.sub(r"^(?:要|还要|应)", "", title)
        node.add(Node("lead", head=title, paras=[sentence] if title != sentence.rstrip("。！？") else []))
    node.paras = []


def _enum_matches(text: str) -> list:
    found = []
    expected = 1
    word = None
    for match in _ENUM.finditer(text):
        value = "一二三四五六七八九十".index(match.group(1)) + 1
        if value != expected or (word is not None and match.group(2) != word):
            continue
        if match.group(2) == "" and value == 1:
            continue  # a bare 一 is not an enumeration
        word = match.group(2)
        found.append(match)
        expected += 1
    if found and found[0].group(2) == "":
        return []
    return found


def _assign_segments(root: Node) -> None:
    for node in root.walk():
        if node is root:
            continue
        if node.numbered:
            node.segment = ref_segment(node.style, node.value)
    for node in root.walk():
        ordinal = 0
        used = {c.segment for c in node.children if c.numbered}
        for child in node.children:
            if child.numbered:
                continue
            ordinal = ordinal + 1
            while str(ordinal) in used:
                ordinal += 1
            child.segment = str(ordinal) if child.style != "enum" else str(child.value)
            used.add(child.segment)


def refs(root: Node) -> dict[int, str]:
    """id(node) → ref. Items numbered straight through several groups (13 under （二）
    continuing 12 under （一）) keep their number unique under the section: 四.13."""
    result: dict[int, str] = {}
    running: set[int] = set()
    for node in root.walk():
        groups = [c for c in node.children if c.numbered]
        previous_last = None
        for group in groups:
            nums = [c for c in group.children if c.style == "num"]
            if nums and previous_last is not None and nums[0].value == previous_last + 1 and nums[0].value != 1:
                running.add(id(node))
            if nums:
                previous_last = nums[-1].value
    for node in root.walk():
        if node is root:
            continue
        parent = node.parent
        if node.style == "num" and parent is not None and parent.parent is not None and id(parent.parent) in running:
            base = result.get(id(parent.parent), "")
        else:
            base = result.get(id(parent), "") if parent is not None else ""
        result[id(node)] = f"{base}.{node.segment}" if base else node.segment
    return result


__all__ = ["Node", "parse_tree", "refs", "int_to_cn"]
