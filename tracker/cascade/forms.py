"""Forms of the cascade, recurrence, scheme and calendar pages (all with CSRF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from tracker.cascade.rules import RuleError, check_rule
from tracker.cascade.service import GROUP, LIST, PROVINCES
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS


def clean_text(value):
    """Text without control characters (PostgreSQL refuses NUL; none belongs in these fields)."""
    if not isinstance(value, str):
        return value
    return "".join(ch for ch in value if ch in "\n\t" or (ch >= " " and ch != "\x7f")).strip()


CLEAN = [clean_text]


class CascadeForm(FlaskForm):
    mode = RadioField(_l("Units"), default=PROVINCES, choices=[
        SelectChoice(PROVINCES, _l("All provincial health commissions")),
        SelectChoice(GROUP, _l("Every unit of a kind or level under a unit")),
        SelectChoice(LIST, _l("A hand-picked list")),
    ])
    kind = SelectField(_l("Kind"), validators=[Optional()], choices=[])
    level = SelectField(_l("Level"), validators=[Optional()], choices=[])
    under = StringField(_l("Under unit (code)"), filters=CLEAN, validators=[Optional(), Length(max=40)],
                        description=_l("Empty: your own unit"))
    codes = TextAreaField(_l("Unit codes"), filters=CLEAN, validators=[Optional(), Length(max=60000)],
                          description=_l("Separated by commas, spaces or new lines, e.g. P11, P12, P13"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("Any kind"))] + [SelectChoice(k, v) for k, v in KIND_LABELS.items()]
        self.level.choices = ([SelectChoice("", _l("Any level"))] + [SelectChoice(k, v) for k, v in LEVEL_LABELS.items()]
                              + [SelectChoice("institution", _l("institution"))])

    def validate_codes(self, field):
        if self.mode.data == LIST and not (field.data or "").strip():
            raise ValidationError(_l("Give at least one unit code."))


class WithdrawForm(FlaskForm):
    reason = StringField(_l("Reason"), filters=CLEAN, validators=[DataRequired(), Length(max=500)])


class RuleForm(FlaskForm):
    rule = StringField(_l("Recurrence rule (RRULE)"), filters=CLEAN, validators=[Optional(), Length(max=200)],
                       description=_l("e.g. FREQ=MONTHLY;BYMONTHDAY=-1 (month ends) or FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1 (quarter ends); empty: not recurring"))
    comment = StringField(_l("Reason for the change"), filters=CLEAN, validators=[Optional(), Length(max=500)])

    def validate_rule(self, field):
        if field.data and field.data.strip():
            try:
                check_rule(field.data)
            except RuleError as exc:
                raise ValidationError(_l("Not a valid recurrence rule: %(reason)s", reason=str(exc))) from exc


class RequirementForm(FlaskForm):
    template = SelectField(_l("Per-province task fulfilled by a scheme"), coerce=int, choices=[])


class StartSchemeForm(FlaskForm):
    title = StringField(_l("Title of the scheme"), filters=CLEAN, validators=[DataRequired(), Length(max=300)])
    doc_number = StringField(_l("Document number (文号)"), filters=CLEAN, validators=[Optional(), Length(max=100)])
    issued_on = DateField(_l("Issued on"), validators=[Optional()])


class DocumentForm(FlaskForm):
    file = FileField(_l("Scheme document"), validators=[FileRequired()])


class SchemeTaskForm(FlaskForm):
    ref = StringField(_l("Ref"), filters=CLEAN, validators=[DataRequired(), Length(max=100)])
    title = StringField(_l("Title"), filters=CLEAN, validators=[DataRequired(), Length(max=500)])
    owner = StringField(_l("Owner unit (code)"), filters=CLEAN, validators=[Optional(), Length(max=40)],
                        description=_l("Empty: the province itself"))
    due_on = DateField(_l("Due date"), validators=[Optional()])
    deliverable = StringField(_l("Deliverable"), filters=CLEAN, validators=[Optional(), Length(max=300)])
    implements = SelectField(_l("Implements national task"), choices=[], validate_choice=True)


class ImportForm(FlaskForm):
    text = TextAreaField(_l("Tasks as CSV"), filters=CLEAN, validators=[Optional(), Length(max=200000)],
                         description=_l("First line: ref,title,owner,due,deliverable,implements"))
    file = FileField(_l("or a CSV file"))

    def validate_text(self, field):
        if not (field.data or "").strip() and not self.file.data:
            raise ValidationError(_l("Paste the CSV or choose a file."))


class MapForm(FlaskForm):
    national = SelectField(_l("Implements national task"), coerce=int, choices=[], validate_choice=True)


class ReviewForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice("accept", _l("Accept")), SelectChoice("return", _l("Return"))],
                          validators=[DataRequired()])
    comment = StringField(_l("Comment (required to return)"), filters=CLEAN, validators=[Optional(), Length(max=1000)])


class EmptyForm(FlaskForm):
    """A button that posts: only the CSRF token."""
