"""Escalation rules: the defaults and their per-plan overrides, as the job applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import EscalationRule, Plan
from tracker.models.notify import DEFAULT_OFFSETS, LEVELS, RANKS, UNSIGNED

UNSIGNED_DEFAULT_DAYS = 3  # 签收: a task not signed for within 3 days reminds, after 6 it climbs


@dataclass(frozen=True)
class RuleGroup:
    """One level with one offset, applying to some plans.

    `plan_ids` lists the plans it applies to; `None` means every plan except `except_plan_ids`
    (the default rule).
    """

    level: str
    offset_days: int
    plan_ids: Optional[tuple[int, ...]]
    except_plan_ids: tuple[int, ...] = ()

    @property
    def rank(self) -> int:
        return RANKS[self.level]


def default_rules() -> dict[str, tuple[int, bool]]:
    """{level: (offset_days, active)}: the built-in defaults, as edited by an admin."""
    rules = {level: (days, True) for level, days in DEFAULT_OFFSETS.items()}
    for rule in db.session.scalars(
        select(EscalationRule).where(EscalationRule.plan_id.is_(None), EscalationRule.level.in_(LEVELS))
    ):
        rules[rule.level] = (rule.offset_days, rule.active)
    return rules


def unsigned_rule() -> tuple[int, bool]:
    """(days, active) of the rule "not signed for N days" (one rule for all plans)."""
    rule = db.session.scalar(
        select(EscalationRule).where(EscalationRule.plan_id.is_(None), EscalationRule.level == UNSIGNED)
    )
    return (rule.offset_days, rule.active) if rule is not None else (UNSIGNED_DEFAULT_DAYS, True)


def save_unsigned_rule(days: int, active: bool) -> None:
    if days < 1:
        from flask_babel import gettext as _

        raise RuleError(_("A task needs at least one day to be signed for."))
    rule = db.session.scalar(
        select(EscalationRule).where(EscalationRule.plan_id.is_(None), EscalationRule.level == UNSIGNED)
    )
    if rule is None:
        db.session.add(EscalationRule(plan_id=None, level=UNSIGNED, offset_days=days, active=active))
    else:
        rule.offset_days, rule.active = days, active
    db.session.flush()


def rule_groups() -> list[RuleGroup]:
    """The active rules grouped by (level, offset), highest level first; one small query."""
    defaults = default_rules()
    overrides: dict[str, dict[tuple[int, bool], list[int]]] = {level: {} for level in LEVELS}
    for rule in db.session.scalars(select(EscalationRule).where(EscalationRule.plan_id.is_not(None))):
        overrides[rule.level].setdefault((rule.offset_days, rule.active), []).append(rule.plan_id)

    groups: list[RuleGroup] = []
    for level in reversed(LEVELS):
        overridden = tuple(sorted(pid for ids in overrides[level].values() for pid in ids))
        days, active = defaults[level]
        if active:
            groups.append(RuleGroup(level, days, None, overridden))
        for (days, active), plan_ids in sorted(overrides[level].items()):
            if active:
                groups.append(RuleGroup(level, days, tuple(sorted(plan_ids))))
    return groups


@dataclass
class RuleRow:
    level: str
    offset_days: int
    active: bool
    overridden: bool  # for a plan: True when the plan has its own rule for this level


def rules_for(plan: Optional[Plan]) -> list[RuleRow]:
    """The rules in force for a plan (or the defaults for None), lowest level first."""
    defaults = default_rules()
    own = {}
    if plan is not None:
        own = {r.level: r for r in db.session.scalars(select(EscalationRule).where(EscalationRule.plan_id == plan.id))}
    rows = []
    for level in LEVELS:
        if level in own:
            rows.append(RuleRow(level, own[level].offset_days, own[level].active, True))
        else:
            days, active = defaults[level]
            rows.append(RuleRow(level, days, active, False))
    return rows


class RuleError(ValueError):
    pass


def save_rules(plan: Optional[Plan], values: dict[str, tuple[int, bool]]) -> None:
    """Store the rules of a plan (or the defaults). Offsets must rise with the level."""
    ordered = [values[level] for level in LEVELS]
    offsets = [days for days, active in ordered if active]
    if any(b <= a for a, b in zip(offsets, offsets[1:])):
        from flask_babel import gettext as _

        raise RuleError(_("Each level must come later than the level before it."))
    plan_id = plan.id if plan else None
    existing = {
        r.level: r
        for r in db.session.scalars(
            select(EscalationRule).where(
                EscalationRule.plan_id.is_(None) if plan_id is None else EscalationRule.plan_id == plan_id
            )
        )
    }
    defaults = default_rules()
    for level in LEVELS:
        days, active = values[level]
        rule = existing.get(level)
        if plan_id is not None and (days, active) == defaults[level]:
            if rule is not None:
                db.session.delete(rule)  # same as the default: follow the default again
            continue
        if rule is None:
            db.session.add(EscalationRule(plan_id=plan_id, level=level, offset_days=days, active=active))
        else:
            rule.offset_days, rule.active = days, active
    db.session.flush()
