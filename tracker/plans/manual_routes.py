"""Pages of the plans and tasks made by hand: new plan, new task under a node, move, delete, and
the ad-hoc item (新建交办事项) from my work. Thin: the rules are in tracker/plans/manual.py."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Phase, Task, User
from tracker.pickers.units import resolve_units, split_unit_list
from tracker.plans import manual
from tracker.plans.blueprint import bp
from tracker.plans.manual_forms import (
    ADHOC_SOURCES,
    PHASE_ROWS,
    NEW_PHASE_ROWS,
    AdhocForm,
    DeleteTaskForm,
    EditPlanForm,
    MoveTaskForm,
    PlanForm,
    TaskForm,
)
from tracker.plans.operations import NotAllowed, StaleVersion
from tracker.plans.queries import ancestors_of
from tracker.plans.service import get_plan
from tracker.plans.status import CANCELLED, CLOSED_STATUSES
from tracker.web import fragment_response, render, task_or_404, wants_fragment

PARENT_SUGGESTIONS = 300  # nodes offered in the move form's list (a long plan: type the number)


def _require_planner() -> None:
    if not manual.may_plan(current_user):
        abort(403)


def _place(form, problems: dict) -> str:
    """Each refusal next to its field ('phases-1-name' too); what belongs to none, as one line."""
    rest = []
    for key, message in problems.items():
        field = form._fields.get(key)
        if field is None and key.startswith("phases-"):
            _prefix, index, name = key.split("-", 2)
            field = form.phases.entries[int(index)].form._fields.get(name)
        if field is None:
            rest.append(str(message))
        else:
            field.errors = list(field.errors) + [message]
    return "; ".join(rest)


def _find_responsible(form, owner):
    """The responsible person typed as a user name or name, among the owner unit's active users."""
    text = (form.responsible.data or "").strip()
    if not text or owner is None:
        return None, None
    found = list(
        db.session.scalars(
            select(User)
            .where(
                User.unit_id == owner.id,
                User.active.is_(True),
                (func.lower(User.username) == text.lower()) | (User.display_name == text),
            )
            .limit(3)
        )
    )
    exact = [u for u in found if u.username.lower() == text.lower()]
    if exact or len(found) == 1:
        return (exact or found)[0], None
    if found:
        return None, _(
            "Several users of %(unit)s are called '%(text)s': give the user name.", unit=owner.name, text=text
        )
    return None, _("No active user '%(text)s' in %(unit)s.", text=text, unit=owner.name)


# --- a new plan -----------------------------------------------------------------------------


@bp.route("/plans/new", methods=["GET", "POST"])
@login_required
def plan_new():
    _require_planner()
    form = PlanForm()
    if request.method == "GET":
        form.unit.set_unit(current_user.unit)
        return render("plans/plan_new.html", form=form, error=None)
    if not form.validate():
        return render("plans/plan_new.html", status=422, form=form, error=None)
    values = manual.PlanValues(
        title=form.title.data or "",
        unit=form.unit.unit,
        doc_number=form.doc_number.data or "",
        issuer=form.issuer.data or "",
        issued_on=form.issued_on.data,
        period_start=form.period_start.data,
        period_end=form.period_end.data,
        phases=[
            manual.PhaseValues(entry.form.name.data or "", entry.form.start_on.data, entry.form.end_on.data)
            for entry in form.phases.entries[:PHASE_ROWS]
            if (entry.form.name.data or "").strip() or entry.form.start_on.data or entry.form.end_on.data
        ],
    )
    try:
        plan = manual.create_plan(current_user, values)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except manual.Problems as exc:
        db.session.rollback()
        # phase rows are numbered among the filled ones: map them back to the form's rows
        filled = [
            i
            for i, e in enumerate(form.phases.entries[:PHASE_ROWS])
            if (e.form.name.data or "").strip() or e.form.start_on.data or e.form.end_on.data
        ]
        problems = {}
        for key, message in exc.problems.items():
            if key.startswith("phases-"):
                _p, index, name = key.split("-", 2)
                key = f"phases-{filled[int(index)]}-{name}"
            problems[key] = message
        return render("plans/plan_new.html", status=422, form=form, error=_place(form, problems))
    db.session.commit()
    flash(_("The plan is created. Add its tasks now."), "success")
    return redirect(url_for("plans.plan_detail", key=plan.key), code=303)


# --- editing a plan --------------------------------------------------------------------------------


def _plan_edit_form(plan) -> EditPlanForm:
    """The edit form showing the plan as it is now: a row per phase, and empty rows to add some."""
    form = EditPlanForm(formdata=None)
    for name in manual.PLAN_FIELDS:
        form[name].data = getattr(plan, name)
    for phase in plan.phases:
        form.phases.append_entry(
            {"phase_id": str(phase.id), "name": phase.name, "start_on": phase.start_on, "end_on": phase.end_on}
        )
    for _row in range(NEW_PHASE_ROWS):
        form.phases.append_entry()
    form.stamp.data = manual.plan_stamp(plan)
    return form


def _plan_edit_page(plan, form, status=200, error=None):
    return render(
        "plans/plan_edit.html",
        status=status,
        plan=plan,
        form=form,
        error=error,
        counts=manual.phase_task_counts(plan),
    )


def _phase_rows(form) -> tuple[list[manual.PhaseValues], list[int]]:
    """The phase rows that say something (an existing phase, or a new one being filled in), and
    the form row of each."""
    rows, where = [], []
    for index, entry in enumerate(form.phases.entries):
        sub = entry.form
        text = (sub.phase_id.data or "").strip()
        phase_id = int(text) if text.isdigit() else None
        if phase_id is None and not ((sub.name.data or "").strip() or sub.start_on.data or sub.end_on.data):
            continue
        rows.append(
            manual.PhaseValues(sub.name.data or "", sub.start_on.data, sub.end_on.data, phase_id, bool(sub.remove.data))
        )
        where.append(index)
    return rows, where


@bp.route("/plans/<key>/edit", methods=["GET", "POST"])
@login_required
def plan_edit(key: str):
    """编辑计划: title, 文号, issuer, dates and phases, by a coordinator of the issuing unit or above."""
    plan = get_plan(key)
    if plan is None:
        abort(404)
    if not manual.may_edit_plan(current_user, plan):
        abort(403)
    if request.method == "GET":
        return _plan_edit_page(plan, _plan_edit_form(plan))
    form = EditPlanForm()
    if not form.validate():
        return _plan_edit_page(plan, form, 422)
    phases, where = _phase_rows(form)
    values = manual.PlanValues(
        title=form.title.data or "",
        doc_number=form.doc_number.data or "",
        issuer=form.issuer.data or "",
        issued_on=form.issued_on.data,
        period_start=form.period_start.data,
        period_end=form.period_end.data,
        phases=phases,
    )
    try:
        changes = manual.update_plan(current_user, plan, values, expected_stamp=form.stamp.data)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except manual.StalePlan:
        db.session.rollback()
        fresh = get_plan(key)
        message = _("This plan was changed by someone else meanwhile; here is its current state. Nothing was saved.")
        return _plan_edit_page(fresh, _plan_edit_form(fresh), 409, message)
    except manual.Problems as exc:
        db.session.rollback()
        problems = {}
        for name, message in exc.problems.items():
            if name.startswith("phases-"):
                _p, index, field = name.split("-", 2)
                name = f"phases-{where[int(index)]}-{field}"
            problems[name] = message
        return _plan_edit_page(get_plan(key), form, 422, _place(form, problems))
    db.session.commit()
    flash(_("The plan is saved.") if changes else _("Nothing changed."), "success" if changes else "info")
    return redirect(url_for("plans.plan_detail", key=plan.key), code=303)


# --- a new task under a node ------------------------------------------------------------------------


def _task_values(form, owner_field="owner") -> tuple[manual.TaskValues, dict]:
    """The form's values, and the problems of the fields the service cannot check (typed units
    and people)."""
    problems = {}
    owner = form.owner.unit
    co_owners = []
    if hasattr(form, "co_owners"):
        co_owners, unknown = resolve_units(split_unit_list(form.co_owners.data or ""))
        if unknown:
            problems["co_owners"] = _("No unit found: %(text)s", text="、".join(unknown))
    person, message = _find_responsible(form, owner)
    if message:
        problems["responsible"] = message
    phase = None
    if getattr(form, "phase", None) is not None and form.phase.data:
        phase = db.session.get(Phase, int(form.phase.data))
    values = manual.TaskValues(
        title=form.title.data or "",
        owner=owner,
        description=form.description.data or "",
        co_owners=co_owners,
        responsible=person,
        start_on=getattr(form, "start_on", None) and form.start_on.data,
        due_on=form.due_on.data,
        deliverable=form.deliverable.data or "",
        weight=form.weight.data if hasattr(form, "weight") else 1.0,
        phase=phase,
        recurrence=form.rule_value() if hasattr(form, "rule_value") else "",
    )
    return values, problems


EACH_FIELDS = ("owner_mode", "each_kind", "each_level", "each_under")


def _each_unit(form) -> manual.EachUnit:
    return manual.EachUnit(under=form.each_under.unit, kind=form.each_kind.data, level=form.each_level.data)


def _unit_matches(form) -> dict:
    """How many units "each unit of ... under ..." names now (the count next to the field), or
    the problem with it; nothing is written."""
    if form.each_under.errors:
        return {"count": None, "error": str(form.each_under.errors[0])}
    try:
        units = manual.each_unit_targets(current_user, _each_unit(form))
    except manual.Problems as exc:
        return {"count": None, "error": "; ".join(str(m) for m in exc.problems.values())}
    return {"count": len(units), "error": None, "sample": units[:5]}


@bp.route("/plans/<key>/tasks/new", methods=["GET", "POST"])
@login_required
def task_new(key: str):
    plan = get_plan(key)
    if plan is None:
        abort(404)
    parent = None
    parent_id = request.values.get("parent", "")
    if parent_id:
        parent = task_or_404(int(parent_id)) if parent_id.isdigit() else abort(404)
        if parent.plan_id != plan.id:
            abort(404)
    if not manual.may_add_under(current_user, plan, parent):
        abort(403)
    form = TaskForm(phases=plan.phases)
    context = {
        "plan": plan,
        "parent": parent,
        "ancestors": ancestors_of(parent) if parent else [],
        "matches": None,
    }
    if request.method == "GET":
        form.owner.set_unit(parent.owner_unit if parent and parent.owner_unit else current_user.unit)
        form.each_under.set_unit(current_user.unit)
        if parent is not None:
            form.due_on.data = parent.due_on
            form.phase.data = str(parent.phase_id) if parent.phase_id else ""
        return render("plans/task_new.html", form=form, error=None, **context)
    valid = form.validate()
    if request.form.get("then") == "count":  # how many units match: nothing is saved
        for name, field in form._fields.items():
            if name not in EACH_FIELDS:
                field.errors = []
        context["matches"] = _unit_matches(form)
        block = "owner_matches" if wants_fragment() else "content"
        return render("plans/task_new.html", block=block, form=form, error=None, **context)
    if not form.for_each_unit:  # the "each unit" fields say nothing for one owner unit
        for name in EACH_FIELDS[1:]:
            form[name].errors = []
        valid = not any(field.errors for field in form)
    if not valid:
        return render("plans/task_new.html", status=422, form=form, error=None, **context)
    values, problems = _task_values(form)
    each = _each_unit(form) if form.for_each_unit else None
    if problems:  # with the service's own checks: every problem at once
        problems = {**manual.check_task_values(current_user, plan, values), **problems}
        if each is not None:
            try:
                manual.each_unit_targets(current_user, each)
            except manual.Problems as exc:
                problems = {**exc.problems, **problems}
        return render("plans/task_new.html", status=422, form=form, error=_place(form, problems), **context)
    try:
        if each is None:
            task = manual.add_task(current_user, plan, parent, values)
        else:
            task, cascade = manual.add_task_for_each_unit(current_user, plan, parent, values, each)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except manual.Problems as exc:
        db.session.rollback()
        return render("plans/task_new.html", status=422, form=form, error=_place(form, exc.problems), **context)
    db.session.commit()
    if each is None:
        flash(_("The task %(ref)s is added.", ref=task.ref), "success")
    else:
        flash(
            _(
                "The task %(ref)s is added, with one task for each of %(n)d units.",
                ref=task.ref,
                n=len(cascade.children),
            ),
            "success",
        )
    if request.form.get("then") == "another":
        return redirect(url_for("plans.task_new", key=plan.key, parent=parent.id if parent else None), code=303)
    return redirect(url_for("plans.task_page", task_id=task.id), code=303)


# --- move and delete --------------------------------------------------------------------------------


def _parent_suggestions(task: Task) -> list[Task]:
    return list(
        db.session.scalars(
            select(Task)
            .where(
                Task.plan_id == task.plan_id,
                ~Task.path.startswith(task.path),
                Task.owner_selector.is_(None),
                Task.status.not_in(CLOSED_STATUSES),
            )
            .order_by(Task.path)
            .limit(PARENT_SUGGESTIONS)
        )
    )


def _move_page(task: Task, form, status=200, error=None):
    return render(
        "plans/task_move.html",
        status=status,
        task=task,
        form=form,
        error=error,
        suggestions=_parent_suggestions(task),
        ancestors=ancestors_of(task),
    )


@bp.app_template_global("may_move")
def may_move(task: Task) -> bool:
    """May the signed-in user drag this row of the plan tree (move the task)?"""
    return current_user.is_authenticated and manual.may_rearrange(current_user, task)


def _move_refused(task: Task, form, status: int, error=None):
    """A refused move: the move page with its status (403, 409, 422), or for a drop in the plan
    tree (HTMX) only the server's message, answered 200 with the status in the fragment: a refusal
    is an expected answer to a drop, and a 4xx would be an error in the browser's console."""
    if wants_fragment():
        messages = [str(error)] if error else [str(e) for e in form.parent.errors] or [_("The task was not moved.")]
        body = render_template("plans/_move_result.html", task=task, messages=messages, moved=False, status=status)
        return fragment_response(body)
    return _move_page(task, form, status, error)


@bp.route("/tasks/<int:task_id>/move", methods=["GET", "POST"])
@login_required
def task_move(task_id: int):
    """Put a task under another node: the "move under" form, and the plan tree's drag and drop
    (tracker/static/tree_dnd.js), which posts the same form with HTMX and shows the answer."""
    task = task_or_404(task_id)
    if not manual.may_rearrange(current_user, task):
        abort(403)
    if request.method == "GET":
        return _move_page(task, MoveTaskForm(formdata=None, version=task.version))
    form = MoveTaskForm()
    if not form.validate():
        return _move_refused(task, form, 422, _("The form is incomplete; reload the page and try again."))
    ref = (form.parent.data or "").strip()
    parent = None
    if ref:
        parent = db.session.scalar(select(Task).where(Task.plan_id == task.plan_id, Task.ref == ref))
        if parent is None:
            form.parent.errors = [_("No node numbered '%(ref)s' in this plan.", ref=ref)]
            return _move_refused(task, form, 422)
    try:
        moved = manual.move_task(current_user, task, parent, expected_version=form.version.data)
    except NotAllowed:
        db.session.rollback()
        form.parent.errors = [_("You may not move this task there.")]
        return _move_refused(task_or_404(task_id), form, 403)
    except StaleVersion:
        db.session.rollback()
        fresh = task_or_404(task_id)
        return _move_refused(fresh, MoveTaskForm(formdata=None, version=fresh.version), 409, _conflict())
    except manual.Problems as exc:
        db.session.rollback()
        return _move_refused(task_or_404(task_id), form, 422, _place(form, exc.problems))
    db.session.commit()
    message = _("Moved.") if moved else _("It is already there: nothing changed.")
    if wants_fragment():  # the tree reloads itself around the task's new place (the event)
        body = render_template("plans/_move_result.html", task=task, messages=[message], moved=True, status=200)
        response = fragment_response(body)
        response.headers["HX-Trigger"] = json.dumps(
            {"task-moved": {"id": task.id, "path": task.path, "moved": moved}}, ensure_ascii=True
        )
        return response
    flash(message, "success" if moved else "info")
    return redirect(url_for("plans.task_page", task_id=task.id), code=303)


def _conflict() -> str:
    return _("This task was changed by someone else meanwhile; here is its current state. Nothing was overwritten.")


def _delete_page(task: Task, status=200, error=None):
    count = db.session.scalar(
        select(func.count()).select_from(Task).where(Task.plan_id == task.plan_id, Task.path.like(f"{task.path}%"))
    )
    return render(
        "plans/task_delete.html",
        status=status,
        task=task,
        form=DeleteTaskForm(formdata=None, version=task.version),
        refusal=manual.deletion_refusal(task),
        under=(count or 1) - 1,
        can_cancel=task.status not in CLOSED_STATUSES,
        cancelled=CANCELLED,
        ancestors=ancestors_of(task),
        error=error,
    )


@bp.route("/tasks/<int:task_id>/delete", methods=["GET", "POST"])
@login_required
def task_delete(task_id: int):
    """删除: a task nothing was reported on; else the page offers to cancel it (撤销) instead."""
    task = task_or_404(task_id)
    if not manual.may_rearrange(current_user, task):
        abort(403)
    if request.method == "GET":
        return _delete_page(task)
    form = DeleteTaskForm()
    if not form.validate():
        return _delete_page(task, 422, _("The form is incomplete; reload the page and try again."))
    plan, parent_id = task.plan, task.parent_id
    try:
        gone = manual.delete_task(current_user, task, expected_version=form.version.data)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except StaleVersion:
        db.session.rollback()
        return _delete_page(task_or_404(task_id), 409, _conflict())
    except manual.CannotDelete as exc:
        db.session.rollback()
        return _delete_page(task_or_404(task_id), 422, str(exc))
    db.session.commit()
    flash(_("Deleted (%(n)d tasks).", n=gone), "success")
    if parent_id:
        return redirect(url_for("plans.task_page", task_id=parent_id), code=303)
    return redirect(url_for("plans.plan_detail", key=plan.key), code=303)


# --- 新建交办事项 ------------------------------------------------------------------------------------


@bp.route("/adhoc/new", methods=["GET", "POST"])
@login_required
def adhoc_new():
    """An ad-hoc item in two clicks from my work: the button brings this short form (into the
    page with HTMX, or as its own page), saving it makes the item."""
    _require_planner()
    if request.method == "GET":
        form = AdhocForm(formdata=None)
        form.owner.set_unit(current_user.unit)
        return render("plans/adhoc_new.html", block="adhoc_form", form=form, error=None)
    form = AdhocForm()

    def refused(error=None):
        return render("plans/adhoc_new.html", block="adhoc_form", status=422, form=form, error=error)

    if not form.validate():
        return refused()
    values, problems = _task_values(form)
    if problems:
        problems = {**manual.check_task_values(current_user, None, values), **problems}
        return refused(_place(form, problems))
    values.notes = manual.default_text(ADHOC_SOURCES[form.source.data])
    try:
        task = manual.create_adhoc_item(current_user, values)
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except manual.Problems as exc:
        db.session.rollback()
        return refused(_place(form, exc.problems))
    db.session.commit()
    flash(_("The ad-hoc item is given to %(unit)s.", unit=task.owner_unit.name), "success")
    target = url_for("plans.task_page", task_id=task.id)
    if wants_fragment():
        response = fragment_response("")
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)
