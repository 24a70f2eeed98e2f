"""Domain models, one module per aggregate."""
from tracker.models.cascade import (
    CalendarToken,
    Cascade,
    CascadeChild,
    Occurrence,
    ProvincialScheme,
    SchemeRequirement,
    SchemeTaskLink,
)
from tracker.models.evidence import Evidence
from tracker.models.explanations import OverdueExplanation
from tracker.models.indicators import IndicatorDefinition, IndicatorForm, IndicatorValue, ReportingPeriod
from tracker.models.notify import Escalation, EscalationRule, Notification
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Phase, Plan
from tracker.models.progress import ProgressContent, ProgressDaily, ProgressDirty, ProgressDirtyTask, ProgressItem, ProgressRollup, ProgressState
from tracker.models.security import LoginFailure
from tracker.models.tasks import JournalEntry, Task, task_co_owners

__all__ = [
    "CalendarToken",
    "Cascade",
    "CascadeChild",
    "Occurrence",
    "ProvincialScheme",
    "SchemeRequirement",
    "SchemeTaskLink",
    "Escalation",
    "EscalationRule",
    "Evidence",
    "IndicatorDefinition",
    "IndicatorForm",
    "IndicatorValue",
    "JournalEntry",
    "LoginFailure",
    "Notification",
    "OverdueExplanation",
    "OrgUnit",
    "Phase",
    "Plan",
    "ProgressDaily",
    "ProgressDirty",
    "ProgressDirtyTask",
    "ProgressItem",
    "ProgressRollup",
    "ProgressContent",
    "ProgressState",
    "ReportingPeriod",
    "Task",
    "User",
    "task_co_owners",
]
