"""Forms of the provincial scheme pages (all with CSRF)."""

from __future__ import annotations

from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms.fields.choices import SelectChoice
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from tracker.forms import CLEAN


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
    owner = StringField(
        _l("Owner unit (code)"),
        filters=CLEAN,
        validators=[Optional(), Length(max=40)],
        description=_l("Empty: the province itself"),
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])
    deliverable = StringField(_l("Deliverable"), filters=CLEAN, validators=[Optional(), Length(max=300)])
    implements = SelectField(_l("Implements national task"), choices=[], validate_choice=True)


class ImportForm(FlaskForm):
    text = TextAreaField(
        _l("Tasks as CSV"),
        filters=CLEAN,
        validators=[Optional(), Length(max=200000)],
        description=_l("First line: ref,title,owner,due,deliverable,implements"),
    )
    file = FileField(_l("or a CSV file"))

    def validate_text(self, field):
        if not (field.data or "").strip() and not self.file.data:
            raise ValidationError(_l("Paste the CSV or choose a file."))


class MapForm(FlaskForm):
    national = SelectField(_l("Implements national task"), coerce=int, choices=[], validate_choice=True)


class ReviewForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[SelectChoice("accept", _l("Accept")), SelectChoice("return", _l("Return"))],
        validators=[DataRequired()],
    )
    comment = StringField(_l("Comment (required to return)"), filters=CLEAN, validators=[Optional(), Length(max=1000)])
