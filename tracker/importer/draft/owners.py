"""Responsible units: named units matched against the org-unit catalogue, and the generic
ones ("各省级卫生健康行政部门", "医疗机构", "省级质控中心") turned into selectors relative to
the issuing unit ("各县（市、区）卫生计生局" in a city's plan means the counties under that city).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

LEVELS = ("national", "provincial", "prefecture", "county", "institution")


@dataclass(frozen=True)
class CatalogueUnit:
    code: str
    name: str
    kind: str
    level: str
    parent: Optional[str]


@dataclass(frozen=True)
class Owner:
    """A unit code or a selector {each: {kind, level, under}}."""

    code: Optional[str] = None
    kind: Optional[str] = None
    level: Optional[str] = None
    under: Optional[str] = None

    def as_seed(self):
        if self.code:
            return self.code
        each = {k: v for k, v in (("kind", self.kind), ("level", self.level), ("under", self.under)) if v}
        return {"each": each}

    @property
    def key(self) -> str:
        return self.code or f"each:{self.kind or ''}/{self.level or ''}/{self.under or ''}"


@dataclass
class Mention:
    start: int
    end: int
    owner: Owner
    text: str
    extra: list = field(default_factory=list)  # "省级以上": the issuer too
    abbreviated: bool = False  # named by its usual abbreviation (卫健局), not by its name


def name_variants(name: str) -> set[str]:
    """Spellings of a catalogue name met in documents (委/委员会, 卫健委, 管理局, 卫生计生)."""
    variants = {name}
    for _ in range(2):
        for v in list(variants):
            if v.endswith("委"):
                variants.add(v + "员会")
            variants.add(v.replace("卫生健康委", "卫健委"))
            variants.add(v.replace("卫生健康委", "卫生计生委"))  # its name before 2018
            variants.add(v.replace("卫生和计划生育", "卫生计生"))
            variants.add(v.replace("卫生计生", "卫计"))
            variants.add(v.replace("医政司", "医政医管局"))
            if re.match(r"^国家.{2,6}局$", v) and "管理局" not in v:
                variants.add(v[:-1] + "管理局")
    return {v for v in variants if len(v) >= 4}


_LOCAL_PLACE = re.compile(r"^(.{2,8}?(?:自治县|自治州|县|区|市|旗|州|盟))")


def short_forms(name: str) -> set[str]:
    """The usual abbreviations of a local body's name without its place: 同心县卫生健康局 → 卫健局,
    同心县文化旅游广电局 → 文旅局 (the first character of each two-character word of its field, of all
    of them or of the first two, and the body's own word)."""
    place = _LOCAL_PLACE.match(name)
    body = name[place.end() :] if place else ""
    match = re.fullmatch(r"([\u4e00-\u9fff]{4,12}?)(局|委员会|委|中心)", body)
    if not match or len(match.group(1)) % 2:
        return set()
    core, suffix = match.groups()
    words = [core[i : i + 2] for i in range(0, len(core), 2)]
    return {"".join(w[0] for w in words) + suffix, "".join(w[0] for w in words[:2]) + suffix}


def field_forms(field_name: str) -> set[str]:
    """A field of work and its usual abbreviation: 医疗管理 → 医管, 质量控制 → 质控, 疾病预防控制 →
    疾控 (the first character of each two-character word; of the first and last word for three)."""
    forms = {field_name} if len(field_name) >= 2 else set()
    if len(field_name) >= 4 and len(field_name) % 2 == 0:
        words = [field_name[i : i + 2] for i in range(0, len(field_name), 2)]
        forms.add("".join(w[0] for w in words))
        if len(words) == 3:
            forms.add(words[0][0] + words[-1][0])
    return {f for f in forms if len(f) >= 2}


ENGLISH_NAMES = {  # the catalogue is in Chinese; translations name the national bodies so
    "国家卫生健康委": [r"National Health Commission", r"\bNHC\b"],
    "国家中医药局": [
        r"State Administration of Traditional Chinese Medicine",
        r"National (?:Administration|Bureau) of Traditional Chinese Medicine",
    ],
}

_LEVEL_WORDS = [
    (r"国家级|全国", "national"),
    (r"省级以上|省级及以上", "provincial+"),
    (r"地（市）级以上|地\(市\)级以上|地市级以上|市级以上", "prefecture+"),
    (r"省级|各省、自治区、直辖市(?:及新疆生产建设兵团)?|各省(?:份)?|省、自治区、直辖市|自治区|省", "provincial"),
    # 市州 / 州市 / 盟市 / 地州市: the prefectures of provinces with autonomous prefectures or leagues
    (
        r"地（市）级|地\(市\)级|地市级|地级市|地级|市级|各(?:地州市|市州|州市|盟市|市)|市州|州市|盟市|设区的市",
        "prefecture",
    ),
    (r"县（市、区）|县\(市、区\)|区县级?|县级|各县", "county"),
]
_LEVEL = "|".join(f"(?:{w})" for w, _ in _LEVEL_WORDS)
# the level one below a place of this kind, for "各县(区、市)X" in a city's notice
_LOCAL_LEVELS = {"省": "prefecture", "市": "county", "州": "county", "盟": "county"}
_LOCAL_LEVEL_WORDS = "县|区|市|州|盟"
_KIND_NOUNS = [
    ("qc_center", r"(?:肿瘤(?:相关)?)?(?:医疗)?质(?:量)?控(?:制)?中心|质控组织"),
    ("committee", r"(?:肿瘤)?质控专家委员会|专家委员会"),
    (
        "commission",
        r"中医药(?:管理|主管)部门|卫生健康(?:行政)?部门|卫生(?:行政)?部门|卫生健康委(?:员会)?|卫健委|卫生计生(?:委|局|部门)|卫生和计划生育(?:委员会|局)|卫计(?:委|局)|卫生健康局|卫生局",
    ),
    ("institution", r"医疗(?:卫生|保健)?机构|(?:公立|民营|综合)?医院|医务人员|医疗单位"),
]
_GENERIC = re.compile(
    rf"(?:(?:各|有关|地方各级|各级各类|各级|各类|各地|地方|其他)*)"
    # "各市、县（市、区）卫生健康委": several levels named together, the first owns, the others co-own
    rf"(?:(?P<level>{_LEVEL})(?P<more>(?:[、和及与](?:{_LEVEL}))*))?(?:(?:各|有关|地方各级|各级各类|各级|各类|各地|地方|相关)*)"
    rf"(?:肿瘤)?(?P<noun>{'|'.join(f'(?P<{k}>{n})' for k, n in _KIND_NOUNS)})"
)
_ENGLISH_GENERIC = [
    (
        re.compile(
            r"(?:provincial|province-level)\s+health\s+(?:administrati(?:ve|on)\s+departments?|commissions?)|health\s+administrati(?:ve|on)\s+departments?\s+at\s+(?:or\s+above\s+)?the\s+provincial\s+level",
            re.I,
        ),
        "commission",
        "provincial",
    ),
    (
        re.compile(
            r"health\s+administrati(?:ve|on)\s+departments?(?:\s+at\s+all\s+levels)?|health\s+commissions?", re.I
        ),
        "commission",
        None,
    ),
    (
        re.compile(r"(?:professional\s+)?quality\s+control\s+(?:cent(?:er|re)s?|organi[sz]ations?)", re.I),
        "qc_center",
        None,
    ),
    (re.compile(r"medical\s+institutions?|hospitals?", re.I), "institution", None),
]
SELF_WORDS = re.compile(r"我中心|本中心|我局|本局|我委|本委|我厅|本厅|我办|本办|我院")


class Catalogue:
    """The org-unit catalogue: name lookup and the relative selectors of one plan."""

    def __init__(self, units: Iterable[CatalogueUnit]):
        self.units = {u.code: u for u in units}
        self.children: dict[Optional[str], list[str]] = {}
        for unit in self.units.values():
            self.children.setdefault(unit.parent, []).append(unit.code)
        names: dict[str, str] = {}
        for unit in self.units.values():
            for variant in name_variants(unit.name):
                names.setdefault(variant, unit.code)
        self.names = names
        short: dict[str, list[str]] = {}
        for unit in self.units.values():
            for form in short_forms(unit.name) if unit.level in ("prefecture", "county") else ():
                if form not in names and not _GENERIC.fullmatch(form):  # 卫健委: any commission, a selector
                    short.setdefault(form, []).append(unit.code)
        self._short = short
        self._short_re = (
            re.compile("|".join(re.escape(n) for n in sorted(short, key=len, reverse=True))) if short else None
        )
        self._name_re = (
            re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))) if names else None
        )
        english = []
        for chinese, patterns in ENGLISH_NAMES.items():
            code = names.get(chinese)
            if code:
                english.extend((re.compile(p), code) for p in patterns)
        self._english = english

    @classmethod
    def from_units_file(cls, path) -> "Catalogue":
        from tracker.importer.schema import parse_units_file

        return cls(CatalogueUnit(u.code, u.name, u.kind, u.level, u.parent_code) for u in parse_units_file(path))

    @classmethod
    def from_database(cls) -> "Catalogue":
        from sqlalchemy import select

        from tracker.extensions import db
        from tracker.models import OrgUnit

        rows = db.session.execute(
            select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.kind, OrgUnit.level, OrgUnit.parent_id)
        ).all()
        codes = {row.id: row.code for row in rows}
        return cls(CatalogueUnit(r.code, r.name, r.kind, r.level, codes.get(r.parent_id)) for r in rows)

    def is_ancestor(self, ancestor: str, code: str) -> bool:
        unit = self.units.get(code)
        while unit and unit.parent:
            if unit.parent == ancestor:
                return True
            unit = self.units.get(unit.parent)
        return False

    def lookup(self, text: str) -> Optional[str]:
        """The code of the unit a name (or an issuer line such as 'X办公厅') stands for."""
        text = re.sub(r"\s+", "", text)
        for candidate in (text, re.sub(r"(办公厅|办公室|综合处|医政处)$", "", text)):
            if candidate in self.names:
                return self.names[candidate]
        if self._name_re:
            match = self._name_re.search(text)
            if match:
                return self.names[match.group(0)]
        return None

    def department_for(self, code: Optional[str], fields: Iterable[str]) -> Optional[str]:
        """The issuer's department whose name names the plan's field of work: '医疗管理'
        (or its abbreviation 医管, the first character of each word) → 国家卫生健康委医政医管局.
        A department is a unit of the issuer's kind under it, named with the issuer's name
        and a 司/局/处/科 of its own. None unless exactly one department fits."""
        unit = self.units.get(code) if code else None
        if unit is None:
            return None
        parents = sorted(name_variants(unit.name), key=len, reverse=True)
        found = set()
        for child_code in self.children.get(code, []):
            child = self.units[child_code]
            if child.kind != unit.kind:
                continue
            cores = set()
            for variant in name_variants(child.name):
                prefix = next((p for p in parents if variant.startswith(p) and len(variant) > len(p)), None)
                if prefix:
                    core = re.sub(r"(?:办公室|司|局|处|科|室)$", "", variant[len(prefix) :])
                    if len(core) >= 2:
                        cores.add(core)
            for field_name in fields:
                forms = field_forms(field_name)
                if any(form in core or (len(core) >= 2 and core in field_name) for core in cores for form in forms):
                    found.add(child_code)
        return found.pop() if len(found) == 1 else None

    def level_below(self, level: Optional[str]) -> str:
        if level in LEVELS and level not in ("county", "institution"):
            return LEVELS[LEVELS.index(level) + 1]
        return "provincial"

    def mentions(self, text: str, issuer: Optional[str]) -> list[Mention]:
        """Every unit named in `text`, in order, each as a unit code or a selector."""
        issuer_unit = self.units.get(issuer) if issuer else None
        candidates: list[Mention] = []
        if self._name_re:
            for match in _overlapping(self._name_re, text):
                candidates.append(
                    Mention(match.start(), match.end(), Owner(code=self.names[match.group(0)]), match.group(0))
                )
        candidates += self._short_local_names(text, issuer_unit)
        candidates += self._abbreviated_names(text, issuer_unit)
        for pattern, code in self._english:
            for match in pattern.finditer(text):
                candidates.append(Mention(match.start(), match.end(), Owner(code=code), match.group(0)))
        if issuer:
            for match in SELF_WORDS.finditer(text):
                candidates.append(Mention(match.start(), match.end(), Owner(code=issuer), match.group(0)))
        for match in _GENERIC.finditer(text):
            kind = next(k for k, _ in _KIND_NOUNS if match.group(k))
            owner, extra = self._generic_owner(kind, match.group("level") or "", match.group(0), issuer_unit)
            for word in re.findall(_LEVEL, match.group("more") or ""):
                also, _ = self._generic_owner(kind, word, match.group(0), issuer_unit)
                if also and also != owner and also not in extra:
                    extra.append(also)
            if owner:
                candidates.append(Mention(match.start(), match.end(), owner, match.group(0), extra))
        for pattern, kind, level in _ENGLISH_GENERIC:
            for match in pattern.finditer(text):
                owner, extra = self._generic_owner(kind, "", match.group(0), issuer_unit, level)
                candidates.append(Mention(match.start(), match.end(), owner, match.group(0), extra))
        candidates = [m for m in candidates if not re.search(r"军队|军委|部队", text[max(0, m.start - 4) : m.start])]
        found: list[Mention] = []
        for mention in sorted(candidates, key=lambda m: (m.start - m.end, m.start)):  # longest first
            if all(mention.end <= other.start or other.end <= mention.start for other in found):
                found.append(mention)
        found.sort(key=lambda m: m.start)
        return _merge_joint_names(self._same_place_names(text, found), self)

    def _abbreviated_names(self, text: str, issuer_unit) -> list[Mention]:
        """'卫健局、文旅局' in a county's task table: a local unit by its usual abbreviation (同心县卫生健康局,
        同心县文化旅游广电局), the unit of the issuer's place when it has one, else the only one the
        catalogue holds; never a guess between several."""
        if self._short_re is None:
            return []
        place = re.match(r"^(.{2,8}?[省市县区州盟旗])", issuer_unit.name) if issuer_unit is not None else None
        out = []
        for match in self._short_re.finditer(text):
            if text[max(0, match.start() - 1) : match.start()] in ("各", "县", "市", "区"):
                continue  # "各卫健局" is a selector, "县卫健局" the level-word form
            codes = self._short[match.group(0)]
            if place:
                codes = [c for c in codes if self.units[c].name.startswith(place.group(1))] or codes
            if len(codes) == 1:
                out.append(Mention(match.start(), match.end(), Owner(code=codes[0]), match.group(0), abbreviated=True))
        return out

    def _short_local_names(self, text: str, issuer_unit) -> list[Mention]:
        """'县民政局' in a notice of 灵璧县卫生健康委: a unit of the issuer's own place named by its level word
        alone (灵璧县民政局), when the catalogue holds it."""
        if issuer_unit is None:
            return []
        place = re.match(r"^(.{2,8}?[省市县区州盟旗])", issuer_unit.name)
        if not place:
            return []
        prefix = place.group(1)
        out = []
        for name, code in self.names.items():
            if not name.startswith(prefix) or len(name) < len(prefix) + 2:
                continue
            rest = name[len(prefix) :]
            short = prefix[-1] + rest
            for match in re.finditer(re.escape(short), text):
                if text[max(0, match.start() - 1) : match.start()] != "各":
                    out.append(Mention(match.start(), match.end(), Owner(code=code), match.group(0)))
            # "各县(区、市)计生协" in that place: each unit of that kind one level down, under the place's own
            unit = self.units[code]
            below = _LOCAL_LEVELS.get(prefix[-1])
            if below and unit.level != "county":
                pattern = rf"各(?:{_LOCAL_LEVEL_WORDS})(?:[（(][^（）()]{{1,8}}[）)])?" + re.escape(rest)
                for match in re.finditer(pattern, text):
                    owner = Owner(kind=unit.kind, level=below, under=code)
                    out.append(Mention(match.start(), match.end(), owner, match.group(0)))
        return out

    def _same_place_names(self, text: str, found: list[Mention]) -> list[Mention]:
        """'省卫生健康委、疾控局': a short name after a named unit is the unit of the same place
        (甘肃省卫生健康委 → 甘肃省疾控局), when the catalogue holds it."""
        out = list(found)
        for mention in found:
            unit = self.units.get(mention.owner.code) if mention.owner.code else None
            place = re.match(r"^.+?(?:自治区|省|市|自治州|州|盟|地区|县|区|旗)", unit.name) if unit else None
            if not place:
                continue
            match = re.match(r"[、和及与]([\u4e00-\u9fff]{2,8}?(?:局|委员会|委|中心|办公室|办))", text[mention.end :])
            if not match or any(m.start == mention.end + 1 for m in found):
                continue
            code = self.names.get(place.group(0) + match.group(1))
            if code and code != mention.owner.code:
                start = mention.end + 1
                out.append(Mention(start, start + len(match.group(1)), Owner(code=code), match.group(1)))
        return sorted(out, key=lambda m: m.start)

    def _generic_owner(self, kind, level_word, phrase, issuer_unit, level=None):
        level_name = level
        for words, name in _LEVEL_WORDS:
            if level_word and re.fullmatch(words, level_word):
                level_name = name
                break
        extra = []
        if level_name and level_name.endswith("+"):
            level_name = level_name[:-1]
            if issuer_unit is not None:
                extra.append(Owner(code=issuer_unit.code))
        issuer_level = issuer_unit.level if issuer_unit else "national"
        under = issuer_unit.code if issuer_unit is not None and issuer_unit.level not in ("national",) else None
        if kind == "institution":
            return Owner(kind="institution", under=under), extra
        if kind == "commission":
            if level_name == "national":
                return Owner(code=self._national_commission()), extra
            if not level_name:
                level_name = self.level_below(issuer_level)
            if issuer_unit is not None and LEVELS.index(level_name) <= LEVELS.index(issuer_level):
                return Owner(code=issuer_unit.code), extra  # the issuer's own level: the issuer
            return Owner(kind="commission", level=level_name, under=under), extra
        if (
            kind in ("qc_center", "committee")
            and "各" not in phrase
            and issuer_unit is not None
            and level_name == issuer_level
        ):
            # "省医疗质量控制中心" in a provincial notice: the issuer's own centre, when it has exactly one
            core = re.sub(r"^(?:全|本)?(?:省级|省|自治区级|自治区|直辖市|市级|市|区)", "", phrase)
            own = [
                code
                for code in self.children.get(issuer_unit.code, [])
                if self.units[code].kind == kind
                and self.units[code].level == level_name
                and core
                and core in self.units[code].name
            ]
            if len(own) == 1:
                return Owner(code=own[0]), extra
        if kind == "qc_center":
            return Owner(kind="qc_center", level=level_name, under=under if level_name else under), extra
        if kind == "committee":
            return Owner(kind="committee", level=level_name, under=under), extra
        return None, extra

    def _national_commission(self) -> Optional[str]:
        roots = [self.units[c] for c in self.children.get(None, [])]
        return roots[0].code if roots else None


def _overlapping(pattern, text: str):
    """Matches of `pattern` starting at every position (a longer generic phrase may win)."""
    position = 0
    while True:
        match = pattern.search(text, position)
        if not match:
            return
        yield match
        position = match.start() + 1


def _merge_joint_names(found: list[Mention], catalogue: Catalogue) -> list[Mention]:
    """'国家癌症中心 国家肿瘤性疾病医疗质量控制中心' (no separator): the centre hosted by the
    first unit; the descendant is meant, the host joins as co-owner."""
    merged: list[Mention] = []
    for mention in found:
        if merged:
            last = merged[-1]
            gap = mention.start - last.end
            a, b = last.owner.code, mention.owner.code
            if a and b and gap <= 1 and catalogue.is_ancestor(a, b):
                merged[-1] = Mention(
                    last.start, mention.end, mention.owner, last.text + mention.text, last.extra + [last.owner]
                )
                continue
        merged.append(mention)
    return merged
