"""The recurring duty's rule form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional, ValidationError

from tracker.duties.rules import RuleError, check_rule
from tracker.forms import CLEAN


class RuleForm(FlaskForm):
    rule = StringField(
        _l("Recurrence rule (RRULE)"),
        filters=CLEAN,
        validators=[Optional(), Length(max=200)],
        description=_l(
            "e.g. FREQ=MONTHLY;BYMONTHDAY=-1 (month ends) or FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1 (quarter ends); empty: not recurring"
        ),
    )
    comment = StringField(_l("Reason for the change"), filters=CLEAN, validators=[Optional(), Length(max=500)])

    def validate_rule(self, field):
        if field.data and field.data.strip():
            try:
                check_rule(field.data)
            except RuleError as exc:
                raise ValidationError(_l("Not a valid recurrence rule: %(reason)s", reason=str(exc))) from exc
