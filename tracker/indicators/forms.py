"""WTForms of the indicator pages. The values of an indicator form are dynamic (one per
definition) and checked by tracker.indicators.validation; CSRF protects every POST."""

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.indicators.service import PERIOD_KIND_LABELS
from tracker.models.indicators import PERIOD_KINDS
from tracker.models.org import UNIT_KINDS
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS

INSTITUTION_LEVEL = _l("institution")  # the level of medical institutions


class PeriodForm(FlaskForm):
    kind = SelectField(_l("Period type"), validators=[DataRequired()])
    year = IntegerField(_l("Year"), validators=[InputRequired(), NumberRange(min=2000, max=2100)])
    number = IntegerField(
        _l("Number within the year"),
        default=1,
        validators=[InputRequired(), NumberRange(min=1, max=12)],
        description=_l("Half-year 1-2, quarter 1-4, month 1-12; 1 for a year."),
    )
    due_on = DateField(_l("Due date"), validators=[InputRequired()])
    level = SelectField(_l("Reporting units' level"), validators=[DataRequired()])
    unit_kind = SelectField(_l("Reporting units' kind"), validators=[Optional()])
    under = StringField(_l("Under unit (code)"), validators=[DataRequired(), Length(max=40)])

    def __init__(self, *args, levels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice(k, PERIOD_KIND_LABELS[k]) for k in PERIOD_KINDS]
        self.level.choices = [SelectChoice(level, LEVEL_LABELS.get(level, INSTITUTION_LEVEL)) for level in levels]
        self.unit_kind.choices = [SelectChoice("", _l("Any kind"))] + [
            SelectChoice(k, KIND_LABELS[k]) for k in UNIT_KINDS
        ]


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("Reason for returning"), validators=[DataRequired(), Length(max=2000)])


class ImportForm(FlaskForm):
    file = FileField(_l("Filled-in Excel file (.xlsx)"), validators=[FileRequired()])


class ActionForm(FlaskForm):
    """A bare form: its CSRF token is all an action button needs."""
