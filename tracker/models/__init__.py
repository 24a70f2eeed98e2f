"""Domain models, one module per aggregate."""

from tracker.models.api import ApiRateCount, ApiToken, Webhook, WebhookDelivery
from tracker.models.audit import AuditEntry
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
from tracker.models.exports import ExportJob
from tracker.models.filters import SavedFilter
from tracker.models.indicators import IndicatorDefinition, IndicatorForm, IndicatorValue, ReportingPeriod
from tracker.models.notify import (
    DeliveryMessage,
    Escalation,
    EscalationRule,
    NoticeEvent,
    Notification,
    NotificationPreference,
)
from tracker.models.org import OrgUnit, User
from tracker.models.plans import Phase, Plan
from tracker.models.progress import (
    ProgressContent,
    ProgressDaily,
    ProgressDirty,
    ProgressDirtyTask,
    ProgressItem,
    ProgressRollup,
    ProgressState,
)
from tracker.models.security import LoginFailure
from tracker.models.sessions import UserSession
from tracker.models.supervision import Instruction, TaskUrge, TaskWatcher, instruction_tasks
from tracker.models.tasks import JournalEntry, Task, task_co_owners
from tracker.models.work import ReviewCount, ReviewMark

__all__ = [
    "ApiRateCount",
    "ApiToken",
    "Webhook",
    "WebhookDelivery",
    "AuditEntry",
    "CalendarToken",
    "Cascade",
    "CascadeChild",
    "Occurrence",
    "ProvincialScheme",
    "SchemeRequirement",
    "SchemeTaskLink",
    "DeliveryMessage",
    "Escalation",
    "EscalationRule",
    "Evidence",
    "ExportJob",
    "IndicatorDefinition",
    "IndicatorForm",
    "IndicatorValue",
    "JournalEntry",
    "LoginFailure",
    "Instruction",
    "NoticeEvent",
    "Notification",
    "NotificationPreference",
    "TaskUrge",
    "TaskWatcher",
    "instruction_tasks",
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
    "ReviewCount",
    "ReviewMark",
    "SavedFilter",
    "Task",
    "User",
    "UserSession",
    "task_co_owners",
]
