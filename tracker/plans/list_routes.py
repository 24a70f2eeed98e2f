"""Working in lists: bulk actions on a selection (the task list, the review queue of my work, a
cascade's children and the overdue list)
and the task list's saved filters.

A bulk action is one POST of the action bar (templates/plans/_bulk_bar.html) with the ticked
task ids: for HTMX it answers the bar in its new state, the result out of band (#bulk-result)
with the work counter, and a `bulk-done` event that makes the page reload its list; without
JavaScript it redirects (303) back to the list with the result as a flash message.
"""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from tracker.extensions import db
from tracker.plans import bulk
from tracker.plans.blueprint import bp
from tracker.plans.forms import BulkForm, SavedFilterForm
from tracker.plans.operations import NotAllowed
from tracker.plans.queries import open_work_count
from tracker.plans.saved_filters import (
    SavedFilterError,
    delete_filter,
    filter_query,
    list_arguments,
    save_filter,
    saved_filters_of,
)
from tracker.progress import exports
from tracker.supervision.service import SupervisionError, urge_tasks
from tracker.timeutil import local_today
from tracker.web import fragment_response, safe_next, wants_fragment

# the lists with an action bar, and what reloads after an action
SOURCES = {"tasks": "#results", "work": "#my-work", "cascade": "#cascade-children", "overdue": "#results"}
# where each list is when the bar's `next` is missing or not ours
HOMES = {
    "tasks": "plans.task_list",
    "work": "plans.my_work_page",
    "cascade": "plans.task_list",
    "overdue": "notifications.overdue",
}
URGING_SOURCES = ("cascade", "overdue")  # the lists whose bar offers 催办
MOVING_SOURCES = ("tasks", "cascade", "overdue")  # the lists whose bar moves due dates
# the lists whose bar reviews (the overdue list holds no submission: an overdue task is open)
REVIEWING_SOURCES = ("tasks", "work", "cascade")
REFUSALS_SHOWN = 10  # titles named per reason in the result


def bulk_context(source: str, next_url: str, form: BulkForm | None = None, errors: dict | None = None) -> dict:
    """What the action bar needs: its actions for this user and list, its form and errors."""
    writes = bulk.may_bulk_write(current_user)
    actions = []
    if writes:
        actions = [bulk.ACCEPT, bulk.RETURN] if source in REVIEWING_SOURCES else []
        actions += [bulk.MOVE_DUE] if source in MOVING_SOURCES else []
    if source in URGING_SOURCES and bulk.may_bulk_urge(current_user):
        actions.append(bulk.URGE)
    return {
        "source": source if source in SOURCES else "tasks",
        "next": next_url,
        "may_write": writes,
        "actions": actions,
        "form": form or BulkForm(formdata=None),
        "errors": errors or {},
        "max": bulk.MAX_SELECTION,
    }


def urge_result(ids: list[int], message: str) -> bulk.BulkResult:
    """催办 of the selection (tracker/supervision/service.py: the tasks the user may urge and has
    not urged today), as a bulk action's result: the urged, and the others with their reason."""
    urged = urge_tasks(ids, current_user, message)
    tasks = bulk.selected_tasks(current_user, ids)
    result = bulk.BulkResult(bulk.URGE)
    for task_id in ids:
        task = tasks.get(task_id)
        if task is None:
            result.outcomes.append(bulk.Outcome(task_id, False, reason=bulk.NOT_FOUND))
        elif task_id in urged.urged_ids:
            result.outcomes.append(bulk.Outcome(task_id, True, task.title))
        elif task_id in urged.found_ids:
            result.outcomes.append(bulk.Outcome(task_id, False, task.title, _("You already urged it today.")))
        else:
            result.outcomes.append(bulk.Outcome(task_id, False, task.title, _("Not yours to urge, or finished.")))
    return result


def _posted_ids() -> list[str]:
    """The ticked tasks, and every task of the page when "select all on this page" was ticked
    (so that it works without JavaScript too)."""
    values = request.form.getlist("task")
    if request.form.get("page_all"):
        values += request.form.getlist("page_task")
    return values


def result_lines(result: bulk.BulkResult) -> tuple[str, list[str]]:
    """The headline ("已通过 48 项") and one line per reason of the refused ("2 项未处理：…")."""
    n = len(result.done)
    headline = {
        bulk.ACCEPT: _("Accepted: %(n)d tasks", n=n),
        bulk.RETURN: _("Returned: %(n)d tasks", n=n),
        bulk.MOVE_DUE: _("New due date: %(n)d tasks", n=n),
        bulk.URGE: _("Urged: %(n)d tasks", n=n),
    }[result.action]
    refused = result.refused
    if not refused:
        return headline, []
    by_reason: dict[str, list[str]] = {}
    for outcome in refused:
        by_reason.setdefault(str(outcome.reason), []).append(outcome.title or _("(a task you cannot see)"))
    lines = []
    for reason, titles in by_reason.items():
        shown = "、".join(f"“{t}”" for t in titles[:REFUSALS_SHOWN])
        if len(titles) > REFUSALS_SHOWN:
            shown += _(" and %(n)d more", n=len(titles) - REFUSALS_SHOWN)
        lines.append(f"{reason} {shown}")
    not_handled = _("%(n)d not handled:", n=len(refused))
    return _("%(done)s; %(refused)s", done=headline, refused=not_handled), lines


def _bar_response(context: dict, status: int, result_html: str = "", done: bool = False):
    body = render_template("plans/_bulk_bar.html", bulk=context)
    if result_html:
        body += result_html
    if done:
        body += render_block("plans/_oob.html", "oob", rows=[], work_count=open_work_count(current_user))
    response = fragment_response(body, status)
    if done:
        response.headers["HX-Trigger"] = json.dumps({"bulk-done": {"refresh": SOURCES[context["source"]]}})
    return response


def _refuse(context: dict, back: str, errors: dict):
    """A refused bar (nothing written): errors next to their fields for HTMX; without JavaScript
    the list again, with the messages."""
    context["errors"] = errors
    if wants_fragment():
        return _bar_response(context, 422)
    flash(" ".join(str(e) for e in errors.values()), "danger")
    return redirect(back, code=303)


@bp.route("/tasks/bulk", methods=["POST"])
@login_required
def bulk_action():
    """通过 / 退回 / 调整截止日期 / 催办 on the ticked tasks; each task by its own rules."""
    form = BulkForm()
    source = form.source.data if form.source.data in SOURCES else "tasks"
    back = safe_next(form.next.data, url_for(HOMES[source]))
    context = bulk_context(source, back, form)
    if not context["actions"]:
        abort(403)  # a leader writes nothing but 催办, a reporter reviews nothing
    errors: dict = {}
    form.validate()
    for name in ("comment", "due_on"):
        if getattr(form, name).errors:
            errors[name] = " ".join(map(str, getattr(form, name).errors))
    action = form.action.data or ""
    if action not in context["actions"]:
        errors["selection"] = _("Choose one of the actions.")
    elif action == bulk.RETURN and not (form.comment.data or "").strip():
        errors["comment"] = _("A reason is required.")
    elif action == bulk.MOVE_DUE and form.due_on.data is None and "due_on" not in errors:
        errors["due_on"] = _("Choose the new due date.")
    try:
        ids = bulk.selection(_posted_ids())
    except bulk.SelectionError as exc:
        errors["selection"] = str(exc)
    if errors:
        return _refuse(context, back, errors)
    comment = form.comment.data or ""
    try:
        if action == bulk.URGE:
            result = urge_result(ids, comment)
        elif action == bulk.ACCEPT:
            result = bulk.accept_tasks(current_user, ids, comment)
        elif action == bulk.RETURN:
            result = bulk.return_tasks(current_user, ids, comment)
        else:
            result = bulk.move_due_dates(current_user, ids, form.due_on.data, comment)
        db.session.commit()
    except NotAllowed:
        db.session.rollback()
        abort(403)
    except (bulk.SelectionError, SupervisionError) as exc:
        db.session.rollback()
        return _refuse(context, back, {"comment": str(exc)})
    except IntegrityError:  # two 催办 of one task at the same moment: the unique key decided
        db.session.rollback()
        return _refuse(
            context,
            back,
            {"selection": _("Someone urged these tasks at the same moment; nothing was sent. Try again.")},
        )
    except StaleDataError:
        db.session.rollback()
        return _refuse(
            context,
            back,
            {
                "selection": _(
                    "Some of these tasks were changed by someone else meanwhile; nothing was changed. Try again."
                )
            },
        )
    headline, lines = result_lines(result)
    if not wants_fragment():
        flash(" ".join([headline] + lines), "success" if not lines else "warning")
        return redirect(back, code=303)
    result_html = render_template("plans/_bulk_result.html", headline=headline, lines=lines, done=bool(result.done))
    return _bar_response(bulk_context(source, back), 200, result_html, done=True)


@bp.route("/tasks/bulk/export", methods=["POST"])
@login_required
def bulk_export():
    """导出所选: the ticked tasks the user sees, as the task list's .xlsx (text cells escaped)."""
    source = request.form.get("source") if request.form.get("source") in SOURCES else "tasks"
    back = safe_next(request.form.get("next"), url_for(HOMES[source]))
    try:
        ids = bulk.selection(_posted_ids())
    except bulk.SelectionError as exc:
        flash(str(exc), "warning")
        return redirect(back, code=303)
    return exports.send_table(
        "xlsx",
        "tasks-selected",
        _("Tasks"),
        exports.task_columns(),
        lambda: exports.selected_task_rows(current_user, ids),
        preamble=[_("As of %(day)s", day=local_today().isoformat())],
    )


# --- saved filters ---------------------------------------------------------------------------------


SAVED_LISTS = {"tasks": "plans.task_list", "overdue": "notifications.overdue"}  # lists with saved filters


def _saved_list() -> str:
    name = request.form.get("list") or "tasks"
    return name if name in SAVED_LISTS else "tasks"


def _list_url(list_name: str, query: str) -> str:
    arguments = list_arguments(query)
    return url_for(SAVED_LISTS[list_name]) + (f"?{arguments}" if arguments else "")


def saved_filters_context(query: str, form: SavedFilterForm | None = None, list_name: str = "tasks") -> dict:
    """The saved filters component of a list: the user's filters of it and the form saving the
    current ones (`query`, as saved_filters.filter_query gives it)."""
    form = form or SavedFilterForm(formdata=None, query=list_arguments(query))
    saved = saved_filters_of(current_user, list_name)
    return {
        "saved": saved,
        "saved_arguments": {f.id: list_arguments(f.query) for f in saved},
        "save_form": form,
        "current_query": list_arguments(query),
        "saved_list": list_name,
        "saved_list_url": url_for(SAVED_LISTS[list_name]),
    }


def _saved_filters_response(query: str, form: SavedFilterForm | None = None, status: int = 200, list_name="tasks"):
    body = render_template("plans/_saved_filters.html", **saved_filters_context(query, form, list_name))
    return fragment_response(body, status)


@bp.route("/tasks/saved-filters", methods=["POST"])
@login_required
def save_saved_filter():
    """保存当前筛选: a list's current filters (the task list's, or the overdue list's with
    list=overdue) under a name of the user's choosing."""
    form = SavedFilterForm()
    list_name = _saved_list()
    query = filter_query_of(form.query.data or "", list_name)
    back = _list_url(list_name, query)
    if form.validate():
        try:
            saved = save_filter(current_user, form.name.data, query, list_name)
            db.session.commit()
        except SavedFilterError as exc:
            db.session.rollback()
            form.name.errors = list(form.name.errors) + [str(exc)]
        else:
            if not wants_fragment():
                flash(_("Filter “%(name)s” saved.", name=saved.name), "success")
                return redirect(back, code=303)
            return _saved_filters_response(query, list_name=list_name)
    if not wants_fragment():
        flash("; ".join(" ".join(map(str, e)) for e in form.errors.values()), "danger")
        return redirect(back, code=303)
    return _saved_filters_response(query, form, 422, list_name)


@bp.route("/tasks/saved-filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_saved_filter(filter_id: int):
    """Delete one of one's own saved filters (anyone else's does not exist for them: 404)."""
    if not delete_filter(current_user, filter_id):
        abort(404)
    db.session.commit()
    list_name = _saved_list()
    query = filter_query_of(request.form.get("query") or "", list_name)
    if not wants_fragment():
        flash(_("Saved filter deleted."), "success")
        return redirect(_list_url(list_name, query), code=303)
    return _saved_filters_response(query, list_name=list_name)


def filter_query_of(text: str, list_name: str = "tasks") -> str:
    """A posted query string reduced to the list's filter form's arguments."""
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    return filter_query(MultiDict(parse_qsl(text.lstrip("?"), keep_blank_values=True)), list_name)
