from tracker.lazy_text import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from tracker.pickers.fields import UnitField
from tracker.plans.status import ACTION_LABELS, LABELS, STATUSES


ME = "me"  # the responsible-person filter's "assigned to me"


class TaskFilterForm(FlaskForm):
    """Filters of the plan page and the task list (GET; no CSRF needed to read). Choices come from
    the caller (tracker/plans/list_filters.py task_filter_form): `plans` by title (None on a plan's
    own page, whose plan is fixed), `phases` of the chosen plan, `responsibles` (the people of the
    user's scope named on their tasks; "assigned to me" is always offered)."""

    class Meta:
        csrf = False

    q = StringField(_l("Search titles"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Status"), choices=[], validators=[Optional()], validate_choice=True)
    owner = UnitField(_l("Owner unit"), validators=[Optional(), Length(max=200)], partial=True)
    plan = SelectField(_l("Plan"), choices=[], validators=[Optional()], validate_choice=False)
    phase = SelectField(_l("Phase"), choices=[], validators=[Optional()], validate_choice=False)
    responsible = SelectField(_l("Responsible person"), choices=[], validators=[Optional()], validate_choice=True)
    overdue = BooleanField(_l("Overdue only"))
    due_from = DateField(_l("Due from"), validators=[Optional()])
    due_to = DateField(_l("Due to"), validators=[Optional()])
    sort = SelectField(
        _l("Order"),
        choices=[
            SelectChoice("due", _l("Due date first")),
            SelectChoice("-due", _l("Due date, latest first")),
            SelectChoice("updated", _l("Last changed first")),
            SelectChoice("-updated", _l("Changed longest ago first")),
            SelectChoice("title", _l("Title, A to Z")),
            SelectChoice("-title", _l("Title, Z to A")),
            SelectChoice("status", _l("Status, in workflow order")),
            SelectChoice("-status", _l("Status, reverse workflow order")),
            SelectChoice("owner", _l("Owner unit, A to Z")),
            SelectChoice("-owner", _l("Owner unit, Z to A")),
        ],
        validators=[Optional()],
        validate_choice=True,
    )

    def __init__(self, *args, phases=(), plans=None, responsibles=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_plan = plans is None
        self.status.choices = [SelectChoice("", _l("Any status"))] + [SelectChoice(s, LABELS[s]) for s in STATUSES]
        self.plan.choices = [SelectChoice("", _l("Any plan"))] + [SelectChoice(p.key, p.title) for p in plans or ()]
        self.phase.choices = [SelectChoice("", _l("Any phase"))] + [SelectChoice(str(p.id), p.name) for p in phases]
        self.responsible.choices = [SelectChoice("", _l("Anyone")), SelectChoice(ME, _l("Assigned to me"))] + [
            SelectChoice(str(u.id), u.display_name) for u in responsibles
        ]

    def filters(self, plan_id=None, user=None):
        """The validated filters as the query's TaskFilters (`user`: who "assigned to me" is)."""
        from tracker.plans.queries import TaskFilters

        responsible = self.responsible.data or ""
        if responsible == ME:
            responsible_id = user.id if user is not None else None
        else:
            responsible_id = int(responsible) if responsible else None
        return TaskFilters(
            plan_id=plan_id,
            status=self.status.data or None,
            owner=self.owner.unit.code if self.owner.unit is not None else (self.owner.data or "").strip(),
            phase_id=int(self.phase.data) if self.phase.data else None,
            responsible_id=responsible_id,
            overdue=bool(self.overdue.data),
            due_from=self.due_from.data,
            due_to=self.due_to.data,
            q=(self.q.data or "").strip(),
            sort=self.sort.data or "due",
        )

    def validate_plan(self, field):
        if self.fixed_plan or not field.data:
            return  # a plan's own page filters its plan (an argument naming another is ignored)
        if field.data not in {c.value for c in field.choices}:
            raise ValidationError(_l("No such plan."))

    def validate_phase(self, field):
        if not field.data:
            return
        if not self.fixed_plan and not self.plan.data:
            raise ValidationError(_l("Choose the plan first."))
        if field.data not in {c.value for c in field.choices}:
            raise ValidationError(_l("Not a phase of this plan."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok and self.due_from.data and self.due_to.data and self.due_to.data < self.due_from.data:
            self.due_to.errors.append(_l("The end is before the start."))
            return False
        return ok


class StatusForm(FlaskForm):
    target = HiddenField(validators=[DataRequired()])
    version = IntegerField(validators=[InputRequired()])
    comment = TextAreaField(_l("Reason / comment"), validators=[Optional(), Length(max=5000)])


class PercentForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    percent = IntegerField(_l("Percent done"), validators=[InputRequired(), NumberRange(min=0, max=100)])


class CommentForm(FlaskForm):
    text = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=5000)])


class EvidenceForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])
    supersedes = HiddenField()


class HandleForm(FlaskForm):
    """The owner's 办理: status, percent, evidence files and a note in one submit."""

    version = IntegerField(validators=[InputRequired()])
    target = SelectField(_l("Status"), choices=[], validators=[Optional()], validate_choice=True)
    percent = StringField(_l("Percent done"), validators=[Optional(), Length(max=10)])
    files = MultipleFileField(_l("Evidence files"))
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=5000)])

    def __init__(self, *args, current_status: str = "", targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.target.choices = [SelectChoice("", _l("Keep: %(status)s", status=LABELS.get(current_status, "")))] + [
            SelectChoice(t, ACTION_LABELS[t]) for t in targets
        ]

    def validate_percent(self, field):
        value = (field.data or "").strip()
        if not value:
            return
        if not value.isdigit() or not 0 <= int(value) <= 100:
            raise ValidationError(_l("Enter a whole number from 0 to 100."))

    @property
    def percent_value(self):
        value = (self.percent.data or "").strip()
        return int(value) if value else None

    @property
    def uploads(self) -> list:
        return [f for f in (self.files.data or []) if f and getattr(f, "filename", "")]


class EditTaskForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=500)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    owner = UnitField(_l("Owner unit"), validators=[DataRequired()], legacy_ids=True)
    co_owners = StringField(
        _l("Co-owner units"),
        validators=[Optional(), Length(max=4000)],
        description=_l("Codes or full names separated by commas, e.g. P11-QC, 上海市肿瘤质控中心"),
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])
    deliverable = StringField(_l("Deliverable"), validators=[Optional(), Length(max=300)])
    weight = FloatField(_l("Weight"), validators=[InputRequired(), NumberRange(min=0.01, max=1000)])
    comment = StringField(_l("Reason for the change"), validators=[Optional(), Length(max=500)])


class BulkForm(FlaskForm):
    """The action bar of a selection (task list, review queue): which action, its comment or
    reason, the new due date; the ticked task ids come as the repeated `task` argument."""

    action = HiddenField(validators=[Optional(), Length(max=20)])
    comment = StringField(_l("Comment / reason for returning"), validators=[Optional(), Length(max=5000)])
    due_on = DateField(_l("New due date"), validators=[Optional()])
    next = HiddenField(validators=[Optional(), Length(max=2000)])
    source = HiddenField(validators=[Optional(), Length(max=10)])

    def validate_due_on(self, field):
        if field.data is not None and not 2000 <= field.data.year <= 2100:
            raise ValidationError(_l("Choose a date between 2000 and 2100."))


class SavedFilterForm(FlaskForm):
    """保存当前筛选: a name for the task list's current filters (their query string)."""

    name = StringField(_l("Name of the filter"), validators=[DataRequired(), Length(max=60)])
    query = HiddenField(validators=[Optional(), Length(max=4000)])
