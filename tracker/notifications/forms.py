from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from tracker.models.notify import LEVELS
from tracker.pickers.fields import UnitField
from tracker.plans.status import LABELS, OVERDUE_STATUSES
from tracker.notifications.labels import KIND_LABELS, LEVEL_LABELS

INBOX_SORTS = ("new", "old")  # newest day first (the default), oldest day first


class InboxFilterForm(FlaskForm):
    """The inbox's filters (GET): kind, read or unread, the day range, the plan, the order."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), choices=[], validators=[Optional()], validate_choice=True)
    state = SelectField(
        _l("Read or unread"),
        choices=[
            SelectChoice("", _l("Read and unread")),
            SelectChoice("unread", _l("Unread only")),
            SelectChoice("read", _l("Read only")),
        ],
        validators=[Optional()],
        validate_choice=True,
    )
    day_from = DateField(_l("Notified from"), validators=[Optional()])
    day_to = DateField(_l("Notified until"), validators=[Optional()])
    plan = SelectField(_l("Plan"), choices=[], validators=[Optional()], validate_choice=True)
    sort = SelectField(
        _l("Order"),
        choices=[SelectChoice("new", _l("Newest first")), SelectChoice("old", _l("Oldest first"))],
        validators=[Optional()],
        validate_choice=True,
    )

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("Any kind"))] + [
            SelectChoice(kind, label) for kind, label in KIND_LABELS.items()
        ]
        self.plan.choices = [SelectChoice("", _l("Any plan"))] + [SelectChoice(p.key, p.title) for p in plans]

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.day_from.data and self.day_to.data and self.day_to.data < self.day_from.data:
            self.day_to.errors.append(_l("The end is before the start."))
            return False
        return ok


# the overdue list's orders: a column, "-" before it for the reverse (tracker/notifications/service.py)
OVERDUE_SORT_KEYS = ("due", "owner", "plan", "updated")
OVERDUE_SORTS = OVERDUE_SORT_KEYS + tuple(f"-{key}" for key in OVERDUE_SORT_KEYS)
LATE_DAYS = (7, 30, 90)  # "more than N days late"


class OverdueFilterForm(FlaskForm):
    """The overdue list's filters (GET): a unit by the picker (its code, or its full name typed),
    plan (by title), phase of that plan, status (the open ones), responsible person, how late,
    escalated only, and the order. Choices come from the caller (`plans`, `phases` of the chosen
    plan, `responsibles`)."""

    class Meta:
        csrf = False

    unit = UnitField(_l("Unit (with its sub-units)"), validators=[Optional()])
    plan = SelectField(_l("Plan"), choices=[], validators=[Optional()], validate_choice=True)
    phase = SelectField(_l("Phase"), choices=[], validators=[Optional()], validate_choice=False)
    status = SelectField(_l("Status"), choices=[], validators=[Optional()], validate_choice=True)
    responsible = SelectField(_l("Responsible person"), choices=[], validators=[Optional()], validate_choice=True)
    late = SelectField(_l("How late"), choices=[], validators=[Optional()], validate_choice=True)
    escalated = BooleanField(_l("Escalated only"), false_values=("", "0", "false"))
    sort = SelectField(
        _l("Order"),
        choices=[
            SelectChoice("due", _l("Most late first")),
            SelectChoice("-due", _l("Least late first")),
            SelectChoice("owner", _l("Owner unit, A to Z")),
            SelectChoice("-owner", _l("Owner unit, Z to A")),
            SelectChoice("plan", _l("Plan, A to Z")),
            SelectChoice("-plan", _l("Plan, Z to A")),
            SelectChoice("updated", _l("Last changed first")),
            SelectChoice("-updated", _l("Changed longest ago first")),
        ],
        validators=[Optional()],
        validate_choice=True,
    )

    def __init__(self, *args, plans=(), phases=(), responsibles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.plan.choices = [SelectChoice("", _l("Any plan"))] + [SelectChoice(p.key, p.title) for p in plans]
        self.phase.choices = [SelectChoice("", _l("Any phase"))] + [SelectChoice(str(p.id), p.name) for p in phases]
        self.status.choices = [SelectChoice("", _l("Any open status"))] + [
            SelectChoice(s, LABELS[s]) for s in OVERDUE_STATUSES
        ]
        self.responsible.choices = [SelectChoice("", _l("Anyone"))] + [
            SelectChoice(str(u.id), u.display_name) for u in responsibles
        ]
        self.late.choices = [SelectChoice("", _l("Any"))] + [
            SelectChoice(str(n), _l("More than %(n)d days", n=n)) for n in LATE_DAYS
        ]

    def validate_phase(self, field):
        if not field.data:
            return
        if not self.plan.data:
            raise ValidationError(_l("Choose the plan first."))
        if field.data not in {c.value for c in field.choices}:
            raise ValidationError(_l("Not a phase of this plan."))


class RulesForm(FlaskForm):
    """Offsets in days relative to the due date (negative: before it), one per level."""

    def fill(self, rows) -> None:
        for row in rows:
            getattr(self, f"{row.level}_days").data = row.offset_days
            getattr(self, f"{row.level}_active").data = row.active

    # 签收: days a task given to a unit may wait to be signed for (the defaults page only)
    unsigned_days = IntegerField(
        _l("Not signed for (days)"), validators=[Optional(), NumberRange(min=1, max=60)], default=3
    )
    unsigned_active = BooleanField(_l("active"), default=True)

    def values(self) -> dict:
        return {level: (getattr(self, f"{level}_days").data, getattr(self, f"{level}_active").data) for level in LEVELS}


for _level in LEVELS:
    setattr(
        RulesForm,
        f"{_level}_days",
        IntegerField(LEVEL_LABELS[_level], validators=[InputRequired(), NumberRange(min=-365, max=3650)]),
    )
    setattr(RulesForm, f"{_level}_active", BooleanField(_l("active"), default=True))
