"""From a document's text to a draft plan in the seed-plan format (seed_plans/README.md).

`draft_plan(text, catalogue)` returns a dict with the plan fields and its task tree; every task
carries `sources`: for each field found, the sentence it was read from, so a reviewer can check
it. `to_seed(draft)` turns the draft into a plain seed-plan mapping (sources into `notes`),
which tracker.importer.schema validates and tracker.importer.seed loads.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

from tracker.importer.draft.chrome import is_closer as _is_closer
from tracker.importer.draft.dates import DateHit, find_cadence, find_dates
from tracker.importer.draft.numbering import cn_to_int, int_to_cn, is_english, parse_marker
from tracker.importer.draft.owners import LEVELS, Catalogue, Owner
from tracker.importer.draft.structure import Node, parse_tree, refs
from tracker.importer.draft.text import normalise, simplified, split_sentences

DOC_NUMBER = re.compile(
    r"([\u4e00-\u9fa5]{2,12})\s*([〔\[［(（]?)\s*((?:19|20)\d{2})\s*([〕\]］)）]?)\s*(\d{1,4})\s*(号?)"
)
FULL_TEXT = re.compile(
    r"(?:全文如下|以下为全文|附全文|Full text is as follows|The full text is as follows)[:：。.]?\s*$", re.I
)
NOTICE_TITLE = re.compile(r"关于印发\s*《?(.+?)》?\s*的通知")
OWN_CITED_DOC = re.compile(
    r"(?:我局|我委|本局|本委|我厅|本厅|我办|本办)[^，。；]{0,12}?(?:印发|下发|制定|发布)了?《[^》]{2,60}》"
    r"\s*[（(]([\u4e00-\u9fa5]{2,12}〔(?:19|20)\d{2}〕\d{1,4}号)[）)]"
)
# A notice titled by its own matter ("关于进一步做好…工作的通知"), on one line or broken over two.
OWN_TITLE = re.compile(r"^(?:[\u4e00-\u9fa5]{2,24}?)?关于[^，。；：:]{4,80}?的(?:通知|意见|通报|决定|函|方案)$")
# "发布时间:2020-03-14" / "成文日期：2021年5月7日" in a page's metadata block or under the title:
# the document's date, the label naming which one (成文 over 印发 over 发布 over 生效).
ISSUED_LABEL = re.compile(
    r"(成文日期|发文日期|印发日期|发布日期|发布时间|发表时间|生效日期)\s*[:：]?\s*"
    r"((?:19|20)\d{2})\s*[-年./]\s*(\d{1,2})\s*[-月./]\s*(\d{1,2})"
)
ISSUED_LABEL_RANK = ("成文日期", "发文日期", "印发日期", "发布日期", "发布时间", "发表时间", "生效日期")
DATE_LINE = re.compile(r"^((?:19|20)\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
DAMAGED_DATE_LINE = re.compile(r"^((?:19|20)\d{2})\s*年\s*(\d{3,4})\s*日?$")
ISO_DATE_LINE = re.compile(r"^((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})$")
YEAR_RANGE = re.compile(r"((?:19|20)\d{2})\s*年?\s*(?:至|到|-|—|–|~)\s*((?:19|20)\d{2})\s*年")
MODAL = re.compile(
    r"要|应当|应|须|必须|负责|将|牵头|于|务必|可|shall|should|must|will|are responsible|is responsible|hold|take", re.I
)
OBJECT_VERBS = re.compile(
    r"指导|鼓励|组织|督促|要求|推动|支持|引导|协助|配合|会同|对|向|为|与|guide|urge|encourage", re.I
)
DELIVERABLE = re.compile(
    r"(?:制定|制订|印发|上交|提交|上报|报送|形成|撰写|编写|编制|建立|出台|发布|修订|完成)(?:并|和|、)?(?:印发|报送|完善|实施|上报)?"
    r"(?P<what>《[^》]{2,40}》(?:（[^）]{1,10}）)?|[^，。；、,;：:]{0,24}?(?:总结报告|分析报告|工作报告|工作总结|工作计划|工作方案|实施方案|方案|计划|报告|总结|制度|目录|清单|指南|共识|年鉴|台账|规划|标准|办法|细则|指导原则|名录|意见|指标体系|政策))"
)
FILING = re.compile(r"报([^，。；]{2,30}?)备案")
GUIDING = re.compile(r"(?:指导思想|总体要求|工作目标|基本原则|主要目标|总体目标|行动目标|目标任务)")
PHASE_WORDS = re.compile(r"阶段|phase|stage", re.I)
# The issuing body's own work: laws, regulations, national standards, plans, catalogues and
# indicator systems are made by the body that issues the plan, not by its addressees.
_INSTRUMENT = (
    r"(?:标准|条例|法》|法律|法规|规章|规划|指导原则|目录|名录|指标体系|评估体系|信息库|政策|规范(?!化)|建设方案)"
)
ISSUER_WORK = re.compile(
    rf"(?:研究|加快|抓紧)?(?:制定|制订|修订|修改|出台|印发|调整|编制|完善|建立)[^，。；,;]{{0,28}}?{_INSTRUMENT}"
    rf"|《[^》]{{2,30}}(?:法|条例)》(?:的)?(?:制定|修订|修改)"
)
FIELD_OF_WORK = re.compile(r"([\u4e00-\u9fff]{2,10}?)工作(?:会议|会|要点|计划|方案|部署)")
STEP_SECTION = re.compile(
    r"实施步骤|工作步骤|步骤安排|进度安排|时间安排|工作安排|时间进度|实施阶段|arrangement|steps|schedule", re.I
)


@dataclass
class Context:
    catalogue: Catalogue
    issuer: Optional[str]
    year: Optional[int]
    default_owner: Optional[Owner]
    default_co: list = field(default_factory=list)  # the other addressees (主送), co-owners
    phases: list = field(default_factory=list)
    issuer_side: Optional[Owner] = None  # who does the issuer's own work (its department for the field)
    issuer_side_note: str = ""
    repairs: list = field(default_factory=list)
    year_given: bool = False  # the document states no year: ctx.year is the one given with it


def draft_plan(text: str, catalogue: Catalogue, source: str = "", given_year: Optional[int] = None) -> dict:
    """`given_year`: the year a coordinator names for a document that states none (the upload form's
    field); dates without a year take the document's own year first, this one only when the
    document gives none, and the draft says so in the plan's notes."""
    text, text_repairs = simplified(text)
    lines, dropped = normalise(text)
    header, body = _split_header(lines)
    body, closing = _split_closing(body)
    meta = _metadata(header, body, catalogue, dropped)
    if meta["issued"] is None:  # the date above the signature at the end
        for line in closing:
            found = DATE_LINE.match(line)
            if found:
                meta["issued"] = _safe_date(*map(int, found.groups()))
                meta["sources"]["issued"] = line
                signature = [
                    s
                    for s in closing[: closing.index(line)]
                    if not CLOSING_WORDS.match(s) and _is_signature_line(s) and not _doc_number_line(s)
                ]
                if signature:
                    meta["issuer"] = meta["sources"]["issuer"] = " ".join(signature[-2:])
    if not meta["doc_number"]:  # the 文号 above the signature or its date at the end
        for line in closing:
            found = _doc_number_line(line)
            if found:
                meta["doc_number"], meta["sources"]["doc_number"] = found[0], line
                meta["repairs"] = list(meta["repairs"]) + found[1]
                break
    root, preamble = parse_tree(body)
    year = (meta["period"] or {}).get("start", None)
    year = year.year if isinstance(year, date) else (meta["issued"].year if meta["issued"] else None)
    if year is None:  # the year of the 文号 (〔2024〕), else one the title names
        found = re.search(r"〔((?:19|20)\d{2})〕", meta["doc_number"] or "") or re.search(
            r"((?:19|20)\d{2})\s*年", meta["title"]
        )
        year = int(found.group(1)) if found else None
    assumed_year = None
    if year is None and given_year is not None:
        year = assumed_year = given_year
    ctx = Context(catalogue, meta["issuer_unit"], year, None, repairs=text_repairs + list(meta["repairs"]))
    ctx.year_given = assumed_year is not None
    ctx.default_owner, ctx.default_co = _default_owners(header + preamble, ctx)
    _issuer_side(ctx, [meta["title"]] + header[:12] + preamble[:12])
    ref_of = refs(root)
    tasks, last_explicit = [], None
    for child in root.children:
        task = _task(child, ref_of, ctx, inherited=None, phase=None, sibling=last_explicit)
        last_explicit = task.pop("_explicit", None) or last_explicit
        tasks.append(task)
    if not tasks:  # a notice that numbers nothing: its requests are its items
        tasks = _notice_duties(header + preamble, ctx)
    special = _special_actions(lines, tasks)
    if special:
        tasks.append(special)
    placed = _place_preamble_deadlines(preamble, tasks, ctx)
    _number_uids(tasks)
    unplaced = _unplaced([line for line in preamble if line not in placed] + root.unplaced, ctx) + [
        line for line in closing if ISSUER_CLOSING.match(line)
    ]  # the issuer's closing remark names a duty of its own: shown, not dropped
    numbered = sum(1 for line in body if parse_marker(line) is not None)
    items = sum(1 for task in walk_tasks(tasks) if not task.get("generated"))
    plan = {
        "key": _plan_key(meta["title"], meta["issued"], year),
        "title": meta["title"],
        "doc_number": meta["doc_number"],
        "issuer": meta["issuer"],
        "issuer_unit": meta["issuer_unit"],
        "issued": meta["issued"].isoformat() if meta["issued"] else None,
        "period": {k: v.isoformat() for k, v in meta["period"].items()} if meta["period"] else None,
        "source": source,
        "repairs": ctx.repairs,
        "notes": (
            f"the document states no year: dates without one take {assumed_year}, the year given with it"
            if assumed_year
            else ""
        ),
        "phases": ctx.phases,
        "tasks": tasks,
        "meta_sources": meta["sources"],
        "dropped": dropped,
        "unplaced": unplaced,
        "numbered_lines": numbered,
        "fewer_items": items < numbered,
        "year_given": assumed_year,
    }
    return plan


# --- the document's head ----------------------------------------------------------------


CLOSING_WORDS = re.compile(r"^(?:特此通知|特此通报|特此函告|此复|以上|请(?:遵照|认真)?(?:贯彻)?执行)[。.！!]?$")


# "2.2024年各专业质控工作改进目标": a line of the 附件 list above the signature, not the signature.
ANNEX_ITEM = re.compile(r"^(?:附件|附表|\d{1,2}\s*[.．、])")


def _is_signature_line(line: str) -> bool:
    return (
        len(line) <= 40
        and not re.search(r"[，。；：,;:！？]", line)
        and parse_marker(line) is None
        and not ANNEX_ITEM.match(line)
    )


def _trailing_chrome_start(body: list[str]) -> int:
    """Where the page's own lines after the document begin (a site footer: link names, 关于我们 …):
    after the signature and its date, only short lines without a sentence follow. len(body) when
    the document ends the text."""
    for index in range(len(body) - 1, max(-1, len(body) - 14), -1):
        if DATE_LINE.match(body[index]) or DAMAGED_DATE_LINE.match(body[index]):
            after = body[index + 1 :]
            if (
                after
                and index > 0
                and _is_signature_line(body[index - 1])
                and all(len(line) <= 20 and not re.search(r"[。；;！？]", line) for line in after)
            ):
                return index + 1
            break
    return len(body)


# The notice's closing paragraph after its last item, where the issuer speaks of itself and its own
# next step ("我委将适时组织…督导调研。"): the notice's text, not the last item's.
ISSUER_CLOSING = re.compile(r"^(?:我委|本委|我局|本局|我厅|本厅|我中心|本中心|我办|本办)(?:将|会|还将|拟)")


def _split_closing(body: list[str]) -> tuple[list[str], list[str]]:
    """(body, closing): the issuer's signature, its date and 特此通知 at the end of the document are
    not text of the last item; nor are a site footer after them, or the issuer's closing remark."""
    end = _trailing_chrome_start(body)
    trailing = body[end:]
    body = body[:end]
    while end and CLOSING_WORDS.match(body[end - 1]):
        end -= 1
    if end and (DATE_LINE.match(body[end - 1]) or DAMAGED_DATE_LINE.match(body[end - 1])):
        end -= 1
        signature = 0
        while end and signature < 3 and _is_signature_line(body[end - 1]):
            end, signature = end - 1, signature + 1
        if end and _doc_number_line(body[end - 1]):  # the 文号 standing above the signature
            end -= 1
    while end and CLOSING_WORDS.match(body[end - 1]):
        end -= 1
    if (
        end > 1
        and ISSUER_CLOSING.match(body[end - 1])
        and parse_marker(body[end - 1]) is None
        and any(parse_marker(line) is not None for line in body[: end - 1])
    ):
        end -= 1
    return body[:end], body[end:] + trailing


_DUTY = re.compile(r"要|应当|应|须|必须|负责|牵头|报送|上报|提交|完成|开展")


def _unplaced(lines: list[str], ctx: Context) -> list[str]:
    """Lines outside every item that carry a duty with a date: the draft names them (never silent)."""
    out = []
    for line in lines:
        if DATE_LINE.match(line) or NOTICE_TITLE.search(line) or FULL_TEXT.search(line):
            continue
        if _DUTY.search(line) and any(hit.deadline for hit in find_dates(line, ctx.year)):
            out.append(line)
    return out


_REQUEST = re.compile(r"请(?!示)|(?<![需重主])要(?!求|点|素|闻)|应当|(?<![反对])应(?!急|用|对)|须|务必")
_FORWARDING = re.compile(
    r"(?:^|[，,])\s*请(?:各地|你们|各单位)?(?:结合实际)?[，,]?\s*(?:认真|遵照|切实|严格)?(?:贯彻)?(?:组织)?(?:执行|落实|实施)[。！]?$"
)


_PAIR_NOISE = {"工作", "任务", "完成", "开展", "进一步", "做好", "加强", "推进", "确保", "全面", "有关", "相关"}


def _pairs_of(text: str) -> set[str]:
    chars = re.sub(r"[^\u4e00-\u9fff]", "", text)
    return {chars[i : i + 2] for i in range(len(chars) - 1)} - _PAIR_NOISE


def _place_preamble_deadlines(preamble: list[str], tasks: list[dict], ctx: Context) -> list[str]:
    """'…确保在12月底前完成改革任务。' in the preamble: the deadline of the top-level item whose
    matter it names ('一、计生协综合改革'), when exactly one item shares words with its clause and
    has no due date of its own. Returns the preamble lines so placed (the rest stay unplaced)."""
    placed = []
    for line in preamble:
        if NOTICE_TITLE.search(line) or FULL_TEXT.search(line) or not _DUTY.search(line):
            continue
        for sentence in split_sentences(line):
            for hit in find_dates(sentence, ctx.year):
                if not hit.deadline or YEAR_RANGE.fullmatch(hit.text or ""):
                    continue
                piece = next((p for p in re.split(r"[，,；;]", sentence) if hit.text and hit.text in p), "")
                clause = _pairs_of(piece.replace(hit.text or "", ""))
                shared = [(len(clause & _pairs_of(task["title"])), task) for task in tasks]
                best = max((n for n, _ in shared), default=0)
                matching = [task for n, task in shared if n == best]
                if best == 0 or len(matching) != 1 or matching[0].get("due"):
                    continue
                task = matching[0]
                task["due"], task.setdefault("sources", {})["due"] = hit.due.isoformat(), sentence
                notes = [task["notes"]] if task.get("notes") else []
                notes.append("due date from the notice's preamble, which names this item's matter")
                if hit.assumed_year:
                    notes.append(_assumed_year_note(hit, ctx))
                task["notes"] = "; ".join(notes)
                if not task.get("owner") and ctx.default_owner is not None:
                    _set_owner(task, _addressees(ctx))
                if line not in placed:
                    placed.append(line)
    return placed


def _notice_duties(lines: list[str], ctx: Context) -> list[dict]:
    """A notice without numbered items ('…现印发给你们，请指导…做好组织实施工作。各地要进一步加强…。'):
    each sentence of its text that asks something of the addressees is an item (refs 1, 2, … made
    here), owned by its subject or the addressees. The forwarding formula (请认真贯彻执行) is none."""
    start = next(
        (
            i + 1
            for i, line in enumerate(lines[:30])
            if re.search(r"[:：]$", line) and ctx.catalogue.mentions(line, ctx.issuer)
        ),
        0,
    )
    tasks: list[dict] = []
    for line in lines[start:]:
        if _is_closer(line) or DATE_LINE.match(line):
            break
        if len(line) < 20 or not re.search(r"[。；;]", line):
            continue
        for sentence in split_sentences(line):
            request = _REQUEST.search(sentence)
            if not request or _FORWARDING.search(sentence):
                continue
            clause = sentence[request.end() if sentence[request.start()] == "请" else request.start() :]
            clause = re.sub(r"^(?:要|应当|应|须|务必)", "", clause)
            ref = str(len(tasks) + 1)
            task = {
                "ref": ref,
                "title": _short(clause),
                "description": sentence,
                "sources": {"title": sentence},
                "notes": "the notice numbers no items: one item per request it makes (ref made here)",
            }
            info = _sentence_owner(sentence, ctx) or (_addressees(ctx))
            if info:
                _set_owner(task, info)
            duties = _dated_duties([sentence], ctx, False)
            if duties:
                task["due"], task["sources"]["due"] = duties[0][1].due.isoformat(), sentence
            cadence = _cadence([sentence])
            if cadence:
                task["recurrence"], task["sources"]["recurrence"] = cadence
            tasks.append(task)
    return tasks


def _split_header(lines: list[str]) -> tuple[list[str], list[str]]:
    """(header: notice, signature, interpretation; body: the plan's own text)."""
    for index, line in enumerate(lines):
        if FULL_TEXT.search(line):
            return lines[:index], lines[index + 1 :]
    title = None
    for index, line in enumerate(lines[:40]):
        match = NOTICE_TITLE.search(line)
        if match:
            title = re.sub(r"\s+", "", match.group(1).strip("《》"))
            for later in range(index + 1, len(lines)):
                joined = re.sub(r"\s+", "", lines[later])
                if joined.strip("《》") == title:
                    return lines[:later], lines[later:]
                if (
                    later + 1 < len(lines)
                    and re.sub(r"\s+", "", lines[later] + lines[later + 1]).strip("《》") == title
                ):
                    return lines[:later], [lines[later] + lines[later + 1]] + lines[later + 2 :]
            # The plan's own heading names it otherwise ("2023年浙江省…要点" cited, "2023年全省…要点" as its
            # heading): the notice in front ends with its signature's date, before the first section.
            for later in range(index + 1, min(len(lines), index + 16)):
                if re.match(r"^[一二三四五六七八九十]+\s*[、.．]", lines[later]):
                    break
                if DATE_LINE.match(lines[later]) and later + 1 < len(lines):
                    return lines[: later + 1], lines[later + 1 :]
            break
    return [], lines


# "文 号: 浙卫发〔2023〕10号" in a page's metadata block (dropped as chrome): the 文号 all the same.
DOC_NUMBER_LABEL = re.compile(r"文\s*号\s*[:：|]\s*")


def _doc_number_line(line: str, labelled: bool = False) -> Optional[tuple[str, list[str]]]:
    """(文号, repairs) when the line is a 文号 standing alone ("粤卫办医函〔2024〕31号", bracketed or
    with a few characters more) or the value of a page's 文号 label."""
    match = DOC_NUMBER.search(line)
    if match and (match.group(2) or match.group(4)) and (labelled or len(line) <= len(match.group(0)) + 4):
        prefix, opening, year, closing, serial, hao = match.groups()
        doc_number = f"{prefix}〔{year}〕{serial}号"
        repairs = [] if opening and closing and hao else [f"文号 reads '{match.group(0)}': restored {doc_number}"]
        return doc_number, repairs
    return None


def _metadata(header: list[str], body: list[str], catalogue: Catalogue, chrome: list[str] = ()) -> dict:
    repairs: list[str] = []
    sources: dict[str, str] = {}
    head_zone = header if header else body[:12]
    title = ""
    for line in head_zone[:40]:
        match = NOTICE_TITLE.search(line)
        if match:
            title = re.sub(r"\s+", "", match.group(1)).strip("《》")
            sources["title"] = line
            break
    if not title:
        zone = head_zone[:40] if header else body[:20]
        for index, line in enumerate(zone):
            joined = re.sub(r"\s+", "", line + (zone[index + 1] if index + 1 < len(zone) else ""))
            for candidate in (re.sub(r"\s+", "", line), joined):
                if OWN_TITLE.match(candidate):
                    title = re.sub(r"^.*?(?=关于)", "", candidate)
                    sources["title"] = line
                    break
            if title:
                break
    if not title:
        first_numbered = next(
            (i for i, line_ in enumerate(body) if re.match(r"^[一二三四五六七八九十]+\s*[、.]|^[IVX]+\.\s", line_)),
            len(body),
        )
        for line in body[:first_numbered]:
            if not re.search(r"[。；;]$|[，,<>]", line) and not DATE_LINE.match(line) and len(line) <= 80:
                title = line.strip("【】")
                sources["title"] = line
                break
    doc_number = ""
    zone = head_zone[:30]
    labelled = [line[m.end() :] for line in chrome[:20] for m in [DOC_NUMBER_LABEL.search(line)] if m]
    for line in sorted(zone, key=len) + labelled:
        found = _doc_number_line(line, line in labelled)
        if found:
            doc_number, repair = found
            repairs.extend(repair)
            sources["doc_number"] = line
            break
    issued, issuer_lines = None, []
    for index, line in enumerate(head_zone):
        found = DATE_LINE.match(line)
        if found:
            issued = _safe_date(*map(int, found.groups()))
        else:
            damaged = DAMAGED_DATE_LINE.match(line)
            if damaged:
                issued = _repair_date(damaged, repairs)
        if issued:
            sources["issued"] = line
            back = index - 1
            while (
                back >= 0
                and len(head_zone[back]) <= 40
                and not re.search(r"[，。；：,;:！？]", head_zone[back])
                and not ANNEX_ITEM.match(head_zone[back])
                and len(issuer_lines) < 3
            ):
                issuer_lines.insert(0, head_zone[back])
                back -= 1
            break
    if issued is None:
        labelled_dates = [
            (ISSUED_LABEL_RANK.index(m.group(1)), line, m)
            for line in list(chrome[:30]) + head_zone[:40] + body[:20]
            for m in ISSUED_LABEL.finditer(line)
        ]
        for _rank, line, m in sorted(labelled_dates, key=lambda item: item[0]):
            issued = _safe_date(int(m.group(2)), int(m.group(3)), int(m.group(4)))
            if issued:
                sources["issued"] = line
                break
    if issued is None:
        for line in head_zone[:8] + body[:8]:
            found = ISO_DATE_LINE.match(line)
            if found:
                issued = _safe_date(*map(int, found.groups()))
                sources["issued"] = line
                break
    issuer = " ".join(issuer_lines)
    if not issuer:
        for line in head_zone[:10]:
            match = re.match(r"^(.{2,30}?)关于印发", line)
            if match:
                issuer = match.group(1)
                break
    issuer_unit = None
    for part in re.split(r"\s+", issuer):
        issuer_unit = catalogue.lookup(part) if part else None
        if issuer_unit:
            break
    if not issuer_unit and doc_number:
        places = [
            place.group(0)
            for line in head_zone[:20] + list(chrome[:20])
            for mention in catalogue.mentions(line, None)
            if mention.owner.code
            for place in [
                re.match(r"^.+?(?:自治区|省|市|自治州|州|盟|地区|县|区|旗)", catalogue.units[mention.owner.code].name)
            ]
            if place
        ]
        issuer_unit = _issuer_of_doc_number(doc_number, catalogue, places)
        if issuer_unit:
            issuer = issuer or catalogue.units[issuer_unit].name
            sources["issuer_unit"] = f"(the 文号 {doc_number} names its issuer)"
    if not issuer_unit:  # "我局印发了《…》（国中医药办发〔2016〕28号）": the issuer's own 文号, cited
        for line in head_zone[:12] + body[:12]:
            cited = OWN_CITED_DOC.search(line)
            code = _issuer_of_doc_number(cited.group(1), catalogue) if cited else None
            if code:
                issuer_unit = code
                issuer = issuer or catalogue.units[code].name
                sources["issuer_unit"] = line
                break
    if not issuer_unit:
        for line in head_zone + body[:8]:
            mentions = [m for m in catalogue.mentions(line, None) if m.owner.code and not m.abbreviated]
            if mentions:
                issuer_unit = mentions[0].owner.code
                issuer = issuer or catalogue.units[issuer_unit].name
                break
    if issuer:
        sources["issuer"] = issuer
    period = None
    match = re.search(r"((?:19|20)\d{2})\s*年(?:度)?[^，。（(]{0,16}?(?:工作要点|工作计划|行动计划|实施方案)", title)
    if match:
        period = {"start": date(int(match.group(1)), 1, 1), "end": date(int(match.group(1)), 12, 31)}
        sources["period"] = title
    for text in [] if period else [title] + head_zone[:40]:
        match = YEAR_RANGE.search(text) or re.search(
            r"[（(]((?:19|20)\d{2})\s*[-—–]\s*((?:19|20)\d{2})\s*年?[）)]", text
        )
        if match:
            period = {"start": date(int(match.group(1)), 1, 1), "end": date(int(match.group(2)), 12, 31)}
            sources["period"] = text
            break
    return {
        "title": title or "未命名计划",
        "doc_number": doc_number,
        "issuer": issuer,
        "issuer_unit": issuer_unit,
        "issued": issued,
        "period": period,
        "repairs": repairs,
        "sources": sources,
    }


# The 文号 of a health commission opens with its province's one-character name and 卫 (国卫医发,
# 甘卫职健函, 浙卫发, 粤卫办医函…): the commission that issued it, when nothing else names the issuer.
PROVINCE_ABBREVIATIONS = {
    "国": "国家", "京": "北京市", "津": "天津市", "冀": "河北省", "晋": "山西省", "蒙": "内蒙古自治区",
    "辽": "辽宁省", "吉": "吉林省", "黑": "黑龙江省", "沪": "上海市", "苏": "江苏省", "浙": "浙江省",
    "皖": "安徽省", "闽": "福建省", "赣": "江西省", "鲁": "山东省", "豫": "河南省", "鄂": "湖北省",
    "湘": "湖南省", "粤": "广东省", "桂": "广西壮族自治区", "琼": "海南省", "渝": "重庆市", "川": "四川省",
    "黔": "贵州省", "滇": "云南省", "云": "云南省", "藏": "西藏自治区", "陕": "陕西省", "甘": "甘肃省",
    "青": "青海省", "宁": "宁夏回族自治区", "新": "新疆维吾尔自治区",
}  # fmt: skip


# "市计生协发〔2020〕2号": the issuer's short name ("市计生协": its level word and its kind of body) in
# front of 发 / 函 / 办发 …; a catalogue unit of that level whose name holds the short name issued it.
DOC_NUMBER_SUFFIX = re.compile(r"(?:办发|办函|发|函|字|办|通)$")
_LEVEL_OF_WORD = {
    "国": "national",
    "省": "provincial",
    "自治区": "provincial",
    "市": "prefecture",
    "州": "prefecture",
    "县": "county",
    "区": "county",
}


def _issuer_of_doc_number(doc_number: str, catalogue: Catalogue, places: Iterable[str] = ()) -> Optional[str]:
    match = re.match(r"^(内蒙古|兵团|[\u4e00-\u9fa5])卫", doc_number)
    if not match:
        return _issuer_of_short_name(doc_number, catalogue, places)
    key = {"内蒙古": "蒙", "兵团": "兵团"}.get(match.group(1), match.group(1))
    place = "新疆生产建设兵团" if key == "兵团" else PROVINCE_ABBREVIATIONS.get(key)
    return catalogue.lookup(f"{place}卫生健康委") if place else None


def _issuer_of_short_name(doc_number: str, catalogue: Catalogue, places: Iterable[str]) -> Optional[str]:
    prefix = DOC_NUMBER_SUFFIX.sub("", doc_number.split("〔", 1)[0])
    level_word = re.match(r"^(自治区|省|市|州|县|区|国)", prefix)
    stem = prefix[level_word.end() :] if level_word else ""
    if len(stem) < 2:
        return None
    level = _LEVEL_OF_WORD[level_word.group(1)]
    before = "国家" if level == "national" else "[省市州县区旗盟]"
    found = [
        unit
        for unit in catalogue.units.values()
        if unit.level == level and re.search(rf"{before}{re.escape(stem)}", unit.name)
    ]
    if len(found) > 1:  # the place the page names (晋中市卫生健康委's site) tells them apart
        found = [unit for unit in found if any(place and unit.name.startswith(place) for place in places)]
    return found[0].code if len(found) == 1 else None


def _safe_date(year: int, month: int, day: int) -> Optional[date]:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _repair_date(match, repairs: list[str]) -> Optional[date]:
    year, digits = int(match.group(1)), match.group(2)
    for split in (1, 2):
        month, day = int(digits[:split]), int(digits[split:] or 0)
        found = _safe_date(year, month, day) if 1 <= month <= 12 else None
        if found:
            repairs.append(f"成文日期 reads '{match.group(0)}': restored {found.isoformat()}")
            return found
    return None


def _addressees(ctx: Context) -> Optional[dict]:
    """The owner info of an item that names no unit: the first addressee owns, the others co-own."""
    if ctx.default_owner is None:
        return None
    return {"owner": ctx.default_owner, "co": list(ctx.default_co), "default": True}


def _default_owners(lines: list[str], ctx: Context) -> tuple[Optional[Owner], list[Owner]]:
    """The addressees (主送: "各省、自治区、直辖市卫生健康委：") own what names no owner, the first
    as owner and the others ("各市卫生健康委、残联", "各市、县（市、区）卫生健康委") as co-owners,
    each at its own level; without them, the commissions one level below the issuer."""
    for line in lines[:30]:
        if re.search(r"[:：]$", line) and len(line) <= 120:
            mentions = ctx.catalogue.mentions(line, ctx.issuer)
            if mentions:
                owners = _addressee_owners(line, mentions, ctx)
                return owners[0], owners[1:]
    # No 主送 line: the preamble asks its addressees by name ("…，各县(区、市)计生协要明确重点任务分工").
    for line in lines[:30]:
        if parse_marker(line) is not None:
            break
        for sentence in split_sentences(line):
            for clause in re.split(r"[，,；;]", sentence):
                info = _sentence_owner(clause, ctx) if len(clause) >= 6 else None
                if info and info["owner"].code is None and re.match(r"\s*各", clause):
                    return info["owner"], []
    issuer = ctx.catalogue.units.get(ctx.issuer) if ctx.issuer else None
    if issuer is not None and issuer.kind == "commission" and issuer.level not in ("county", "institution"):
        under = issuer.code if issuer.level != "national" else None
        return Owner(kind="commission", level=ctx.catalogue.level_below(issuer.level), under=under), []
    return None, []


def _addressee_owners(line: str, mentions: list, ctx: Context) -> list[Owner]:
    """Every addressee of a 主送 line in order, a selector's further levels with it; a bare name
    after a selector shares its level word ('各市卫生健康委、残联' = 各市残联): each unit at the
    selector's level under the issuer's place's body of that name (广东省残联), when the
    catalogue holds it."""
    issuer = ctx.catalogue.units.get(ctx.issuer) if ctx.issuer else None
    place = re.match(r"^(.{2,8}?[省市县区州盟旗])", issuer.name) if issuer is not None else None
    owners, previous = [], None
    for part in re.finditer(r"[^、，,；;：:]+", line):
        covering = [m for m in mentions if m.start < part.end() and part.start() < m.end]
        if covering:
            owners.extend(o for m in covering for o in [m.owner, *m.extra])
            previous = covering[-1].owner
            continue
        code = ctx.catalogue.names.get(place.group(1) + part.group(0).strip()) if place else None
        body = ctx.catalogue.units.get(code) if code else None
        if previous is not None and previous.code is None and previous.level and body is not None:
            if LEVELS.index(body.level) < LEVELS.index(previous.level):
                owners.append(Owner(kind=body.kind, level=previous.level, under=body.code))
    unique = []
    for owner in owners:
        if owner not in unique:
            unique.append(owner)
    return unique


def _issuer_side(ctx: Context, lines: list[str]) -> None:
    """Who carries the issuer's own duties: the issuer, or its department for the plan's field
    of work when the catalogue has exactly one ('全国医疗管理工作会议' → 医政医管局)."""
    if not ctx.issuer:
        return
    fields = []
    for line in lines:
        for match in FIELD_OF_WORK.finditer(line or ""):
            name = re.sub(r"^(?:年|度|全国|全省|全市|全区|全县|国家|年度)+", "", match.group(1))
            if len(name) >= 2 and name not in fields:
                fields.append(name)
    department = ctx.catalogue.department_for(ctx.issuer, fields)
    ctx.issuer_side = Owner(code=department or ctx.issuer)
    if department:
        field_name = next(f for f in fields if ctx.catalogue.department_for(ctx.issuer, [f]) == department)
        ctx.issuer_side_note = f"the issuer's department for {field_name}"


def _issuer_work(sentences: list[str], ctx: Context) -> Optional[str]:
    """The sentence of an item, naming no unit, that makes one of the issuer's instruments
    (a standard, a regulation, a plan, a catalogue …), when the issuer is a national or
    provincial commission: such work is the issuer's own, not its addressees'."""
    issuer = ctx.catalogue.units.get(ctx.issuer) if ctx.issuer else None
    if (
        issuer is None
        or issuer.kind != "commission"
        or issuer.level not in ("national", "provincial")
        or ctx.issuer_side is None
    ):
        return None
    for sentence in sentences:
        mentions = ctx.catalogue.mentions(sentence, ctx.issuer)
        for match in ISSUER_WORK.finditer(sentence):
            # '指导医疗机构建立…规范': the unit just before the verb makes it, not the issuer
            if not any(match.start() - 3 <= m.end <= match.start() for m in mentions):
                return sentence
    return None


_COUNT_EN = {
    w: i for i, w in enumerate(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"], start=1)
}
_SPECIAL_CN = [
    re.compile(
        r"(?:设置|开展|组织|实施|部署|设立|提出)了?(?P<names>[^。；：:，,]{4,300}?)(?:等)?(?P<count>[一二两三四五六七八九十\d]+)(?:项|个|大)专项(?:行动|活动)"
    ),
    re.compile(
        r"(?P<count>[一二两三四五六七八九十\d]+)(?:项|个|大)专项(?:行动|活动)[：:]\s*(?:即)?(?P<names>[^。；]{4,300})"
    ),
]
_SPECIAL_EN = re.compile(
    r"(?P<count>\b[a-z]+\b|\d+)\s+special\s+(?:actions|campaigns)\s*(?::|,?\s*(?:including|namely|such as))\s*(?P<names>[^.;]{4,400})",
    re.I,
)


def _special_actions(lines: list[str], tasks: list[dict]) -> Optional[dict]:
    """'行动设置了A行动、B行动和C行动3个专项行动' (or 'three special actions: A, B and C'):
    special actions named in the text without a section of their own. They are tracked as a
    group '专项行动' with one item per action, in the order named; the text gives them no
    content or owner, so none is drafted."""
    from tracker.importer.draft.chrome import is_closer

    titles = [t["title"] for t in walk_tasks(tasks)]
    if any("专项行动" in t or re.search(r"special action", t, re.I) for t in titles):
        return None  # the plan has its own sections for them
    for line in lines:
        if is_closer(line):
            break
        for sentence in split_sentences(line):
            found = _named_actions(sentence)
            if found:
                phrase, names = found
                children = [
                    {
                        "ref": f"专项行动.({int_to_cn(i)})",
                        "title": name,
                        "description": "",
                        "sources": {"title": sentence},
                    }
                    for i, name in enumerate(names, start=1)
                ]
                return {
                    "ref": "专项行动",
                    "title": phrase,
                    "description": sentence,
                    "sources": {"title": sentence},
                    "notes": "special actions named in the text without a section of their own: one item each, "
                    "in the order named; the text gives no content or owner for them",
                    "children": children,
                }
    return None


def _named_actions(sentence: str) -> Optional[tuple[str, list[str]]]:
    for pattern in _SPECIAL_CN:
        match = pattern.search(sentence)
        if match:
            names = [n.strip() for n in re.split(r"、", match.group("names"))]
            last = re.split(r"(?<=行动)(?:和|及|以及)", names[-1]) if names else []
            names = [n.strip() for n in names[:-1] + last if n.strip()]
            names = [re.sub(r"^(?:以及|和|及)", "", n) for n in names]
            count = match.group("count")
            value = int(count) if count.isdigit() else cn_to_int(count)
            if (
                len(names) >= 2
                and len(names) == value
                and all(re.search(r"(?:行动|活动|工程)[”\"]?$", n) for n in names)
            ):
                return f"{int_to_cn(value)}项专项行动", names
    match = _SPECIAL_EN.search(sentence)
    if match:
        names = [n.strip() for n in re.split(r",\s*(?:and\s+)?", match.group("names").strip()) if n.strip()]
        if names:  # 'A action and B action': the last joiner
            names = names[:-1] + re.split(r"(?<=action)\s+and\s+(?=\S)|(?<=action\")\s+and\s+(?=\S)", names[-1])
        names = [n.strip() for n in names if n.strip()]
        count = match.group("count").lower()
        value = int(count) if count.isdigit() else _COUNT_EN.get(count)
        if value and len(names) == value and all(re.search(r"\b(?:action|campaign)[\"”]?$", n, re.I) for n in names):
            return f"{count} special actions", names
    return None


def walk_tasks(tasks: list[dict]):
    for task in tasks:
        yield task
        yield from walk_tasks(task.get("children", []))


def _plan_key(title: str, issued: Optional[date], year: Optional[int]) -> str:
    digest = hashlib.sha1(title.encode("utf-8")).hexdigest()[:6]
    return f"draft-{issued.year if issued else (year or 'plan')}-{digest}"


# --- tasks ------------------------------------------------------------------------------


def _title_and_rest(node: Node, ctx: Optional[Context] = None) -> tuple[str, str]:
    head = node.head.strip()
    english = is_english(head)
    if ctx is not None and not english:
        head = _separate_run_on_heading(head, ctx, node)
    if english:
        match = re.match(r"^(.{3,160}?[a-z)\]])\.\s+(?=[A-Z])", head)
    else:
        match = re.match(r"^(.{2,60}?)[。]", head)
    if match:
        title, rest = match.group(1), head[match.end() :].strip()
    else:
        title, rest = head.rstrip("。."), ""
    if not english and len(title) > 40:
        rest = (title + "。" + rest).strip() if rest else title + "。"  # the whole sentence stays in the text
        cut = max(title.rfind("，", 0, 40), title.rfind(",", 0, 40))
        title = title[:cut] if cut >= 8 else title[:40] + "…"
    paras = [rest] if rest else []
    paras += node.paras
    joiner = " " if english else ""
    return title.strip() or "(untitled)", joiner.join(p for p in paras if p).strip()


def _separate_run_on_heading(head: str, ctx: Context, node: Node) -> str:
    """'加大医疗检查监管力度各地卫生健康行政部门要…' (the full stop after the heading lost):
    the heading ends where the subject of the first duty begins."""
    stop = head.find("。")
    for mention in ctx.catalogue.mentions(head[: stop if stop >= 0 else 60], ctx.issuer):
        if (
            4 <= mention.start <= 30
            and re.match(r"(?:要|应当|应|须|负责)", head[mention.end : mention.end + 3])
            and not re.search(r"[，。；,;]", head[: mention.start])
            and not OBJECT_VERBS.search(head[max(0, mention.start - 2) : mention.start])
        ):
            start = mention.start
            while start > 0 and head[start - 1] in "各有关":
                start -= 1
            node.notes.append(f"heading and text ran together ('{head[:start]}{head[start : start + 6]}…'): separated")
            return head[:start] + "。" + head[start:]
    return head


def _task(
    node: Node,
    ref_of: dict,
    ctx: Context,
    inherited: Optional[dict],
    phase: Optional[str],
    sibling: Optional[dict] = None,
) -> dict:
    title, description = _title_and_rest(node, ctx)
    task: dict = {"ref": ref_of[id(node)], "title": title, "description": description, "sources": {"title": node.head}}
    notes = list(node.notes)
    own_text = title + ("。" if not is_english(title) else ". ") + description
    sentences = split_sentences(own_text)
    # phase: a heading "宣传动员阶段（2016年11月25日至12月10日）" or an item of 实施步骤
    parent_title = node.parent.head if node.parent is not None else ""
    heading_dates = [h for h in find_dates(node.head, ctx.year) if h.start]
    if PHASE_WORDS.search(title) or (
        node.parent is not None and node.parent.style == "cn" and STEP_SECTION.search(parent_title) and node.numbered
    ):
        phase = _add_phase(title, heading_dates, sentences, ctx)
        task["sources"]["phase"] = node.head
    if heading_dates and (PHASE_WORDS.search(title) or heading_dates[0].text in title or len(node.head) < 60):
        task["start"], task["due"] = heading_dates[0].start.isoformat(), heading_dates[0].due.isoformat()
        task["sources"]["due"] = node.head
    owner_info = _owners(node, sentences, ctx)
    if owner_info is None and GUIDING.fullmatch(title) and ctx.issuer:
        owner_info = {
            "owner": Owner(code=ctx.issuer),
            "co": [],
            "source": "(a statement of the whole plan: its issuer)",
        }
    explicit = owner_info
    if owner_info is None and inherited is not None:
        owner_info = dict(inherited, inherited=True)
    if owner_info is None and not node.children:
        own_work = _issuer_work(sentences, ctx)
        if own_work:
            note = f" ({ctx.issuer_side_note})" if ctx.issuer_side_note else ""
            owner_info = {"owner": ctx.issuer_side, "co": [], "source": f"(the issuer's own work{note}) {own_work}"}
    if owner_info is None and sibling is not None and not node.children:
        owner_info = dict(sibling, inherited=True, source="(as the item before) " + sibling.get("source", ""))
    children_tasks = []
    last_explicit = None
    for child in node.children:
        child_task = _task(
            child,
            ref_of,
            ctx,
            owner_info if owner_info and not owner_info.get("split") else inherited,
            phase,
            last_explicit,
        )
        last_explicit = child_task.pop("_explicit", None) or last_explicit
        children_tasks.append(child_task)
    # dated duties in the item's own sentences
    duties = _dated_duties(sentences, ctx, skip_heading=bool(heading_dates))
    year_range = YEAR_RANGE.match(description) or YEAR_RANGE.match(node.head)
    if year_range and "due" not in task:
        task["start"], task["due"] = f"{year_range.group(1)}-01-01", f"{year_range.group(2)}-12-31"
        task["sources"]["due"] = sentences[0] if sentences else node.head
    leaf = not children_tasks
    generated: list[dict] = []
    if leaf and owner_info and owner_info.get("split"):
        generated = _split_by_owner(task, owner_info, sentences, duties, ctx)
        notes.append("several units are responsible, each for its part (分别负责): split into one child task per unit")
    elif leaf and not (owner_info and owner_info.get("bracket")):
        groups = _subject_groups(sentences, ctx)
        if len({o.key for group in groups for o in group["subjects"]}) >= 2:
            generated = _split_by_subject(task, groups, ctx)
            notes.append("several units are responsible, each for its part: split into one child task per unit")
    if leaf and not generated:
        generated = _split_by_cadence(task, sentences, owner_info, ctx)
        if generated:
            notes.append("several cadences in one item: split into one child duty per cadence")
    if leaf and not generated and len(duties) >= 2:
        generated = _split_by_duty(task, duties, owner_info, ctx)
        notes.append("several dated duties: split into one child task per deadline")
    if generated:
        children_tasks = generated
        for child in generated:
            if phase:
                child["phase"] = phase
    else:
        if duties and "due" not in task:
            sentence, hit = duties[0]
            task["due"] = hit.due.isoformat()
            if hit.start:
                task["start"] = hit.start.isoformat()
            task["sources"]["due"] = sentence
            if hit.assumed_year:
                notes.append(_assumed_year_note(hit, ctx))
        if owner_info is None and leaf and ctx.default_owner is not None:
            owner_info = {**_addressees(ctx), "source": ""}
        if owner_info and leaf:
            _set_owner(task, owner_info)
        deliverable = _deliverable(sentences)
        if deliverable:
            task["deliverable"], task["sources"]["deliverable"] = deliverable
        cadence = _cadence(sentences)
        if cadence:
            task["recurrence"], task["sources"]["recurrence"] = cadence
    if task.get("due") and not is_english(task["title"]):
        task["title"] = _without_heading_date(task["title"], task["due"], ctx.year)
    if phase:
        task["phase"] = phase
    if notes:
        task["notes"] = "; ".join(notes)
    if children_tasks:
        task["children"] = children_tasks
    if explicit and not explicit.get("split"):
        task["_explicit"] = explicit
    return task


def _set_owner(task: dict, info: dict) -> None:
    task["owner"] = info["owner"].as_seed()
    co = [o for o in info.get("co", []) if o != info["owner"]]
    unique = []
    for o in co:
        if o not in unique:
            unique.append(o)
    if unique:
        task["co_owners"] = [o.as_seed() for o in unique]
    if info.get("default"):
        task["sources"]["owner"] = "(no unit named: the document's addressees)"
    elif info.get("inherited"):
        task["sources"]["owner"] = "(from the heading above) " + info.get("source", "")
    else:
        task["sources"]["owner"] = info.get("source", "")


_BRACKET_OWNER = re.compile(r"[（(]([^（）()]*?(?:负责|牵头|主办|承办)[^（）()]*?)[）)]")


def _owners(node: Node, sentences: list[str], ctx: Context) -> Optional[dict]:
    """The unit(s) responsible for an item: '(…负责，…配合)', '由…牵头', or the subject of its
    first duty sentence ('各省级卫生健康行政部门要…')."""
    text = node.head + "".join(node.paras)
    labelled = _labelled_owners(text, sentences, ctx)
    if labelled:
        return labelled
    for match in _BRACKET_OWNER.finditer(text):
        info = _bracket_owners(match.group(1), ctx)
        if info:
            info["source"] = next((s for s in sentences if match.group(0) in s), match.group(0))
            return info
    match = re.search(r"由([^，。；]{2,40}?)(?:牵头|负责|主办|承办)", text) or _LEAD_CLAUSE.search(text)
    if match:
        mentions = ctx.catalogue.mentions(match.group(1), ctx.issuer)
        if mentions:
            co = [
                m.owner for m in ctx.catalogue.mentions(text[match.end() : match.end() + 60].split("。")[0], ctx.issuer)
            ]
            for helper in _HELP_CLAUSE.finditer(text[: match.start()]):  # "…配合，…牵头": the helpers first
                co.extend(m.owner for m in ctx.catalogue.mentions(helper.group(1), ctx.issuer) if m.owner not in co)
            return {
                "owner": mentions[0].owner,
                "co": [o for m in mentions[1:] for o in [m.owner]] + co,
                "source": next((s for s in sentences if match.group(0) in s), match.group(0)),
            }
    for sentence in sentences:
        info = _sentence_owner(sentence, ctx)
        if info:
            for match in _BRACKET_HELPERS.finditer(text):  # "（…指导）", "（…配合）" after a duty
                extra = [m.owner for m in ctx.catalogue.mentions(match.group(1), ctx.issuer)]
                info = dict(info, co=info.get("co", []) + [o for o in extra if o != info["owner"]])
            clause_subjects = [o for o in _clause_subjects(sentences, ctx) if o != info["owner"]]
            if clause_subjects:
                info = dict(info, co=info.get("co", []) + [o for o in clause_subjects if o not in info.get("co", [])])
            return info
    return None


def _clause_subjects(sentences: list[str], ctx: Context) -> list[Owner]:
    """'…要对本地区开展情况进行总结评估，省卫生健康委、疾控局组织…': a unit opening a later clause of a
    sentence, with its own duty, is responsible too (a co-owner of the item)."""
    found: list[Owner] = []
    for sentence in sentences:
        for clause in re.split(r"[，,；;]", sentence)[1:]:
            info = _sentence_owner(clause, ctx) if len(clause) >= 6 else None
            for owner in ([info["owner"]] + list(info.get("co", []))) if info else []:
                if owner not in found:
                    found.append(owner)
    return found


_HELP_CLAUSE = re.compile(r"(?<![^。；;，,])([^，。；,;（）()]{2,40}?)(?:配合|协助|协办|参与)(?=[，,；;。]|$)")
_BRACKET_HELPERS = re.compile(r"[（(]([^（）()]*?(?:配合|指导|协助|协办|参与|支持))[）)]")
# "…牵头，…配合" without 由 (the lead clause opens a sentence or follows a full stop).
_LEAD_CLAUSE = re.compile(r"(?<![^。；;，,])([^，。；,;（）()]{2,40}?)牵头(?=[，,；;。]|$)")
_LEAD_LABEL = re.compile(
    r"(?:责任单位|牵头单位|责任部门|牵头部门|主办单位|承办单位|负责单位|责任处室|主办|承办|牵头|负责)\s*[:：]\s*([^。；;\n]+)"
)
_HELP_LABEL = re.compile(r"(?:配合单位|协办单位|配合部门|参与单位|协办|配合)\s*[:：]\s*([^。；;\n]+)")


def _labelled_owners(text: str, sentences: list[str], ctx: Context) -> Optional[dict]:
    """'责任单位：A、B' / '牵头单位：A；配合单位：C' / '主办：A 协办：B' (a task table's columns read
    as labels): the first unit named owns, the other responsible units and the helpers co-own."""
    lead = _LEAD_LABEL.search(text)
    if not lead:
        return None
    owners = [m.owner for m in ctx.catalogue.mentions(lead.group(1), ctx.issuer)]
    if not owners:
        return None
    helpers = [
        m.owner for match in _HELP_LABEL.finditer(text) for m in ctx.catalogue.mentions(match.group(1), ctx.issuer)
    ]
    source = next((s for s in sentences if lead.group(0) in s), lead.group(0))
    return {"owner": owners[0], "co": owners[1:] + [o for o in helpers if o not in owners], "source": source}


def _bracket_owners(clause: str, ctx: Context) -> Optional[dict]:
    owners, co, split = [], [], False
    for part in re.split(r"[，,；;]", clause):
        mentions = ctx.catalogue.mentions(part, ctx.issuer)
        if not mentions:
            continue
        if re.search(r"负责|牵头|主办|承办", part):
            owners.extend(m.owner for m in mentions)
            co.extend(o for m in mentions for o in m.extra)
            split = split or "分别" in part
        elif re.search(r"配合|协助|协办|指导|参与|支持", part):
            co.extend(m.owner for m in mentions)
    if not owners:
        return None
    return {
        "owner": owners[0],
        "owners": owners,
        "co": [o for o in co if o not in owners[:1]],
        "split": split and len(owners) > 1,
        "bracket": True,
    }


def _sentence_owner(sentence: str, ctx: Context) -> Optional[dict]:
    body = re.sub(r"^(?:同时|此外|另外|并且|其中|Meanwhile|At the same time)[，,]?\s*", "", sentence)
    mentions = ctx.catalogue.mentions(body, ctx.issuer)
    if not mentions:
        return None
    english = is_english(body)
    first = mentions[0]
    lead = body[: first.start]
    if english and ", " in lead:
        lead = lead[lead.rindex(", ") + 2 :]  # "In strict accordance with …, medical institutions …"
    if not english and not re.fullmatch(r"(?:[^，。；,;]{0,16}[，,])?\s*(?:由|请|凡)?", lead):
        return None  # a Chinese subject opens the sentence (or follows a leading clause)
    if (
        len(lead) > (40 if english else 18)
        or OBJECT_VERBS.search(lead)
        or (
            english
            and re.search(r"\b(?:of|to|for|by|in|with|from)\s*$", lead)
            and not re.search(r"person in charge of\s*$", lead)
        )
    ):
        return None
    subject = [first]
    for mention in mentions[1:]:
        between = body[subject[-1].end : mention.start]
        if re.fullmatch(r"\s*(?:、|和|及|与|以及|,|，|and|,\s*and|or)?\s*", between):
            subject.append(mention)
        else:
            break
    after = body[subject[-1].end : subject[-1].end + 30]
    if (
        not english
        and not MODAL.search(after[:12])
        and not re.match(
            r"\s*(?:进一步|持续|严格|在|根据|按照|结合|通过|对|，|适时|定期|及时|按时|统一|每年|每季度?|每半年|每月|组织|会同)",
            after,
        )
    ):
        return None
    co = [o for m in subject for o in m.extra]
    guided = re.match(r"\s*(?:要|应当|应|须|将)?\s*(?:指导|督促|组织)(?:各|有关|辖区内?|本地区)*", after)
    if guided and not english:
        position = subject[-1].end + guided.end()
        target = next(
            (m for m in mentions if m.start == position or (m.start > subject[-1].end and m.start <= position + 2)),
            None,
        )
        if target is not None and target.owner != subject[0].owner:
            return {
                "owner": target.owner,
                "co": [m.owner for m in subject] + co,
                "source": sentence,
                "subjects": [target.owner],
            }
    match = re.search(r"会同([^，。；]{2,30})", body)
    if match:
        co.extend(m.owner for m in ctx.catalogue.mentions(match.group(1), ctx.issuer))
    owners = []
    for m in subject:
        if m.owner not in owners:
            owners.append(m.owner)
    return {"owner": owners[0], "co": owners[1:] + co, "source": sentence, "subjects": owners[:1]}


def _subject_groups(sentences: list[str], ctx: Context) -> list[dict]:
    """Consecutive sentences with the same subject units, each group with its subjects."""
    groups: list[dict] = []
    for sentence in sentences:
        info = _sentence_owner(sentence, ctx)
        subjects = info["subjects"] if info else []
        if groups and (
            not subjects
            or [o.key for o in subjects] == [o.key for o in groups[-1]["subjects"]]
            or not groups[-1]["subjects"]
        ):
            groups[-1]["sentences"].append(sentence)
            if subjects and not groups[-1]["subjects"]:
                groups[-1].update(subjects=subjects, info=info)
            continue
        groups.append({"subjects": subjects, "info": info, "sentences": [sentence]})
    return groups


def _split_by_subject(task: dict, groups: list[dict], ctx: Context) -> list[dict]:
    children = []
    for group in groups:
        text = "".join(group["sentences"])
        hits = [(s, h) for s, h in _dated_duties(group["sentences"], ctx, False)] or [None]
        addressed = not group["subjects"] and ctx.default_owner is not None
        for owner in group["subjects"] or [ctx.default_owner]:
            for duty in hits:
                child = {
                    "ref": f"{task['ref']}.{len(children) + 1}",
                    "title": _short(duty[0] if duty else text),
                    "description": text,
                    "sources": {"title": text},
                    "generated": True,
                    "notes": "split by responsible unit: ref made here",
                }
                if addressed:
                    _set_owner(child, _addressees(ctx))
                elif owner is not None:
                    co = [o for o in (group["info"] or {}).get("co", []) if o != owner]
                    _set_owner(child, {"owner": owner, "co": co, "source": (group["info"] or {}).get("source", "")})
                if duty:
                    child["due"] = duty[1].due.isoformat()
                    if duty[1].start:
                        child["start"] = duty[1].start.isoformat()
                    child["sources"]["due"] = duty[0]
                found = _deliverable([duty[0]] if duty else group["sentences"])
                if found:
                    child["deliverable"], child["sources"]["deliverable"] = found
                cadence = _cadence(group["sentences"])
                if cadence:
                    child["recurrence"], child["sources"]["recurrence"] = cadence
                children.append(child)
    return children


def _dated_duties(sentences: list[str], ctx: Context, skip_heading: bool) -> list[tuple[str, DateHit]]:
    duties = []
    seen = set()
    for index, sentence in enumerate(sentences):
        if skip_heading and index == 0:
            continue
        for hit in find_dates(sentence, ctx.year):
            if not hit.deadline or YEAR_RANGE.fullmatch(hit.text or ""):
                continue
            if (hit.due, hit.start) in seen:
                continue
            seen.add((hit.due, hit.start))
            duties.append((sentence, hit))
    return duties


def _assumed_year_note(hit: DateHit, ctx: Context) -> str:
    if ctx.year_given:
        return f"«{hit.text}» gives no year, nor does the document: the year given with it, {ctx.year}, taken"
    return f"«{hit.text}» gives no year: the document's year {ctx.year} taken"


def _split_by_duty(task: dict, duties, owner_info, ctx: Context) -> list[dict]:
    children = []
    for number, (sentence, hit) in enumerate(duties, start=1):
        clause = _clause_of(sentence, hit)
        child = {
            "ref": f"{task['ref']}.{number}",
            "title": _short(clause),
            "description": sentence,
            "due": hit.due.isoformat(),
            "sources": {"title": sentence, "due": sentence},
            "generated": True,
            "notes": "split by deadline: ref made here"
            + ("; " + _assumed_year_note(hit, ctx) if hit.assumed_year else ""),
        }
        if hit.start:
            child["start"] = hit.start.isoformat()
        info = _sentence_owner(sentence, ctx) or owner_info or (_addressees(ctx))
        if info:
            _set_owner(child, info)
        found = _deliverable([clause]) if clause != sentence else _deliverable([sentence])
        if found:
            child["deliverable"], child["sources"]["deliverable"] = found[0], sentence
        if task.get("phase"):
            child["phase"] = task["phase"]
        children.append(child)
    return children


def _split_by_owner(task: dict, info: dict, sentences: list[str], duties, ctx: Context) -> list[dict]:
    children = []
    owners = []
    for owner in info["owners"]:
        if owner not in owners:
            owners.append(owner)
    dated = {}
    for sentence, hit in duties:
        who = _sentence_owner(sentence, ctx)
        target = who["owner"] if who and who["owner"] in owners else owners[0]
        dated.setdefault(target, []).append((sentence, hit))
    number = 0
    for owner in owners:
        mine = [s for s in sentences if (lambda w: w and w["owner"] == owner)(_sentence_owner(s, ctx))]
        hits = dated.get(owner, []) or [None]
        for duty in hits:
            number += 1
            text = duty[0] if duty else ("".join(mine) or task["description"])
            child = {
                "ref": f"{task['ref']}.{number}",
                "title": _short(text),
                "description": text,
                "owner": owner.as_seed(),
                "sources": {"title": text, "owner": info.get("source", "")},
                "generated": True,
                "notes": "split by responsible unit (分别负责): ref made here",
            }
            co = [o.as_seed() for o in info.get("co", []) if o != owner]
            if co:
                child["co_owners"] = co
            if duty:
                child["due"] = duty[1].due.isoformat()
                child["sources"]["due"] = duty[0]
                text = _clause_of(duty[0], duty[1])
                child["title"] = _short(text)
            found = _deliverable([text])
            if found:
                child["deliverable"], child["sources"]["deliverable"] = found
            children.append(child)
    return children


def _clause_of(sentence: str, hit: DateHit) -> str:
    """The part of a sentence that carries one of its deadlines: '于2025年5月10日前上交方案,
    于2025年10月底提交报告' → one clause each; the subject before the first clause stays."""
    if not hit.text or sentence.count(hit.text) != 1:
        return sentence
    position = sentence.index(hit.text)
    marks = [m.end() for m in re.finditer(r"[，,；;]", sentence)]
    dated = [m for m in re.finditer(r"[^，,；;。]*?(?:(?:19|20)\d{2}\s*年|\d{1,2}\s*月|年底|年内|今年)", sentence)]
    if len(dated) < 2:
        return sentence
    start = max([0] + [m for m in marks if m <= position])
    ends = [m for m in marks if m > position]
    end = ends[0] if ends else len(sentence)
    clause = sentence[start:end].strip("，,；;。 ")
    if start > 0:
        subject = re.match(r"^[^，,；;]*?(?=于|在|要|将|应)", sentence)
        if subject and subject.group(0) and not clause.startswith(subject.group(0)):
            clause = subject.group(0) + clause
    return clause


def _short(sentence: str) -> str:
    sentence = re.sub(r"^(?:同时|此外)[，,]", "", sentence.strip()).rstrip("。；;")
    if len(sentence) <= 40:
        return sentence
    cut = max(sentence.rfind("，", 0, 40), sentence.rfind(",", 0, 40))
    return sentence[:cut] if cut >= 10 else sentence[:40] + "…"


def _deliverable(sentences: list[str]) -> Optional[tuple[str, str]]:
    for sentence in sentences:
        match = next(
            (
                m
                for m in DELIVERABLE.finditer(sentence)
                if sentence[: m.start()].count("《") == sentence[: m.start()].count("》")
            ),
            None,
        )  # not inside a cited title
        if match:
            what = match.group("what").strip()
            what = re.sub(r"^(?:并|和|及|好|出|完善|细化|实施)+", "", what)
            what = re.sub(r"^(?:[一二两三四五六七八九十\d]+\s*(?:份|个|项|次|套|本|篇))", "", what)
            filing = FILING.search(sentence[match.end() : match.end() + 40])
            if filing:
                what += f"（报{filing.group(1)}备案）"
            if len(what) >= 2:
                return what, sentence
        match = FILING.search(sentence)
        if match:
            return f"备案材料（报{match.group(1)}备案）", sentence
    return None


def _cadence(sentences: list[str]) -> Optional[tuple[str, str]]:
    best = None
    order = [
        "FREQ=WEEKLY",
        "FREQ=MONTHLY;BYMONTHDAY=-1",
        "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1",
        "FREQ=MONTHLY;INTERVAL=6;BYMONTHDAY=-1",
        "FREQ=YEARLY",
    ]
    for sentence in sentences:
        found = find_cadence(sentence)
        if found and (best is None or order.index(found[1]) < order.index(best[0])):
            best = (found[1], sentence)
    return best


def _split_by_cadence(task: dict, sentences: list[str], owner_info, ctx: Context) -> list[dict]:
    """'每月评选优秀单位，每季评选优秀个人': one child duty per cadence, each with its own clause."""
    clauses = [c for sentence in sentences for c in re.split(r"(?<=[，,；;。])", sentence) if c.strip()]
    found: list[tuple[str, str]] = []
    for clause in clauses:
        cadence = find_cadence(clause)
        if cadence and re.search(r"每|按月|按季|按年", clause) and cadence[1] not in [rule for rule, _ in found]:
            found.append((cadence[1], clause.strip("，,；;。 ")))
    if len(found) < 2:
        return []
    children = []
    lead = next((m for m in ctx.catalogue.mentions(found[0][1], ctx.issuer) if m.start == 0), None)
    if lead is not None:  # "省质控中心每月评选…，每季评选…": the unit opening the item does them all
        owner_info = {"owner": lead.owner, "co": [], "source": found[0][1]}
    children = []
    for number, (rule, clause) in enumerate(found, start=1):
        child = {
            "ref": f"{task['ref']}.{number}",
            "title": _short(clause),
            "description": clause,
            "recurrence": rule,
            "sources": {"title": clause, "recurrence": clause},
            "generated": True,
            "notes": "split by cadence: ref made here",
        }
        info = _sentence_owner(clause, ctx) or owner_info or (_addressees(ctx))
        if info:
            _set_owner(child, info)
        if task.get("phase"):
            child["phase"] = task["phase"]
        children.append(child)
    return children


def _without_heading_date(title: str, due: str, year: Optional[int]) -> str:
    """'动员部署阶段（2024年7月底前）' → '动员部署阶段': a bracketed date in a heading that is the item's due date
    (kept in sources) is not part of its title."""
    for match in re.finditer(r"\s*[（(]([^（）()]*\d[^（）()]*)[）)]", title):
        if any(hit.due.isoformat() == due for hit in find_dates(match.group(1), year)):
            stripped = (title[: match.start()] + title[match.end() :]).strip(" 。.，,")
            return stripped if len(stripped) >= 2 else title
    return title


def _add_phase(title: str, heading_dates: list[DateHit], sentences: list[str], ctx: Context) -> str:
    key = f"phase-{len(ctx.phases) + 1}"
    name = re.sub(r"[（(][^（）()]*\d[^（）()]*[）)]", "", title).strip(" 。.")
    start = end = None
    if heading_dates:
        start, end = heading_dates[0].start, heading_dates[0].due
    else:
        hits = [h for s in sentences for h in find_dates(s, ctx.year)]
        if hits:
            start = min((h.start or h.due) for h in hits)
            end = max(h.due for h in hits)
    ctx.phases.append(
        {
            "key": key,
            "name": name or key,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        }
    )
    return key


def _number_uids(tasks: list[dict]) -> None:
    counter = 0
    stack = list(tasks)
    while stack:
        task = stack.pop(0)
        counter += 1
        task["uid"] = f"t{counter}"
        stack[0:0] = task.get("children", [])
