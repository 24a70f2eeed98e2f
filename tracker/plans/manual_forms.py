"""Forms of the plans and tasks made by hand (tracker/plans/manual.py)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, FloatField, Form, FormField, IntegerField, RadioField, SelectField
from wtforms import BooleanField, HiddenField, StringField
from wtforms import TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from tracker.duties.forms import RuleFields
from tracker.forms import CLEAN
from tracker.lazy_text import lazy_gettext as _l
from tracker.pickers.fields import UnitField
from tracker.plans.labels import KIND_LABELS, LEVEL_LABELS

PHASE_ROWS = 3
ONE_UNIT, EACH_UNIT = "one", "each"


class PhaseForm(Form):
    """One phase row of the plan form (a sub-form: the plan form carries the CSRF token)."""

    name = StringField(_l("Phase name"), filters=CLEAN, validators=[Optional(), Length(max=120)])
    start_on = DateField(_l("Start"), validators=[Optional()])
    end_on = DateField(_l("End"), validators=[Optional()])


class PlanForm(FlaskForm):
    title = StringField(_l("Title"), filters=CLEAN, validators=[DataRequired(), Length(max=300)])
    doc_number = StringField(
        _l("Document number"),
        filters=CLEAN,
        validators=[Optional(), Length(max=100)],
        description=_l("文号, e.g. 国卫办医函〔2026〕12号; may be empty"),
    )
    issuer = StringField(
        _l("Issuer as the document names it"),
        filters=CLEAN,
        validators=[Optional(), Length(max=300)],
        description=_l("As the document names it; the issuing unit's name when empty"),
    )
    unit = UnitField(_l("Issuing unit"), filters=CLEAN, validators=[DataRequired(), Length(max=200)])
    issued_on = DateField(_l("Issued"), validators=[Optional()])
    period_start = DateField(_l("Period start"), validators=[Optional()])
    period_end = DateField(_l("Period end"), validators=[Optional()])
    phases = FieldList(FormField(PhaseForm), min_entries=PHASE_ROWS, max_entries=PHASE_ROWS)


MAX_PHASES = 30
NEW_PHASE_ROWS = 2  # empty rows the edit form offers for new phases


class EditPhaseForm(PhaseForm):
    """A phase row of the edit form: an existing phase (its id) or a new one (no id)."""

    phase_id = HiddenField()
    remove = BooleanField(_l("Delete this phase"))


class EditPlanForm(PlanForm):
    """编辑计划: the plan form without the issuing unit (it decides who sees the plan), with a
    row per phase and the stamp of the state the form was opened on."""

    unit = None
    phases = FieldList(FormField(EditPhaseForm), min_entries=0, max_entries=MAX_PHASES + NEW_PHASE_ROWS)
    stamp = HiddenField(validators=[InputRequired()])


class TaskFields:
    """The fields of a task made by hand (the task form and the ad-hoc item form)."""

    title = StringField(_l("Title"), filters=CLEAN, validators=[DataRequired(), Length(max=500)])
    owner = UnitField(_l("Owner unit"), filters=CLEAN, validators=[DataRequired(), Length(max=200)])
    responsible = StringField(
        _l("Responsible person"),
        filters=CLEAN,
        validators=[Optional(), Length(max=120)],
        description=_l("A user of the owner unit: user name or name; may be left empty"),
    )
    due_on = DateField(_l("Due date"), validators=[Optional()])
    deliverable = StringField(_l("Deliverable"), filters=CLEAN, validators=[Optional(), Length(max=300)])
    description = TextAreaField(_l("Description"), filters=CLEAN, validators=[Optional(), Length(max=20000)])


class TaskForm(TaskFields, RuleFields, FlaskForm):
    co_owners = StringField(
        _l("Co-owner units"),
        filters=CLEAN,
        validators=[Optional(), Length(max=4000)],
        description=_l("Codes or full names separated by commas, e.g. P11-QC, 上海市肿瘤质控中心"),
    )
    start_on = DateField(_l("Start date"), validators=[Optional()])
    weight = FloatField(_l("Weight"), default=1.0, validators=[InputRequired(), NumberRange(min=0.01, max=1000)])
    phase = SelectField(_l("Phase"), choices=[], validators=[Optional()], validate_choice=True)
    # "each unit of a kind/level under U": the owner above is the template's, and the cascade
    # service (tracker/cascade/service.py) gives one child task to each matching unit
    owner_mode = RadioField(
        _l("Who carries it out"),
        default=ONE_UNIT,
        choices=[
            SelectChoice(ONE_UNIT, _l("The owner unit itself")),
            SelectChoice(EACH_UNIT, _l("Each unit of a kind or level under a unit (one task each)")),
        ],
        validate_choice=True,
    )
    each_kind = SelectField(_l("Kind of unit"), choices=[], validators=[Optional()], validate_choice=True)
    each_level = SelectField(_l("Level of unit"), choices=[], validators=[Optional()], validate_choice=True)
    each_under = UnitField(
        _l("Under unit"),
        filters=CLEAN,
        validators=[Optional(), Length(max=200)],
        description=_l("The units under it (not it) of that kind or level each get a task"),
    )

    def __init__(self, *args, phases=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fill_frequency_choices()
        self.phase.choices = [SelectChoice("", _l("No phase"))] + [SelectChoice(str(p.id), p.name) for p in phases]
        self.each_kind.choices = [SelectChoice("", _l("Any kind"))] + [
            SelectChoice(k, v) for k, v in KIND_LABELS.items()
        ]
        self.each_level.choices = (
            [SelectChoice("", _l("Any level"))]
            + [SelectChoice(k, v) for k, v in LEVEL_LABELS.items()]
            + [SelectChoice("institution", _l("institution"))]
        )

    @property
    def for_each_unit(self) -> bool:
        return self.owner_mode.data == EACH_UNIT


ADHOC_SOURCES = {
    "leader": _l("Assigned by a leader (领导交办)"),
    "meeting": _l("Agreed at a meeting (会议议定)"),
    "other": _l("Other"),
}


class AdhocForm(TaskFields, FlaskForm):
    """新建交办事项: the few fields an ad-hoc item needs."""

    source = SelectField(
        _l("Kind of item"),
        choices=[SelectChoice(k, v) for k, v in ADHOC_SOURCES.items()],
        default="leader",
        validate_choice=True,
    )


class MoveTaskForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    parent = StringField(
        _l("New parent node"),
        filters=CLEAN,
        validators=[Optional(), Length(max=120)],
        description=_l(
            "The number (编号) of the node to put it under, as the plan shows it; empty: the top of the plan"
        ),
    )


class DeleteTaskForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
