"""The tables behind the progress exports (headers in Chinese through Babel)."""

from __future__ import annotations

from typing import Iterator

from flask_babel import gettext as _
from sqlalchemy import func, select, tuple_

from tracker.extensions import db
from tracker.models import OrgUnit, Plan, Task, User
from tracker.plans.queries import TaskFilters, filtered_tasks
from tracker.plans.status import LABELS
from tracker.progress.export import ExportColumn, send_table  # noqa: F401  (re-exported)
from tracker.progress.service import Matrix


def _figure_headers() -> list[ExportColumn]:
    return [
        ExportColumn(_("Work items"), 10, "0"),
        ExportColumn(_("Done"), 10, "0"),
        ExportColumn(_("On time"), 10, "0"),
        ExportColumn(_("Late"), 10, "0"),
        ExportColumn(_("Overdue"), 10, "0"),
        ExportColumn(_("Completion") + " (%)", 12, "0.0"),
        ExportColumn(_("On-time rate") + " (%)", 12, "0.0"),
    ]


def _figure_values(f) -> list:
    return [f.items, f.done, f.on_time, f.late, f.overdue, f.completion, f.on_time_rate]


def matrix_table(m: Matrix) -> tuple[list[ExportColumn], list[list]]:
    """One row per (unit, column), then the unit's total: long format, easy to pivot."""
    column_header = _("Phase") if m.by == "phases" else _("Section")
    columns = [ExportColumn(_("Unit"), 30), ExportColumn(column_header, 36)] + _figure_headers()
    rows = []
    units = [(u.id, u.name) for u in m.rows] + ([(None, m.unit.name + _(" (own tasks)"))] if m.own_row else [])
    for unit_id, name in units:
        for column in m.columns:
            figures = m.cells.get((unit_id, column.key))
            if figures is not None:
                label = f"{column.ref} {column.label}".strip() if column.key is not None else _("No phase")
                rows.append([name, label] + _figure_values(figures))
        rows.append([name, _("Total")] + _figure_values(m.row_totals[unit_id]))
    rows.append([m.unit.name, _("Total")] + _figure_values(m.total))
    return columns, rows


def phase_table(summaries) -> tuple[list[ExportColumn], list[list]]:
    columns = [
        ExportColumn(_("Phase"), 20),
        ExportColumn(_("Start"), 12, "yyyy-mm-dd"),
        ExportColumn(_("End"), 12, "yyyy-mm-dd"),
    ] + _figure_headers()
    rows = [[s.phase.name, s.phase.start_on, s.phase.end_on] + _figure_values(s.figures) for s in summaries]
    return columns, rows


def ranking_table(ranked) -> tuple[list[ExportColumn], list[list]]:
    columns = (
        [ExportColumn(_("Rank"), 6, "0"), ExportColumn(_("Unit"), 30)]
        + _figure_headers()
        + [
            ExportColumn(_("Days overdue"), 12, "0"),
            ExportColumn(_("Signed for") + " (%)", 10, "0.0"),
            ExportColumn(_("Median time to sign") + " (h)", 12, "0.0"),
        ]
    )
    rows = [
        [i, r.unit.name]
        + _figure_values(r.figures)
        + [
            r.figures.overdue_days,
            round(r.sign_for.rate, 1) if r.sign_for.rate is not None else None,
            round(r.sign_for.median_hours, 1) if r.sign_for.median_hours is not None else None,
        ]
        for i, r in enumerate(ranked, start=1)
    ]
    return columns, rows


def task_columns() -> list[ExportColumn]:
    """The task list's columns (built per request: the headers follow the locale)."""
    return [
        ExportColumn(_("Plan"), 30),
        ExportColumn(_("Ref"), 14),
        ExportColumn(_("Title"), 50),
        ExportColumn(_("Owner unit"), 26),
        ExportColumn(_("Due"), 12, "yyyy-mm-dd"),
        ExportColumn(_("Status"), 10),
        ExportColumn(_("Progress") + " (%)", 10, "0.0"),
        ExportColumn(_("Completed on"), 12, "yyyy-mm-dd"),
        ExportColumn(_("Deliverable"), 30),
    ]


def _task_row_columns():
    return (
        Plan.title,
        Task.ref,
        Task.title,
        OrgUnit.name,
        Task.due_on,
        Task.status,
        Task.progress,
        Task.completed_on,
        Task.deliverable,
    )


def _task_row(values) -> list:
    plan, ref, title, owner, due, status, progress, completed, deliverable = values[:9]
    return [
        plan,
        ref.split("@")[0],
        title,
        owner or "",
        due,
        str(LABELS.get(status, status)),
        round(progress or 0, 1),
        completed,
        deliverable,
    ]


def task_rows(user: User, filters: TaskFilters) -> Iterator[list]:
    """The filtered task list, streamed from a server-side cursor in batches."""
    ids = filtered_tasks(user, filters).with_only_columns(Task.id).subquery()
    query = (
        select(*_task_row_columns())
        .join(ids, ids.c.id == Task.id)
        .join(Plan, Plan.id == Task.plan_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .order_by(Task.plan_id, Task.due_on.is_(None), Task.due_on, Task.id)
        .execution_options(yield_per=2000)
    )
    for values in db.session.execute(query):
        yield _task_row(values)


def selected_task_rows(user: User, task_ids: list[int]) -> list[list]:
    """The rows of a selection of tasks (导出所选; at most a bulk selection's 200): those of them
    `user` sees, in the task list's order (due date first), in one statement."""
    if not task_ids:
        return []
    query = (
        filtered_tasks(user, TaskFilters())
        .with_only_columns(*_task_row_columns())
        .select_from(Task)
        .join(Plan, Plan.id == Task.plan_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .where(Task.id.in_(list(task_ids)))
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
    )
    return [_task_row(values) for values in db.session.execute(query)]


def task_count(user: User, filters: TaskFilters) -> int:
    """How many rows task_rows gives (the background export's total; one count)."""
    query = filtered_tasks(user, filters).with_only_columns(func.count(Task.id)).order_by(None)
    return db.session.scalar(query) or 0


def task_row_batches(user: User, filters: TaskFilters, size: int = 5000) -> Iterator[list[list]]:
    """The rows of task_rows in batches of `size`, each batch its own short statement (keyset:
    due date first, none last, then id, the order ix_tasks_due_on_id serves), so the caller may
    commit between batches (a server-side cursor does not outlive a commit). The order is the
    task list's ("due date first"), not the direct export's plan-first order, which no index
    serves: a keyset over it would sort all remaining rows for every batch."""
    base = (
        filtered_tasks(user, filters)
        .with_only_columns(*_task_row_columns(), Task.id)
        .select_from(Task)
        .join(Plan, Plan.id == Task.plan_id)
        .outerjoin(OrgUnit, OrgUnit.id == Task.owner_unit_id)
        .order_by(None)
    )
    dated = base.where(Task.due_on.is_not(None)).order_by(Task.due_on, Task.id)
    undated = base.where(Task.due_on.is_(None)).order_by(Task.id)
    last = None
    while True:  # tasks with a due date, by (due_on, id)
        query = dated if last is None else dated.where(tuple_(Task.due_on, Task.id) > tuple_(*last))
        rows = db.session.execute(query.limit(size)).all()
        if not rows:
            break
        last = (rows[-1][4], rows[-1][-1])
        yield [_task_row(r) for r in rows]
        if len(rows) < size:
            break
    last_id = None
    while True:  # then those without one, by id
        query = undated if last_id is None else undated.where(Task.id > last_id)
        rows = db.session.execute(query.limit(size)).all()
        if not rows:
            break
        last_id = rows[-1][-1]
        yield [_task_row(r) for r in rows]
        if len(rows) < size:
            break
