"""The audit view's filters (a GET form, no CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from tracker.forms import CLEAN
from tracker.lazy_text import lazy_gettext as _l
from tracker.pickers.fields import UnitField, unit_problem_text


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user = StringField(
        _l("Changed by"),
        filters=CLEAN,
        validators=[Optional(), Length(max=120)],
        description=_l("User name or display name"),
    )
    unit = UnitField(_l("Unit (and the units under it)"), filters=CLEAN, validators=[Optional(), Length(max=200)])
    day_from = DateField(_l("From"), validators=[Optional()])
    day_to = DateField(_l("To"), validators=[Optional()])
    action = SelectField(_l("Action"), validators=[Optional()], validate_choice=True)
    kind = SelectField(_l("Object"), validators=[Optional()], validate_choice=True)

    users: list = []
    # the viewer's subtree (tracker/auth/scope.py journal_scope): a coordinator's filters name
    # only accounts and units in it; others are "not found", like names nobody has
    scope = None

    def validate_user(self, field):
        from tracker.audit.view import users_named

        self.users = users_named(field.data or "", within=self.scope)
        if field.data and not self.users:
            raise ValidationError(_l("No account is called '%(text)s'.", text=field.data))

    def validate_unit(self, field):
        if field.unit is not None and self.scope is not None and not field.unit.is_within(self.scope):
            field.unit = None
            raise ValidationError(unit_problem_text("unknown", field.data))

    def validate_day_to(self, field):
        if field.data and self.day_from.data and field.data < self.day_from.data:
            raise ValidationError(_l("The end comes before the start."))
