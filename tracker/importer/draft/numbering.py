"""The numbering at the start of a line: 一、 / （一） / 1. / （1） / ① and their variants.

`parse_marker` returns a Marker(style, value, rest) or None. Styles, from the outermost:
`cn` 一、 (also I. II. in an English translation), `pcn` （一） (also (1) / (I) in English),
`num` 1. 1、, `pnum` （1）, `circ` ①. Full-width or half-width brackets and stray spaces are
accepted; a lone ")" where the opening bracket and number were lost is style `lost`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUMERAL = "[一二三四五六七八九十]+"
ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50}
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
STYLE_ORDER = ("cn", "pcn", "num", "pnum", "circ")


@dataclass
class Marker:
    style: str
    value: int
    rest: str
    english: bool = False


def cn_to_int(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)
    value = 0
    for char in text:
        value = value * 10 + CN_DIGITS.get(char, 0)
    return value


def int_to_cn(value: int) -> str:
    digits = "零一二三四五六七八九"
    if value < 10:
        return digits[value]
    if value < 20:
        return "十" + (digits[value - 10] if value > 10 else "")
    tens, ones = divmod(value, 10)
    return digits[tens] + "十" + (digits[ones] if ones else "")


def roman_to_int(text: str) -> int:
    total, previous = 0, 0
    for char in reversed(text.lower()):
        value = ROMAN[char]
        total = total - value if value < previous else total + value
        previous = max(previous, value)
    return total


_BULLET = r"^(?:[-•·●▪]\s*)?"
_PATTERNS = [
    ("cn", re.compile(_BULLET + rf"({CN_NUMERAL})\s*[、.．,，]\s*(?=\S)")),
    ("pcn", re.compile(_BULLET + rf"[（(]\s*({CN_NUMERAL})\s*[）)]\s*[、.．]?\s*")),
    ("pnum", re.compile(_BULLET + r"[（(]\s*(\d{1,2})\s*[）)]\s*[、.．]?\s*")),
    ("roman_paren", re.compile(_BULLET + r"\(\s*([IVXivx]{1,4})\s*\)\s*")),
    ("roman", re.compile(_BULLET + r"([IVXivx]{1,4})\s*[.．]\s+(?=[A-Za-z])")),
    ("num", re.compile(_BULLET + r"(\d{1,2})\s*(?:[、．]|\.(?!\d))\s*(?=\S)")),
    ("circ", re.compile(_BULLET + rf"([{CIRCLED}])\s*")),
    ("lost", re.compile(r"^[）)]\s*(?=[\u4e00-\u9fff])")),
]


def is_english(text: str) -> bool:
    letters = len(re.findall(r"[A-Za-z]", text))
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    return letters > 3 * han and letters >= 4


def parse_marker(line: str) -> Optional[Marker]:
    for style, pattern in _PATTERNS:
        match = pattern.match(line)
        if not match:
            continue
        rest = line[match.end() :].strip()
        if not rest:
            return None
        english = is_english(rest)
        if style == "cn":
            return Marker("cn", cn_to_int(match.group(1)), rest, english)
        if style == "pcn":
            return Marker("pcn", cn_to_int(match.group(1)), rest, english)
        if style == "pnum":
            # In an English translation "(1)" stands for （一）.
            return Marker("pcn" if english else "pnum", int(match.group(1)), rest, english)
        if style == "roman_paren":
            if not english:
                return None
            return Marker("pcn", roman_to_int(match.group(1)), rest, True)
        if style == "roman":
            if not english or not re.fullmatch(r"[IVXivx]+", match.group(1)):
                return None
            return Marker("cn", roman_to_int(match.group(1)), rest, True)
        if style == "num":
            if re.match(r"^\d", rest) or re.match(r"^(?:年|月|日|%|万|亿|个|项|家|次|人)", rest):
                return None
            return Marker("num", int(match.group(1)), rest, english)
        if style == "circ":
            return Marker("circ", CIRCLED.index(match.group(1)) + 1, rest, english)
        if style == "lost":
            return Marker("lost", 0, rest, False)
    return None


def ref_segment(style: str, value: int) -> str:
    """The seed-plan ref segment of a numbered item: 一, (一), 1, (1), ①."""
    if style == "cn":
        return int_to_cn(value)
    if style == "pcn":
        return f"({int_to_cn(value)})"
    if style == "num":
        return str(value)
    if style == "pnum":
        return f"({value})"
    if style == "circ":
        return CIRCLED[value - 1]
    return str(value)
