"""Plan pages: my work, plan list, the plan page (tree or filtered list), tree children."""

from flask import abort, request, url_for
from flask_login import current_user, login_required

from tracker.notifications.service import current_levels
from tracker.plans.blueprint import bp
from tracker.plans.list_routes import bulk_context, saved_filters_context
from tracker.plans.saved_filters import filter_query
from tracker.plans.forms import TaskFilterForm
from tracker.plans.list_filters import task_filter_form
from tracker.plans.manual import may_add_under, may_edit_plan, may_plan
from tracker.plans.queries import TaskFilters, filtered_tasks, my_work, paginate, tree_children
from tracker.plans.service import get_plan, plans_for
from tracker.extensions import db
from tracker.models import Task
from tracker.web import page_number, page_size, render


@bp.route("/")
@login_required
def my_work_page():
    # ?assigned=me: only the tasks naming me responsible; anything else: my unit's (the default)
    scope = "me" if request.args.get("assigned") == "me" else "unit"
    block = "work" if request.headers.get("HX-Target") == "my-work" else "content"
    next_url = url_for("plans.my_work_page", **({"assigned": "me"} if scope == "me" else {}))
    return render(
        "plans/my_work.html",
        block=block,
        work=my_work(current_user, scope=scope),
        may_give_adhoc=may_plan(current_user),
        bulk=bulk_context("work", next_url),
    )


@bp.route("/plans")
@login_required
def plan_list():
    from tracker.progress.pages import cached_page
    from tracker.timeutil import local_today

    # the counts of a user who sees everything are every task's: the same for all of them, and
    # their version is the progress summary's (tasks mark themselves, plans raise the content)
    return cached_page(
        "plans/list.html",
        ("plans",),
        local_today(),
        lambda: {"summaries": plans_for(current_user)},
        cacheable=current_user.sees_everything,
    )


@bp.route("/plans/<key>")
@login_required
def plan_detail(key: str):
    plan = get_plan(key)
    if plan is None:
        abort(404)
    form = TaskFilterForm(request.args, phases=plan.phases)
    valid = form.validate() if request.args else True
    filters = form.filters(plan.id) if valid else TaskFilters(plan_id=plan.id)
    context = {
        "plan": plan,
        "form": form,
        "filters": filters,
        "may_add_top": may_add_under(current_user, plan, None),
        "may_edit": may_edit_plan(current_user, plan),
        "may_drag": may_plan(current_user),  # the rows say which ones (tracker/static/tree_dnd.js)
    }
    if filters.active:
        context["page"] = paginate(filtered_tasks(current_user, filters), page_number(), page_size(), filters.sort)
    else:
        roots, counts, truncated = tree_children(plan, current_user, None)
        context.update(
            rows=roots, child_counts=counts, truncated=truncated, levels=current_levels([t.id for t in roots])
        )
    block = "results" if request.headers.get("HX-Target") == "results" else "content"
    return render("plans/plan.html", block=block, **context)


@bp.route("/plans/<key>/children/<int:task_id>")
@login_required
def tree_children_page(key: str, task_id: int):
    plan = get_plan(key)
    parent = db.session.get(Task, task_id)
    if plan is None or parent is None or parent.plan_id != plan.id:
        abort(404)
    rows, counts, truncated = tree_children(plan, current_user, task_id)
    if not rows:
        abort(404)
    return render(
        "plans/children.html",
        block="children",
        plan=plan,
        parent=parent,
        rows=rows,
        child_counts=counts,
        truncated=truncated,
        levels=current_levels([t.id for t in rows]),
    )


@bp.route("/tasks")
@login_required
def task_list():
    form, plan = task_filter_form(request.args, current_user)
    valid = form.validate() if request.args else True
    filters = form.filters(plan.id if plan else None, current_user) if valid else TaskFilters(sort=valid_sort(form))
    page = paginate(filtered_tasks(current_user, filters), page_number(), page_size(), filters.sort)
    block = "results" if request.headers.get("HX-Target") == "results" else "content"
    query = filter_query(request.args)
    next_url = url_for("plans.task_list") + (
        f"?{request.query_string.decode('utf-8', 'replace')}" if request.query_string else ""
    )
    return render(
        "plans/task_list.html",
        block=block,
        form=form,
        page=page,
        filters=filters,
        # a filter change (HTMX) answers the results: their errors come with them, and the
        # chosen plan's phases out of band (the filter form is on the page then)
        errors=[] if valid or block != "results" else filter_errors(form),
        phase_oob=block == "results",
        bulk=bulk_context("tasks", next_url),
        **saved_filters_context(query),
    )


def valid_sort(form) -> str:
    """The order of an invalid query: its own when that one is valid."""
    return (form.sort.data if not form.sort.errors else None) or "due"


def filter_errors(form) -> list[str]:
    return [f"{getattr(form, n).label.text}: {' '.join(map(str, e))}" for n, e in form.errors.items()]
