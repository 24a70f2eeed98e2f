"""Forms of the cascade pages (all with CSRF)."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from tracker.cascade.service import GROUP, LIST, PROVINCES
from tracker.forms import CLEAN
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS


class CascadeForm(FlaskForm):
    mode = RadioField(
        _l("Units"),
        default=PROVINCES,
        choices=[
            SelectChoice(PROVINCES, _l("All provincial health commissions")),
            SelectChoice(GROUP, _l("Every unit of a kind or level under a unit")),
            SelectChoice(LIST, _l("A hand-picked list")),
        ],
    )
    kind = SelectField(_l("Kind"), validators=[Optional()], choices=[])
    level = SelectField(_l("Level"), validators=[Optional()], choices=[])
    under = StringField(
        _l("Under unit (code)"),
        filters=CLEAN,
        validators=[Optional(), Length(max=40)],
        description=_l("Empty: your own unit"),
    )
    codes = TextAreaField(
        _l("Unit codes"),
        filters=CLEAN,
        validators=[Optional(), Length(max=60000)],
        description=_l("Separated by commas, spaces or new lines, e.g. P11, P12, P13"),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("Any kind"))] + [SelectChoice(k, v) for k, v in KIND_LABELS.items()]
        self.level.choices = (
            [SelectChoice("", _l("Any level"))]
            + [SelectChoice(k, v) for k, v in LEVEL_LABELS.items()]
            + [SelectChoice("institution", _l("institution"))]
        )

    def validate_codes(self, field):
        if self.mode.data == LIST and not (field.data or "").strip():
            raise ValidationError(_l("Give at least one unit code."))


class WithdrawForm(FlaskForm):
    reason = StringField(_l("Reason"), filters=CLEAN, validators=[DataRequired(), Length(max=500)])
