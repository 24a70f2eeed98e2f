"""督办 by hand: 催办 (urging a task), 批示 (a leader's instruction), 签收 (signing for a task
given to one's unit) and 责任人 (the responsible person and contact of a task).

Each function checks who may act, writes the change with its journal row and its notices in
the caller's transaction (the route commits), and refuses bad input with `SupervisionError`
before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional

from tracker.lazy_text import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice
from sqlalchemy import and_, delete, func, literal, select
from sqlalchemy.orm import aliased

from tracker.extensions import db
from tracker.models import (
    Instruction,
    JournalEntry,
    OrgUnit,
    Plan,
    Task,
    TaskUrge,
    TaskWatcher,
    User,
    instruction_tasks,
)
from tracker.models.notify import INSTRUCTED, URGED
from tracker.notifications.notices import (
    insert_into,
    notify,
    notify_each,
    owner_unit_users,
    reviewers_of,
    union_of,
    watchers_of,
)
from tracker.plans import journal
from tracker.plans.status import CLOSED_STATUSES, OVERDUE_STATUSES
from tracker.timeutil import local_today, local_zone

MESSAGE_LIMIT = 500
INSTRUCTION_LIMIT = 2000
ALREADY_URGED = _l("You have already urged this task today; one 催办 per task and day.")


class SupervisionError(ValueError):
    """A refused request; the message is for the user (and `field` names the form field)."""

    def __init__(self, message, field: Optional[str] = None):
        super().__init__(str(message))
        self.field = field


class NotPermitted(Exception):
    """The user may see the task but may not do this to it (a 403)."""


# --- who may do what -------------------------------------------------------------------------


def _strictly_above(unit: OrgUnit, owner: Optional[OrgUnit]) -> bool:
    return owner is not None and owner.id != unit.id and owner.is_within(unit)


def may_urge(user: User, task: Task) -> bool:
    """催办: a leader (or an admin) on any task, a coordinator on a task of a unit under theirs."""
    if task.owner_unit_id is None or task.is_cascade_template:
        return False
    if user.role in ("leader", "admin"):
        return True
    return user.role == "coordinator" and _strictly_above(user.unit, task.owner_unit)


def urgeable_clause(user: User):
    """SQL: the tasks `user` may urge (open, owned by a unit strictly under a coordinator's)."""
    clause = and_(Task.owner_unit_id.is_not(None), Task.owner_selector.is_(None), Task.status.not_in(CLOSED_STATUSES))
    if user.role in ("leader", "admin"):
        return clause
    if user.role != "coordinator":
        return literal(False)
    below = select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"), OrgUnit.id != user.unit_id)
    return and_(clause, Task.owner_unit_id.in_(below))


def _clean_message(message: str) -> str:
    message = (message or "").strip()
    if len(message) > MESSAGE_LIMIT:
        raise SupervisionError(_l("A message may have at most %(n)d characters.", n=MESSAGE_LIMIT), field="message")
    return message


# --- 催办 -------------------------------------------------------------------------------------


def urge_task(task: Task, sender: User, message: str = "", now: Optional[datetime] = None) -> TaskUrge:
    """One 催办 of `task` by `sender`: one notice to the owner unit's users and the responsible
    person, journaled. A second by the same sender on the same local day is refused (the unique
    key decides, so two requests at once cannot both pass); nothing is written then."""
    if not may_urge(sender, task):
        raise NotPermitted()
    if task.status in CLOSED_STATUSES:
        raise SupervisionError(_l("A finished or cancelled task is not urged."))
    message = _clean_message(message)
    now = now or datetime.now(timezone.utc)
    day = local_today(now)
    urge_id = db.session.scalar(
        insert_into(TaskUrge)
        .values(
            task_id=task.id, sender_id=sender.id, owner_unit_id=task.owner_unit_id, day=day, message=message, at=now
        )
        .on_conflict_do_nothing()
        .returning(TaskUrge.id)
    )
    if urge_id is None:
        raise SupervisionError(ALREADY_URGED)
    journal.record(task, sender, "urge", "urge", None, task.owner_unit.name, comment=message)
    notify(URGED, task, sender, union_of(owner_unit_users(task), watchers_of(task)), message, now)
    db.session.flush()
    return db.session.get(TaskUrge, urge_id)


@dataclass
class BulkUrge:
    urged: int = 0
    already: int = 0  # urged by this sender today before
    refused: int = 0  # not found, not open, or not the sender's to urge
    urged_ids: set = field(default_factory=set)  # which were urged now
    found_ids: set = field(default_factory=set)  # which the sender may urge (urged now or before today)


def urge_tasks(task_ids: Iterable[int], sender: User, message: str = "", now: Optional[datetime] = None) -> BulkUrge:
    """催办 of a selection of tasks: those the sender may urge and has not urged today, each with
    its journal row and one notice to its owner unit's users and responsible person. A fixed
    number of statements whatever the number of tasks (five)."""
    ids = sorted({int(i) for i in task_ids})
    message = _clean_message(message)
    result = BulkUrge()
    if not ids:
        return result
    now = now or datetime.now(timezone.utc)
    day = local_today(now)
    db.session.flush()
    rows = db.session.execute(
        select(Task.id, Task.owner_unit_id, OrgUnit.name)
        .join(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Task.id.in_(ids), urgeable_clause(sender))
    ).all()
    result.refused = len(ids) - len(rows)
    result.found_ids = {i for i, _owner, _name in rows}
    if not rows:
        return result
    new_ids = set(
        db.session.scalars(
            insert_into(TaskUrge)
            .values(
                [
                    dict(task_id=i, sender_id=sender.id, owner_unit_id=o, day=day, message=message, at=now)
                    for i, o, _name in rows
                ]
            )
            .on_conflict_do_nothing()
            .returning(TaskUrge.task_id)
        )
    )
    result.urged, result.already = len(new_ids), len(rows) - len(new_ids)
    result.urged_ids = new_ids
    if not new_ids:
        return result
    db.session.execute(
        insert_into(JournalEntry).values(
            [
                dict(task_id=i, user_id=sender.id, action="urge", field="urge", new_value=name, at=now, comment=message)
                for i, _owner, name in rows
                if i in new_ids
            ]
        )
    )
    notify_each(URGED, sorted(new_ids), sender, audience="owners", message=message, now=now)
    return result


def urge_counts(unit_ids: Iterable[int]) -> dict[int, int]:
    """被催办 N 次: how many 催办 each unit has had (as owner when urged)."""
    ids = list(set(unit_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(TaskUrge.owner_unit_id, func.count())
        .where(TaskUrge.owner_unit_id.in_(ids))
        .group_by(TaskUrge.owner_unit_id)
    ).all()
    return {unit_id: n for unit_id, n in rows}


def urges_of(task: Task, limit: int = 20) -> list[TaskUrge]:
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(TaskUrge)
            .where(TaskUrge.task_id == task.id)
            .options(joinedload(TaskUrge.sender))
            .order_by(TaskUrge.at.desc(), TaskUrge.id.desc())
            .limit(limit)
        )
    )


# --- 批示 ------------------------------------------------------------------------------------


def may_instruct(user: User, task: Task) -> bool:
    """批示 is a leader's (and an admin's, who may do everything)."""
    return user.role in ("leader", "admin") and not task.is_cascade_template


def instruct_task(task: Task, author: User, text: str, now: Optional[datetime] = None) -> Instruction:
    """A leader's instruction on `task`: shown at the top of the task page, journaled, and told
    to the owner unit's users (and the responsible person) and the coordinators above it."""
    if not may_instruct(author, task):
        raise NotPermitted()
    text = (text or "").strip()
    if not text:
        raise SupervisionError(_l("Write the instruction."), field="text")
    if len(text) > INSTRUCTION_LIMIT:
        raise SupervisionError(
            _l("An instruction may have at most %(n)d characters.", n=INSTRUCTION_LIMIT), field="text"
        )
    now = now or datetime.now(timezone.utc)
    instruction = Instruction(author=author, text=text, at=now, tasks=[task])
    db.session.add(instruction)
    journal.record(task, author, "instruct", "instruction", None, text)
    notify(INSTRUCTED, task, author, union_of(owner_unit_users(task), reviewers_of(task), watchers_of(task)), text, now)
    db.session.flush()
    return instruction


UNIT_INSTRUCTION_LIMIT = 2000  # tasks one instruction on a unit's row may attach to


@dataclass
class UnitInstruction:
    instruction: Instruction
    tasks: int


def instruct_unit(
    unit: OrgUnit, author: User, text: str, plan: Optional[Plan] = None, now: Optional[datetime] = None
) -> UnitInstruction:
    """A leader's instruction on a unit's row of the leadership screen: it attaches to the open
    overdue tasks of `plan` (or of every plan) in the unit's subtree, each journaled and told to
    its owner unit's users and responsible person. A fixed number of statements (five)."""
    if author.role not in ("leader", "admin"):
        raise NotPermitted()
    text = (text or "").strip()
    if not text:
        raise SupervisionError(_l("Write the instruction."), field="text")
    if len(text) > INSTRUCTION_LIMIT:
        raise SupervisionError(
            _l("An instruction may have at most %(n)d characters.", n=INSTRUCTION_LIMIT), field="text"
        )
    now = now or datetime.now(timezone.utc)
    owner, child = aliased(OrgUnit), aliased(Task)
    query = (
        select(Task.id, owner.name)
        .join(owner, owner.id == Task.owner_unit_id)
        .where(
            owner.path.like(unit.path + "%"),
            Task.status.in_(OVERDUE_STATUSES),
            Task.due_on < local_today(now),
            Task.owner_selector.is_(None),
            ~select(child.id).where(child.parent_id == Task.id).exists(),
        )
        .order_by(Task.due_on, Task.id)
        .limit(UNIT_INSTRUCTION_LIMIT)
    )
    if plan is not None:
        query = query.where(Task.plan_id == plan.id)
    rows = db.session.execute(query).all()
    if not rows:
        raise SupervisionError(_l("This unit has no overdue open tasks to instruct on."), field="text")
    instruction = Instruction(author=author, text=text, at=now, plan_id=plan.id if plan else None, unit_id=unit.id)
    db.session.add(instruction)
    db.session.flush()
    db.session.execute(instruction_tasks.insert(), [dict(instruction_id=instruction.id, task_id=i) for i, _n in rows])
    db.session.execute(
        insert_into(JournalEntry).values(
            [
                dict(task_id=i, user_id=author.id, action="instruct", field="instruction", new_value=text, at=now)
                for i, _name in rows
            ]
        )
    )
    notify_each(INSTRUCTED, [i for i, _n in rows], author, audience="owners", message=text, now=now)
    return UnitInstruction(instruction, len(rows))


def instructions_of(task: Task, limit: int = 20) -> list[Instruction]:
    """The task's instructions, newest first, with their authors (one statement)."""
    from sqlalchemy.orm import joinedload

    return list(
        db.session.scalars(
            select(Instruction)
            .join(instruction_tasks, instruction_tasks.c.instruction_id == Instruction.id)
            .where(instruction_tasks.c.task_id == task.id)
            .options(joinedload(Instruction.author))
            .order_by(Instruction.at.desc(), Instruction.id.desc())
            .limit(limit)
        )
    )


# --- 签收 ------------------------------------------------------------------------------------


def awaits_signing(task: Task) -> bool:
    """待签收: given to its owner unit (assigned_at) and not yet signed for."""
    return task.assigned_at is not None and task.signed_at is None and task.status not in CLOSED_STATUSES


def may_sign(user: User, task: Task) -> bool:
    """A reporter or coordinator of the owner unit itself signs for its task (an admin too)."""
    if task.owner_unit_id is None:
        return False
    return user.role == "admin" or (user.role in ("reporter", "coordinator") and user.unit_id == task.owner_unit_id)


def sign_task(task: Task, user: User, now: Optional[datetime] = None) -> Task:
    """签收: one click by a user of the owner unit; journaled with who and when."""
    if not may_sign(user, task):
        raise NotPermitted()
    if not awaits_signing(task):
        raise SupervisionError(_l("This task is not waiting to be signed for."))
    now = now or datetime.now(timezone.utc)
    task.signed_at, task.signed_by_id = now, user.id
    journal.record(task, user, "sign", "signed_at", None, now.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M"))
    db.session.flush()
    return task


# --- 责任人 ----------------------------------------------------------------------------------

PHONE = re.compile(r"^[0-9+()\- ]{3,40}$")


def may_name_responsible(user: User, task: Task) -> bool:
    """A coordinator of the owner unit (or of a unit above it) names the responsible person."""
    from tracker.auth.scope import actor_for

    return task.owner_unit_id is not None and actor_for(user, task).is_coordinator


def responsible_choices(task: Task) -> list[SelectChoice]:
    """The owner unit's active users, for the responsible person's select (one statement)."""
    rows = db.session.execute(
        select(User.id, User.display_name)
        .where(User.unit_id == task.owner_unit_id, User.active.is_(True), User.role.in_(("reporter", "coordinator")))
        .order_by(User.display_name, User.id)
    ).all()
    return [SelectChoice(i, name) for i, name in rows]


def set_responsible(
    task: Task, user: User, responsible_id: Optional[int], contact_name: str = "", contact_phone: str = ""
) -> list[str]:
    """Name the task's responsible user (one of the owner unit's) and a contact name and
    telephone; each change journaled. Returns the changed fields."""
    if not may_name_responsible(user, task):
        raise NotPermitted()
    responsible = None
    if responsible_id:
        responsible = db.session.get(User, responsible_id)
        if responsible is None or responsible.unit_id != task.owner_unit_id or not responsible.active:
            raise SupervisionError(_l("Choose a user of the owner unit."), field="responsible")
    contact_name = (contact_name or "").strip()
    contact_phone = (contact_phone or "").strip()
    if len(contact_name) > 100:
        raise SupervisionError(_l("A name may have at most %(n)d characters.", n=100), field="contact_name")
    if contact_phone and not PHONE.match(contact_phone):
        raise SupervisionError(
            _l("A telephone number has digits, spaces, +, - and brackets only."), field="contact_phone"
        )
    changed = []
    if (responsible.id if responsible else None) != task.responsible_user_id:
        old = task.responsible.display_name if task.responsible else None
        journal.record(
            task, user, "edit", "responsible_user_id", old, responsible.display_name if responsible else None
        )
        task.responsible = responsible
        changed.append("responsible_user_id")
    for name, value in (("contact_name", contact_name), ("contact_phone", contact_phone)):
        if value != (getattr(task, name) or ""):
            journal.record(task, user, "edit", name, getattr(task, name) or None, value or None)
            setattr(task, name, value)
            changed.append(name)
    db.session.flush()
    return changed


# --- 关注 (watchers) ---------------------------------------------------------------------------


def may_watch(user: User, task: Task) -> bool:
    """Anyone who sees the task follows it, except leaders (their writes are 批示 and 催办 only)."""
    from tracker.auth.scope import can_view_task

    return user.role != "leader" and can_view_task(user, task)


def is_watching(user: User, task: Task) -> bool:
    return (
        db.session.scalar(
            select(TaskWatcher.user_id).where(TaskWatcher.task_id == task.id, TaskWatcher.user_id == user.id)
        )
        is not None
    )


def watcher_count(task: Task) -> int:
    return db.session.scalar(select(func.count()).where(TaskWatcher.task_id == task.id)) or 0


def set_watching(task: Task, user: User, on: bool) -> bool:
    """Follow (关注) or stop following a task; idempotent (a second click changes nothing).
    A personal subscription, not a change of the task: not journaled. Returns the new state."""
    if not may_watch(user, task):
        raise NotPermitted()
    if on:
        db.session.execute(insert_into(TaskWatcher).values(task_id=task.id, user_id=user.id).on_conflict_do_nothing())
    else:
        db.session.execute(delete(TaskWatcher).where(TaskWatcher.task_id == task.id, TaskWatcher.user_id == user.id))
    return on
