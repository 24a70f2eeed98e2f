"""The recurring duty's rule form: the frequency picker (每周/每月/每季度/每半年/每年 with the
day) writes the RRULE; a rule the picker cannot show is kept and edited as text."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, ValidationError

from tracker.duties.rules import RuleError, check_rule
from tracker.forms import CLEAN
from tracker.pickers.fields import CUSTOM, FrequencyFields


class RuleFields(FrequencyFields):
    """The frequency picker and the typed rule ("other"), checked: for the duty's rule page and
    for any form that makes a task recurring (the new task by hand). Call
    `fill_frequency_choices()` in the form's constructor; `rule_value()` after validation."""

    rule = StringField(
        _l("Recurrence rule (RRULE)"),
        filters=CLEAN,
        validators=[Optional(), Length(max=200)],
        description=_l(
            "Only for 'Other': e.g. FREQ=MONTHLY;BYMONTHDAY=-1 (month ends) or FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1 (quarter ends)"
        ),
    )

    def validate_rule(self, field):
        typed = (self.freq.data or "") == CUSTOM or not self.freq.raw_data
        if typed and field.data and field.data.strip():
            try:
                check_rule(field.data)
            except RuleError as exc:
                raise ValidationError(_l("Not a valid recurrence rule: %(reason)s", reason=str(exc))) from exc


class RuleForm(RuleFields, FlaskForm):
    comment = StringField(_l("Reason for the change"), filters=CLEAN, validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_frequency_choices()
