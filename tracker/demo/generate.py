"""A deterministic national data set for demonstrations and benchmarks.

`generate(scale, as_of)` adds, under the provinces of the unit catalogue, prefectures and counties
(national: ~330 and ~2,800, about 3,000 units) and one plan in three phases whose duties are
cascaded to every prefecture and county, up to about 1,000,000 tasks. Everything comes from one
seeded random generator: the same arguments give the same data. Rows go in by bulk inserts (COPY
on PostgreSQL), never one ORM object each.

The data set looks like the day `as_of` (the CLI's default: today, Asia/Shanghai). The plan runs
a year either side of it; the duties' due dates are spread evenly (stratified, then jittered) from
`DUE_WINDOW[0]` to `DUE_WINDOW[1]` days around it, so about 36 % are due by then and most are not
yet due. Each duty's copies get their statuses by quota (`_Quota`), not one independent draw
each, so the shares hold even on a small data set: of the work already due, 17 % is still open
(overdue), so 5–10 % of all tasks are overdue (national 6.8 %, small 8 %; the provincial scale's
lagging province is a third of it: 12.6 %); one lagging province (`LAGGING_PROVINCE`, else the
last one) has 75 % of its due work still open. `as_of` earlier than today is the worst case: what
fell due since is overdue now (at national scale 120 days back: 25 %; 215 days: 40 %).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterator, Optional

from sqlalchemy import func, insert, select, text

from tracker.extensions import db
from tracker.initials import name_initials
from tracker.models import OrgUnit, Phase, Plan, Task

PLAN_KEY = "demo-national"
CODE_PREFIX = "G-"  # generated units: G-P11-01 (prefecture), G-P11-01-01 (county)
LAGGING_PROVINCE = "P64"  # 宁夏 (the demo coordinator nx_coord's), when the scale includes it
DUE_WINDOW = (-200, 360)  # days around as_of (within the plan's year either side): 36 % due by then

# (kind, share) of a duty's copies, by whether the duty was due by as_of and the unit lags.
# Open kinds (returned, in_progress, not_started) past their due date are overdue.
PAST_MIX = (
    ("on_time", 0.62),
    ("late", 0.15),
    ("submitted", 0.06),
    ("returned", 0.02),
    ("in_progress", 0.10),
    ("not_started", 0.05),
)
PAST_MIX_LAGGING = (
    ("on_time", 0.10),
    ("late", 0.10),
    ("submitted", 0.05),
    ("returned", 0.05),
    ("in_progress", 0.40),
    ("not_started", 0.30),
)
FUTURE_MIX = (("early", 0.08), ("submitted", 0.04), ("returned", 0.01), ("in_progress", 0.32), ("not_started", 0.55))
FUTURE_MIX_LAGGING = (("early", 0.02), ("submitted", 0.02), ("in_progress", 0.20), ("not_started", 0.76))


@dataclass(frozen=True)
class Scale:
    prefectures_per_province: tuple[int, int]  # range (inclusive) per province
    counties_per_prefecture: tuple[int, int]
    sections: int
    duties_per_section: int
    provinces: Optional[int] = None  # None: every province of the catalogue


SCALES = {
    # 32 provinces x ~10.3 prefectures x ~8.5 counties ≈ 3,130 units; 8 x 40 duties x 3,130 ≈ 1,000,000 tasks
    "national": Scale((10, 11), (8, 9), sections=8, duties_per_section=40),
    "provincial": Scale((10, 11), (8, 9), sections=8, duties_per_section=10, provinces=3),
    # eight provinces of two units each: the lagging one is an eighth, as it is a small share nationally
    "small": Scale((1, 1), (1, 1), sections=3, duties_per_section=5, provinces=8),
}

SECTION_TITLES = [
    "加强组织领导",
    "完善质控体系",
    "规范诊疗行为",
    "提升服务能力",
    "强化信息支撑",
    "开展监测评估",
    "推进人才建设",
    "做好总结宣传",
    "加强督导检查",
    "完善制度建设",
]
DUTY_VERBS = ["制定", "上报", "组织开展", "完成", "建立", "落实", "开展", "汇总"]
DUTY_OBJECTS = [
    "工作方案",
    "季度质控报告",
    "专项检查",
    "病例抽查",
    "质控中心建设",
    "培训计划",
    "信息报送",
    "自查自评",
    "整改报告",
    "年度总结",
]


class GenerateError(ValueError):
    pass


@dataclass
class GenerateReport:
    units: int = 0
    tasks: int = 0
    lagging: str = ""  # the lagging province's name


def _rows_per_batch() -> int:
    return 20_000


def generate(
    scale_name: str, as_of: date, seed: int = 2026, progress: Optional[Callable[[int], None]] = None
) -> GenerateReport:
    if scale_name not in SCALES:
        raise GenerateError(f"unknown scale '{scale_name}' (one of {', '.join(SCALES)})")
    if db.session.scalar(select(Plan.id).where(Plan.key == PLAN_KEY)):
        raise GenerateError(f"the demo data set is already there (plan {PLAN_KEY})")
    provinces = list(
        db.session.scalars(
            select(OrgUnit).where(OrgUnit.kind == "commission", OrgUnit.level == "provincial").order_by(OrgUnit.code)
        )
    )
    root = db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
    if not provinces or root is None:
        raise GenerateError("load the unit catalogue first: flask seed load")
    scale = SCALES[scale_name]
    rng = random.Random(seed)
    if scale.provinces:
        provinces = provinces[: scale.provinces]
    lagging = next((p for p in provinces if p.code == LAGGING_PROVINCE), provinces[-1])
    report = GenerateReport(lagging=lagging.name)
    targets = _make_units(provinces, scale, rng, report)
    _make_plan(root, targets, scale, rng, as_of, report, progress, lagging.code)
    return report


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _make_units(provinces, scale: Scale, rng: random.Random, report: GenerateReport) -> list[tuple[int, str]]:
    """Prefectures and counties under each province; returns (id, code) of every target unit."""
    next_id = _next_id(OrgUnit)
    rows, targets = [], []
    for province in provinces:
        for p in range(1, rng.randint(*scale.prefectures_per_province) + 1):
            pid, ppath = next_id, f"{province.path}{next_id}/"
            next_id += 1
            pcode = f"{CODE_PREFIX}{province.code}-{p:02d}"
            short = province.name.replace("卫生健康委", "")
            pname = f"{short}第{p}市卫生健康委"
            rows.append(
                dict(
                    id=pid,
                    code=pcode,
                    name=pname,
                    initials=name_initials(pname),
                    kind="commission",
                    level="prefecture",
                    parent_id=province.id,
                    path=ppath,
                    position=p,
                    example=True,
                )
            )
            targets.append((pid, pcode))
            for c in range(1, rng.randint(*scale.counties_per_prefecture) + 1):
                cid = next_id
                next_id += 1
                ccode = f"{pcode}-{c:02d}"
                cname = f"{short}第{p}市第{c}县卫生健康局"
                rows.append(
                    dict(
                        id=cid,
                        code=ccode,
                        name=cname,
                        initials=name_initials(cname),
                        kind="commission",
                        level="county",
                        parent_id=pid,
                        path=f"{ppath}{cid}/",
                        position=c,
                        example=True,
                    )
                )
                targets.append((cid, ccode))
    db.session.execute(insert(OrgUnit), rows)
    _fix_sequence("org_units")
    report.units = len(rows)
    return targets


def _make_plan(
    root: OrgUnit,
    targets,
    scale: Scale,
    rng: random.Random,
    as_of: date,
    report: GenerateReport,
    progress,
    lagging_code: str,
) -> None:
    start, end = as_of - timedelta(days=365), as_of + timedelta(days=365)
    plan = Plan(
        key=PLAN_KEY,
        title="全国医疗质量提升示范行动计划（演示数据）",
        doc_number=f"演示〔{start.year}〕1号",
        issuer="国家卫生健康委",
        issuer_unit_id=root.id,
        issued_on=start - timedelta(days=15),
        period_start=start,
        period_end=end,
        source="generated",
        notes=f"flask demo generate: deterministic demonstration data as of {as_of.isoformat()}",
    )
    db.session.add(plan)
    db.session.flush()
    phases = [
        Phase(
            plan_id=plan.id,
            key="startup",
            name="启动阶段",
            start_on=start,
            end_on=as_of - timedelta(days=181),
            position=0,
        ),
        Phase(
            plan_id=plan.id,
            key="implement",
            name="实施阶段",
            start_on=as_of - timedelta(days=180),
            end_on=as_of + timedelta(days=180),
            position=1,
        ),
        Phase(
            plan_id=plan.id,
            key="evaluate",
            name="评估阶段",
            start_on=as_of + timedelta(days=181),
            end_on=end,
            position=2,
        ),
    ]
    db.session.add_all(phases)
    db.session.flush()
    now = datetime.now(timezone.utc)
    next_id = _next_id(Task)
    headers, templates = [], []
    duties = scale.sections * scale.duties_per_section
    slots = list(range(duties))  # each duty its own stretch of the window, in a shuffled order
    rng.shuffle(slots)
    span = DUE_WINDOW[1] - DUE_WINDOW[0]
    for s in range(scale.sections):
        sid = next_id
        next_id += 1
        ref = "一二三四五六七八九十"[s]
        headers.append(
            _task_row(
                sid,
                plan.id,
                None,
                ref,
                SECTION_TITLES[s % len(SECTION_TITLES)],
                root.id,
                None,
                None,
                "not_started",
                0,
                0.0,
                None,
                f"/{sid}/",
                0,
                s,
                now,
            )
        )
        for d in range(scale.duties_per_section):
            tid = next_id
            next_id += 1
            slot = slots[s * scale.duties_per_section + d]
            due = as_of + timedelta(days=DUE_WINDOW[0] + int((slot + rng.random()) * span / duties))
            phase = phases[0] if due <= phases[0].end_on else phases[1] if due <= phases[1].end_on else phases[2]
            title = f"{rng.choice(DUTY_VERBS)}{rng.choice(DUTY_OBJECTS)}（{ref}.{d + 1}）"
            templates.append((tid, f"/{sid}/{tid}/", f"{ref}.{d + 1}", title, due, phase.id))
            headers.append(
                _task_row(
                    tid,
                    plan.id,
                    sid,
                    f"{ref}.{d + 1}",
                    title,
                    root.id,
                    {"kind": "commission"},
                    due,
                    "not_started",
                    0,
                    0.0,
                    None,
                    f"/{sid}/{tid}/",
                    1,
                    d,
                    now,
                    phase.id,
                )
            )
    _bulk_insert(headers)
    total = len(headers)
    batch: list[dict] = []
    lags = [code.startswith(f"{CODE_PREFIX}{lagging_code}-") for _unit_id, code in targets]
    quotas = {
        (past, lag): _Quota(mix)
        for (past, lag), mix in {
            (True, False): PAST_MIX,
            (True, True): PAST_MIX_LAGGING,
            (False, False): FUTURE_MIX,
            (False, True): FUTURE_MIX_LAGGING,
        }.items()
    }
    for tid, tpath, ref, title, due, phase_id in templates:
        past = due < as_of
        kinds = {lag: iter(quotas[past, lag].draw(lags.count(lag), rng)) for lag in (False, True)}
        for position, (unit_id, unit_code) in enumerate(targets):
            status, percent, completed = _status(rng, next(kinds[lags[position]]), due, as_of)
            cid = next_id
            next_id += 1
            batch.append(
                _task_row(
                    cid,
                    plan.id,
                    tid,
                    f"{ref}@{unit_code}",
                    title,
                    unit_id,
                    None,
                    due,
                    status,
                    percent,
                    100.0 if status == "accepted" else float(percent),
                    completed,
                    f"{tpath}{cid}/",
                    2,
                    position,
                    now,
                    phase_id,
                )
            )
            if len(batch) >= _rows_per_batch():
                _bulk_insert(batch)
                total += len(batch)
                if progress:
                    progress(len(batch))
                batch = []
    if batch:
        _bulk_insert(batch)
        total += len(batch)
        if progress:
            progress(len(batch))
    _fix_sequence("tasks")
    from tracker.plans.rollup import recompute_plan

    recompute_plan(plan.id)
    report.tasks = total


class _Quota:
    """Kinds in fixed shares over all the copies drawn so far, each draw shuffled: every kind's
    count stays within about one of its share, whatever the number of units."""

    def __init__(self, mix):
        self.mix = mix
        self.owed = {kind: 0.0 for kind, _share in mix}  # expected minus given so far

    def draw(self, n: int, rng: random.Random) -> list[str]:
        for kind, share in self.mix:
            self.owed[kind] += share * n
        counts = {kind: max(0, int(owed)) for kind, owed in self.owed.items()}
        while sum(counts.values()) > n:
            kind = min((k for k in counts if counts[k]), key=lambda k: self.owed[k] - counts[k])
            counts[kind] -= 1
        while sum(counts.values()) < n:
            kind = max(counts, key=lambda k: self.owed[k] - counts[k])
            counts[kind] += 1
        kinds = [kind for kind, count in counts.items() for _ in range(count)]
        for kind, count in counts.items():
            self.owed[kind] -= count
        rng.shuffle(kinds)
        return kinds


def _status(rng: random.Random, kind: str, due: date, as_of: date) -> tuple[str, int, Optional[date]]:
    """A status, percent and completion date of the kind a quota drew; completed no later than as_of."""
    if kind == "on_time":
        return "accepted", 100, min(due - timedelta(days=rng.randint(0, 25)), as_of)
    if kind == "late":
        return "accepted", 100, min(due + timedelta(days=rng.randint(6, 60)), as_of)
    if kind == "early":
        return "accepted", 100, as_of - timedelta(days=rng.randint(0, 30))
    if kind == "submitted":
        return "submitted", 90, None
    if kind == "returned":
        return "returned", rng.randint(50, 90), None
    if kind == "in_progress":
        return "in_progress", rng.randint(5, 80), None
    return "not_started", 0, None


TASK_COLUMNS = (
    "id",
    "plan_id",
    "parent_id",
    "phase_id",
    "ref",
    "title",
    "description",
    "owner_unit_id",
    "owner_selector",
    "co_owner_selectors",
    "due_on",
    "completed_on",
    "deliverable",
    "contact_name",
    "contact_phone",
    "weight",
    "status",
    "percent",
    "progress",
    "notes",
    "origin",
    "position",
    "depth",
    "path",
    "version",
    "created_at",
    "updated_at",
)


def _task_row(
    id_,
    plan_id,
    parent_id,
    ref,
    title,
    owner_id,
    selector,
    due,
    status,
    percent,
    progress,
    completed,
    path,
    depth,
    position,
    now,
    phase_id=None,
) -> dict:
    return dict(
        id=id_,
        plan_id=plan_id,
        parent_id=parent_id,
        phase_id=phase_id,
        ref=ref,
        title=title,
        description="",
        owner_unit_id=owner_id,
        owner_selector=selector,
        co_owner_selectors=[],
        due_on=due,
        completed_on=completed,
        deliverable="",
        contact_name="",
        contact_phone="",
        weight=1.0,
        status=status,
        percent=percent,
        progress=progress,
        notes="",
        origin="generated",
        position=position,
        depth=depth,
        path=path,
        version=1,
        created_at=now,
        updated_at=now,
    )


def _bulk_insert(rows: list[dict]) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        _copy(rows)
    else:
        db.session.execute(insert(Task.__table__), rows)


def _copy(rows: list[dict]) -> None:
    """COPY … FROM STDIN through psycopg 3, in the session's transaction."""
    import json

    connection = db.session.connection().connection.driver_connection
    columns = ", ".join(TASK_COLUMNS)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY tasks ({columns}) FROM STDIN") as copy:
            for row in rows:
                values = [row[c] for c in TASK_COLUMNS]
                values[TASK_COLUMNS.index("owner_selector")] = (
                    json.dumps(row["owner_selector"]) if row["owner_selector"] else None
                )
                values[TASK_COLUMNS.index("co_owner_selectors")] = "[]"
                copy.write_row(values)


def _fix_sequence(table: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        )


def iter_scales() -> Iterator[str]:
    return iter(SCALES)
