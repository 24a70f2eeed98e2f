from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange, Optional

from tracker.models.notify import LEVELS
from tracker.pickers.fields import UnitField
from tracker.notifications.labels import LEVEL_LABELS


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
