"""Forms of the accounts pages (all with CSRF, except the GET filters)."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from tracker.forms import CLEAN
from tracker.pickers.fields import UnitField


class AccountForm(FlaskForm):
    username = StringField(_l("User name"), filters=CLEAN, validators=[Optional(), Length(max=80)])
    display_name = StringField(_l("Display name"), filters=CLEAN, validators=[DataRequired(), Length(max=120)])
    unit = UnitField(_l("Unit"), filters=CLEAN, validators=[DataRequired()], legacy_ids=True)
    role = SelectField(_l("Role"), validate_choice=True)
    email = StringField(_l("E-mail"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Telephone"), filters=CLEAN, validators=[Optional(), Length(max=40)])
    comment = StringField(_l("Reason for the change"), filters=CLEAN, validators=[Optional(), Length(max=500)])


class AccountFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), filters=CLEAN, validators=[Optional(), Length(max=100)])
    unit = UnitField(_l("Unit"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    role = SelectField(_l("Role"), validators=[Optional()], validate_choice=True)
    state = SelectField(_l("State"), validators=[Optional()], validate_choice=True)


class ReasonForm(FlaskForm):
    comment = StringField(_l("Reason"), filters=CLEAN, validators=[Optional(), Length(max=500)])


class SheetForm(FlaskForm):
    file = FileField(_l("Sheet (.xlsx or .csv)"), validators=[FileRequired()])
