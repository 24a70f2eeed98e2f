"""The living demo plan: dated relative to the day it is loaded, so every demo account has work.

The seed plans are historical (2016–2025): in a trial every open task is long overdue. `flask demo`
adds one plan owned by the demo users' units (tracker/auth/service.py DEMO_USERS) whose tasks sit
around today (Asia/Shanghai): due in 3 and 7 days, overdue by 1, 8 and 31 days, submitted and
awaiting review, returned with a reason, given to the unit and waiting to be signed for (待签收),
and one done. So my-work of every demo account has something in each of its lists (a leader and
a reporter review nothing, so their "awaiting my review" stays empty by design).

The plan's issued date is its stamp: the plan is issued `ISSUED_DAYS_AGO` days before the day it
was dated for. Loading it again on that same day creates only the tasks that are missing and
changes nothing else (what the demo users did today stays). On a later day it re-dates the plan:
every task goes back to its script (due date, status, percent, 签收) relative to the new day,
each change journaled like the seed loader's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from sqlalchemy import select

from tracker.auth.service import DEMO_USERS
from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task, User
from tracker.plans import journal, rollup
from tracker.plans.status import ACCEPTED, IN_PROGRESS, NOT_STARTED, RETURNED, SUBMITTED
from tracker.timeutil import local_zone

PLAN_KEY = "demo-living"
ISSUED_DAYS_AGO = 45
COMMENT = "demo"
ROOT_UNIT = "NHC"  # the issuer; its units review nothing above them, so it gets no submission


class LivingDemoError(ValueError):
    pass


@dataclass(frozen=True)
class Slot:
    """One scripted task, given to each demo unit."""

    key: str
    title: str
    due_in: int  # days from the day the plan is dated for (negative: overdue)
    status: str
    percent: int = 0
    reason: str = ""  # a return's reason (journaled with the return)
    to_sign: bool = False  # given to the unit and not yet signed for
    responsible: bool = False  # the unit's demo user is named 责任人
    skip_root: bool = False


@dataclass(frozen=True)
class Section:
    ref: str
    title: str
    slots: tuple[Slot, ...]


SCRIPT = (
    Section(
        "一",
        "加强组织实施",
        (
            Slot("plan", "制定本单位督办工作实施方案", -20, ACCEPTED, 100),
            Slot("sign", "落实督办通知交办事项", 14, NOT_STARTED, to_sign=True),
        ),
    ),
    Section(
        "二",
        "做好监测报送",
        (
            Slot("soon3", "报送本季度质控工作进展", 3, IN_PROGRESS, 40, responsible=True),
            Slot("late1", "上报月度病例抽查结果", -1, IN_PROGRESS, 60, responsible=True),
            Slot(
                "returned",
                "报送单病种质量监测数据",
                10,
                RETURNED,
                80,
                reason="数据口径与通知要求不一致，请按附件模板重新填报后再提交。",
                responsible=True,
            ),
        ),
    ),
    Section(
        "三",
        "开展督导检查",
        (
            Slot("soon7", "组织开展专项督导自查", 7, NOT_STARTED),
            Slot("late8", "提交整改落实情况报告", -8, IN_PROGRESS, 30),
        ),
    ),
    Section(
        "四",
        "抓好评估总结",
        (
            Slot("late31", "完成年度质控工作评估", -31, NOT_STARTED),
            Slot("review", "提交阶段工作总结", 5, SUBMITTED, 90, skip_root=True),
        ),
    ),
)


@dataclass
class LivingReport:
    as_of: date
    created: int = 0
    updated: int = 0
    redated: bool = False
    units: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def demo_unit_codes() -> list[str]:
    """The units of the demo accounts, each once, in the accounts' order."""
    return list(dict.fromkeys(code for _name, _display, _role, code in DEMO_USERS))


def _assigned_at(as_of: date) -> datetime:
    """Given to the unit the day before, at nine in the morning (local): the same for a day."""
    moment = datetime.combine(as_of - timedelta(days=1), time(9, 0), tzinfo=local_zone())
    return moment.astimezone(timezone.utc)


def _responsible_users(codes: list[str]) -> dict[str, int]:
    """unit code → the id of the demo account named responsible there (a reporter first, else a
    coordinator; never a leader or an admin)."""
    names = [name for name, _display, role, _code in DEMO_USERS if role in ("reporter", "coordinator")]
    rows = db.session.execute(
        select(User.id, User.role, OrgUnit.code)
        .join(OrgUnit, OrgUnit.id == User.unit_id)
        .where(User.username.in_(names), OrgUnit.code.in_(codes))
        .order_by(User.id)
    ).all()
    chosen: dict[str, int] = {}
    for role in ("reporter", "coordinator"):
        for row in rows:
            if row.role == role:
                chosen.setdefault(row.code, row.id)
    return chosen


def _script_values(slot: Slot, as_of: date, unit_id: int, responsible_id: Optional[int]) -> dict:
    due = as_of + timedelta(days=slot.due_in)
    return {
        "owner_unit_id": unit_id,
        "start_on": as_of - timedelta(days=ISSUED_DAYS_AGO),
        "due_on": due,
        "status": slot.status,
        "percent": slot.percent,
        "completed_on": due - timedelta(days=2) if slot.status == ACCEPTED else None,
        "assigned_at": _assigned_at(as_of) if slot.to_sign else None,
        "signed_at": None,
        "signed_by_id": None,
        "responsible_user_id": responsible_id if slot.responsible else None,
    }


def _plan_values(as_of: date, issuer: OrgUnit) -> dict:
    return {
        "title": "医疗质量安全督办演示计划（日期随运行日滚动）",
        "doc_number": "演示〔滚动〕1号",
        "issuer": issuer.name,
        "issuer_unit_id": issuer.id,
        "issued_on": as_of - timedelta(days=ISSUED_DAYS_AGO),
        "period_start": as_of - timedelta(days=ISSUED_DAYS_AGO),
        "period_end": as_of + timedelta(days=135),
        "source": "demo",
        "notes": "flask demo: tasks dated relative to the day it runs (re-dated on a later day)",
    }


def load_living_demo(as_of: date) -> LivingReport:
    """Create the living demo plan, or bring it to `as_of` (see the module's docstring). Flushes;
    the caller commits."""
    codes = demo_unit_codes()
    units = {u.code: u for u in db.session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}
    missing = [code for code in codes if code not in units]
    if missing:
        raise LivingDemoError(f"unknown units {', '.join(missing)}: load the unit catalogue first (flask seed load)")
    report = LivingReport(as_of=as_of, units=codes)
    plan = db.session.scalar(select(Plan).where(Plan.key == PLAN_KEY))
    values = _plan_values(as_of, units[ROOT_UNIT])
    if plan is None:
        plan = Plan(key=PLAN_KEY, **values)
        db.session.add(plan)
        db.session.flush()
        redate = False
    else:
        redate = plan.issued_on != values["issued_on"]
        if redate:
            for name, value in values.items():
                setattr(plan, name, value)
    report.redated = redate
    existing = {t.ref: t for t in db.session.scalars(select(Task).where(Task.plan_id == plan.id))}
    responsible = _responsible_users(codes)
    for s_index, section in enumerate(SCRIPT):
        heading = existing.get(section.ref)
        if heading is None:
            heading = _create(plan, section.ref, section.title, s_index, None, {"owner_unit_id": None}, report)
        position = 0
        for n, slot in enumerate(section.slots, start=1):
            for code in codes:
                if slot.skip_root and code == ROOT_UNIT:
                    continue
                ref = f"{section.ref}.{n}@{code}"
                script = _script_values(slot, as_of, units[code].id, responsible.get(code))
                task = existing.get(ref)
                if task is None:
                    task = _create(plan, ref, slot.title, position, heading, script, report)
                    _journal_script_status(task, slot)
                elif redate:
                    _redate(task, slot, script, report)
                position += 1
    if report.changed:
        db.session.flush()
        rollup.recompute_plan(plan.id)
    return report


def _create(
    plan: Plan, ref: str, title: str, position: int, parent: Optional[Task], values: dict, report: LivingReport
) -> Task:
    task = Task(plan=plan, ref=ref, title=title, origin="demo", position=position, parent=parent, **values)
    task.status = values.get("status", NOT_STARTED)
    task.depth = parent.depth + 1 if parent else 0
    db.session.add(task)
    db.session.flush()
    task.path = f"{parent.path if parent else '/'}{task.id}/"
    journal.record(task, None, "create", comment=COMMENT)
    report.created += 1
    return task


def _journal_script_status(task: Task, slot: Slot, old: Optional[str] = None) -> None:
    """The scripted state as the journal would hold it: a submission, or a return with its reason."""
    if slot.status == SUBMITTED:
        journal.record(task, None, "status", "status", old or IN_PROGRESS, SUBMITTED, COMMENT)
    elif slot.status == RETURNED:
        if (old or SUBMITTED) != SUBMITTED:
            journal.record(task, None, "status", "status", old, SUBMITTED, COMMENT)
        journal.record(task, None, "status", "status", SUBMITTED, RETURNED, slot.reason)


def _redate(task: Task, slot: Slot, script: dict, report: LivingReport) -> None:
    old_status = task.status
    changed = False
    for name, value in script.items():
        old = getattr(task, name)
        if old == value:
            continue
        changed = True
        setattr(task, name, value)
        if name == "status":
            continue  # journaled below, as the workflow would
        journal.record(task, None, "update", field=name, old=old, new=value, comment=COMMENT)
    if old_status != slot.status:
        if slot.status in (SUBMITTED, RETURNED):
            _journal_script_status(task, slot, old_status)
        else:
            journal.record(task, None, "status", "status", old_status, slot.status, COMMENT)
    if changed:
        report.updated += 1
