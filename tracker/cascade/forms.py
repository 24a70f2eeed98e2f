"""Forms of the cascade pages (all with CSRF)."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from tracker.cascade.service import CHILD_SORTS, GROUP, LIST, PROVINCES
from tracker.forms import CLEAN
from tracker.pickers.fields import UnitField
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS
from tracker.plans.status import LABELS as STATUS_LABELS
from tracker.plans.status import STATUSES


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


CHILD_SORT_LABELS = {
    "unit": _l("Owner unit, A to Z"),
    "-unit": _l("Owner unit, Z to A"),
    "due": _l("Due date first"),
    "-due": _l("Due date, latest first"),
    "status": _l("Status, in workflow order"),
    "-status": _l("Status, reverse workflow order"),
    "updated": _l("Last changed first"),
    "-updated": _l("Changed longest ago first"),
}


class ChildFilterForm(FlaskForm):
    """The filters of a cascade's children list (GET): status, overdue only, a unit by the
    picker (its subtree), the responsible person (among those named on the children), the order."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), choices=[], validators=[Optional()], validate_choice=True)
    overdue = BooleanField(_l("Overdue only"))
    unit = UnitField(_l("Unit (with its sub-units)"), validators=[Optional()])
    responsible = SelectField(_l("Responsible person"), choices=[], validators=[Optional()], validate_choice=True)
    sort = SelectField(_l("Order"), choices=[], validators=[Optional()], validate_choice=True)

    def __init__(self, *args, responsibles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.status.choices = [SelectChoice("", _l("Any status"))] + [
            SelectChoice(s, STATUS_LABELS[s]) for s in STATUSES
        ]
        self.responsible.choices = [SelectChoice("", _l("Anyone"))] + [
            SelectChoice(str(u.id), u.display_name) for u in responsibles
        ]
        self.sort.choices = [SelectChoice("", _l("The units' order"))] + [
            SelectChoice(key, CHILD_SORT_LABELS[key]) for key in CHILD_SORTS
        ]
