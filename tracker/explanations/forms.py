from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from tracker.explanations.service import REASONS


class ExplanationForm(FlaskForm):
    reason = SelectField(_l("Reason"), choices=[], validators=[DataRequired()])
    detail = TextAreaField(_l("Details"), validators=[Optional(), Length(max=1000)])
    committed_on = DateField(
        _l("Committed date"), validators=[DataRequired(message=_l("Give the date by which it will be done."))]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reason.choices = [SelectChoice("", _l("Choose a reason"))] + [
            SelectChoice(k, v) for k, v in REASONS.items()
        ]
