"""The forms of the supervision panel (task page) and of the bulk 催办 (overdue list)."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from tracker.supervision.service import INSTRUCTION_LIMIT, MESSAGE_LIMIT


class UrgeForm(FlaskForm):
    message = StringField(_l("Message (optional)"), validators=[Optional(), Length(max=MESSAGE_LIMIT)])


class InstructionForm(FlaskForm):
    text = TextAreaField(_l("Instruction"), validators=[DataRequired(), Length(max=INSTRUCTION_LIMIT)])


class ResponsibleForm(FlaskForm):
    responsible = SelectField(_l("Responsible person"), coerce=int, validate_choice=True)
    contact_name = StringField(_l("Contact"), validators=[Optional(), Length(max=100)])
    contact_phone = StringField(_l("Contact telephone"), validators=[Optional(), Length(max=40)])
