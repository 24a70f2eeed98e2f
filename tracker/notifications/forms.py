from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional

from tracker.models.notify import LEVELS
from tracker.pickers.fields import UnitField
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


class OverdueFilterForm(FlaskForm):
    """The overdue list's filter (GET): a unit by the picker (its code, or its full name typed)."""

    class Meta:
        csrf = False

    unit = UnitField(_l("Unit (with its sub-units)"), validators=[Optional()])


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
