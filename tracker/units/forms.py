"""Forms of the units pages (all with CSRF, except the GET filters)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from tracker.forms import CLEAN
from tracker.lazy_text import lazy_gettext as _l
from tracker.models.org import UNIT_KINDS, UNIT_LEVELS
from tracker.pickers.fields import UnitField
from tracker.units.service import UNIT_KIND_LABELS, UNIT_LEVEL_LABELS


def kind_choices(blank=None) -> list:
    return ([SelectChoice("", blank)] if blank else []) + [SelectChoice(k, UNIT_KIND_LABELS[k]) for k in UNIT_KINDS]


def level_choices(blank=None) -> list:
    return ([SelectChoice("", blank)] if blank else []) + [SelectChoice(v, UNIT_LEVEL_LABELS[v]) for v in UNIT_LEVELS]


class UnitForm(FlaskForm):
    """A new unit (code and parent) or an edit (name, kind and level; code and parent shown)."""

    code = StringField(
        _l("Code"),
        filters=CLEAN,
        validators=[Optional(), Length(max=40)],
        description=_l("Capital letters, digits and '-'; unique and kept for good (plans and sheets name it)."),
    )
    name = StringField(_l("Full name"), filters=CLEAN, validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), validate_choice=True)
    level = SelectField(_l("Level"), validate_choice=True)
    parent = UnitField(_l("Parent unit"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    comment = StringField(_l("Reason for the change"), filters=CLEAN, validators=[Optional(), Length(max=500)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = kind_choices()
        self.level.choices = level_choices()


class MoveForm(FlaskForm):
    parent = UnitField(_l("New parent unit"), filters=CLEAN, validators=[DataRequired(), Length(max=200)])
    comment = StringField(_l("Reason for the move"), filters=CLEAN, validators=[Optional(), Length(max=500)])


class ReasonForm(FlaskForm):
    comment = StringField(_l("Reason"), filters=CLEAN, validators=[Optional(), Length(max=500)])


class UnitFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search names and codes"), filters=CLEAN, validators=[Optional(), Length(max=100)])
    under = UnitField(_l("Under"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    kind = SelectField(_l("Kind"), validators=[Optional()], validate_choice=True)
    level = SelectField(_l("Level"), validators=[Optional()], validate_choice=True)
    state = SelectField(_l("State"), validators=[Optional()], validate_choice=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = kind_choices(_l("Any kind"))
        self.level.choices = level_choices(_l("Any level"))
        self.state.choices = [
            SelectChoice("", _l("In use")),
            SelectChoice("retired", _l("Retired")),
            SelectChoice("all", _l("All")),
        ]


class SheetForm(FlaskForm):
    file = FileField(_l("Sheet (.xlsx or .csv)"), validators=[FileRequired()])
