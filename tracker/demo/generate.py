"""A deterministic national data set for demonstrations and benchmarks.

`generate(scale)` adds, under the provinces of the unit catalogue, prefectures and counties
(national: ~330 and ~2,800, about 3,000 units) and one plan in three phases whose duties are
cascaded to every prefecture and county, up to about 1,000,000 tasks, with a realistic spread of
statuses and due dates. Everything comes from one seeded random generator: the same arguments
give the same data. Rows go in by bulk inserts (COPY on PostgreSQL), never one ORM object each.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterator, Optional

from sqlalchemy import func, insert, select, text

from tracker.extensions import db
from tracker.models import OrgUnit, Phase, Plan, Task

PLAN_KEY = "demo-national"
CODE_PREFIX = "G-"  # generated units: G-P11-01 (prefecture), G-P11-01-01 (county)


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
    "small": Scale((2, 2), (2, 3), sections=3, duties_per_section=2, provinces=2),
}

SECTION_TITLES = ["加强组织领导", "完善质控体系", "规范诊疗行为", "提升服务能力", "强化信息支撑", "开展监测评估",
                  "推进人才建设", "做好总结宣传", "加强督导检查", "完善制度建设"]
DUTY_VERBS = ["制定", "上报", "组织开展", "完成", "建立", "落实", "开展", "汇总"]
DUTY_OBJECTS = ["工作方案", "季度质控报告", "专项检查", "病例抽查", "质控中心建设", "培训计划", "信息报送", "自查自评",
                "整改报告", "年度总结"]


class GenerateError(ValueError):
    pass


@dataclass
class GenerateReport:
    units: int = 0
    tasks: int = 0


def _rows_per_batch() -> int:
    return 20_000


def generate(scale_name: str, as_of: date, seed: int = 2026,
             progress: Optional[Callable[[int], None]] = None) -> GenerateReport:
    if scale_name not in SCALES:
        raise GenerateError(f"unknown scale '{scale_name}' (one of {', '.join(SCALES)})")
    if db.session.scalar(select(Plan.id).where(Plan.key == PLAN_KEY)):
        raise GenerateError(f"the demo data set is already there (plan {PLAN_KEY})")
    provinces = list(db.session.scalars(
        select(OrgUnit).where(OrgUnit.kind == "commission", OrgUnit.level == "provincial").order_by(OrgUnit.code)))
    root = db.session.scalar(select(OrgUnit).where(OrgUnit.parent_id.is_(None)))
    if not provinces or root is None:
        raise GenerateError("load the unit catalogue first: flask seed load")
    scale = SCALES[scale_name]
    rng = random.Random(seed)
    if scale.provinces:
        provinces = provinces[: scale.provinces]
    report = GenerateReport()
    targets = _make_units(provinces, scale, rng, report)
    _make_plan(root, targets, scale, rng, as_of, report, progress)
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
            rows.append(dict(id=pid, code=pcode, name=f"{short}第{p}市卫生健康委",
                             kind="commission", level="prefecture", parent_id=province.id, path=ppath, position=p, example=True))
            targets.append((pid, pcode))
            for c in range(1, rng.randint(*scale.counties_per_prefecture) + 1):
                cid = next_id
                next_id += 1
                ccode = f"{pcode}-{c:02d}"
                rows.append(dict(id=cid, code=ccode, name=f"{short}第{p}市第{c}县卫生健康局",
                                 kind="commission", level="county", parent_id=pid, path=f"{ppath}{cid}/", position=c, example=True))
                targets.append((cid, ccode))
    db.session.execute(insert(OrgUnit), rows)
    _fix_sequence("org_units")
    report.units = len(rows)
    return targets


def _make_plan(root: OrgUnit, targets, scale: Scale, rng: random.Random, as_of: date,
               report: GenerateReport, progress) -> None:
    plan = Plan(key=PLAN_KEY, title="全国医疗质量提升示范行动计划（演示数据）", doc_number="演示〔2024〕1号",
                issuer="国家卫生健康委", issuer_unit_id=root.id, issued_on=date(2024, 1, 15),
                period_start=date(2024, 1, 1), period_end=date(2026, 12, 31), source="generated",
                notes="flask demo generate: deterministic demonstration data")
    db.session.add(plan)
    db.session.flush()
    phases = [
        Phase(plan_id=plan.id, key="startup", name="启动阶段", start_on=date(2024, 1, 1), end_on=date(2024, 6, 30), position=0),
        Phase(plan_id=plan.id, key="implement", name="实施阶段", start_on=date(2024, 7, 1), end_on=date(2026, 6, 30), position=1),
        Phase(plan_id=plan.id, key="evaluate", name="评估阶段", start_on=date(2026, 7, 1), end_on=date(2026, 12, 31), position=2),
    ]
    db.session.add_all(phases)
    db.session.flush()
    now = datetime.now(timezone.utc)
    next_id = _next_id(Task)
    headers, templates = [], []
    for s in range(scale.sections):
        sid = next_id
        next_id += 1
        ref = "一二三四五六七八九十"[s]
        headers.append(_task_row(sid, plan.id, None, ref, SECTION_TITLES[s % len(SECTION_TITLES)], root.id, None,
                                 None, "not_started", 0, 0.0, None, f"/{sid}/", 0, s, now))
        for d in range(scale.duties_per_section):
            tid = next_id
            next_id += 1
            due = date(2024, 1, 31) + timedelta(days=rng.randint(0, 35 * 30))
            phase = phases[0] if due <= phases[0].end_on else phases[1] if due <= phases[1].end_on else phases[2]
            title = f"{rng.choice(DUTY_VERBS)}{rng.choice(DUTY_OBJECTS)}（{ref}.{d + 1}）"
            templates.append((tid, f"/{sid}/{tid}/", f"{ref}.{d + 1}", title, due, phase.id))
            headers.append(_task_row(tid, plan.id, sid, f"{ref}.{d + 1}", title, root.id, {"kind": "commission"},
                                     due, "not_started", 0, 0.0, None, f"/{sid}/{tid}/", 1, d, now, phase.id))
    _bulk_insert(headers)
    total = len(headers)
    batch: list[dict] = []
    for tid, tpath, ref, title, due, phase_id in templates:
        for position, (unit_id, unit_code) in enumerate(targets):
            status, percent, completed = _status(rng, due, as_of)
            cid = next_id
            next_id += 1
            batch.append(_task_row(cid, plan.id, tid, f"{ref}@{unit_code}", title, unit_id, None, due, status, percent,
                                   100.0 if status == "accepted" else float(percent), completed, f"{tpath}{cid}/", 2,
                                   position, now, phase_id))
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


def _status(rng: random.Random, due: date, as_of: date) -> tuple[str, int, Optional[date]]:
    roll = rng.random()
    if due <= as_of:
        if roll < 0.62:
            return "accepted", 100, due + timedelta(days=rng.randint(-25, 5))  # mostly on time
        if roll < 0.72:
            return "accepted", 100, due + timedelta(days=rng.randint(6, 60))  # late
        if roll < 0.80:
            return "submitted", 90, None
        if roll < 0.92:
            return "in_progress", rng.randint(10, 80), None
        return "not_started", 0, None
    if roll < 0.08:
        return "accepted", 100, as_of - timedelta(days=rng.randint(0, 30))
    if roll < 0.40:
        return "in_progress", rng.randint(5, 70), None
    return "not_started", 0, None


TASK_COLUMNS = ("id", "plan_id", "parent_id", "phase_id", "ref", "title", "description", "owner_unit_id",
                "owner_selector", "co_owner_selectors", "due_on", "completed_on", "deliverable", "weight", "status",
                "percent", "progress", "notes", "origin", "position", "depth", "path", "version", "created_at",
                "updated_at")


def _task_row(id_, plan_id, parent_id, ref, title, owner_id, selector, due, status, percent, progress, completed,
              path, depth, position, now, phase_id=None) -> dict:
    return dict(id=id_, plan_id=plan_id, parent_id=parent_id, phase_id=phase_id, ref=ref, title=title, description="",
                owner_unit_id=owner_id, owner_selector=selector, co_owner_selectors=[], due_on=due,
                completed_on=completed, deliverable="", weight=1.0, status=status, percent=percent, progress=progress,
                notes="", origin="generated", position=position, depth=depth, path=path, version=1,
                created_at=now, updated_at=now)


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
                values[TASK_COLUMNS.index("owner_selector")] = json.dumps(row["owner_selector"]) if row["owner_selector"] else None
                values[TASK_COLUMNS.index("co_owner_selectors")] = "[]"
                copy.write_row(values)


def _fix_sequence(table: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"))


def iter_scales() -> Iterator[str]:
    return iter(SCALES)
