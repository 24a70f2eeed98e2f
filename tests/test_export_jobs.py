"""A large task-list export runs in the background: the page shows its progress, the scheduler's
pass writes the file (all rows, text never a formula), the owner alone downloads it, two
claimants never both run one, and the files are swept after a day."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tracker.exports import jobs
from tracker.extensions import db
from tracker.models import ExportJob, Notification
from tracker.models.exports import DONE, QUEUED, RUNNING
from tracker.plans.queries import TaskFilters
from tracker.tasks.exports import export_pass

PLAN = "export-jobs-plan"
ROWS = 7


@pytest.fixture
def low_threshold(app, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_BACKGROUND_ROWS", 5)
    yield 5


@pytest.fixture
def plan_tasks(make_task):
    """Seven tasks of a plan of their own, owned by P11-QC, one of them with a formula-like title
    and one without a due date."""
    day = date(2030, 1, 1)
    # two tasks share a due date: the keyset goes on by id
    tasks = [
        make_task("P11-QC", plan_key=PLAN, title=f"导出任务{i}", due_on=day + timedelta(days=i // 2))
        for i in range(ROWS - 2)
    ]
    tasks.append(make_task("P11-QC", plan_key=PLAN, title='=HYPERLINK("http://x")', deliverable="+1", due_on=day))
    tasks.append(make_task("P11-QC", plan_key=PLAN, title="无期限任务", due_on=None))
    return tasks


def _plan_key_args():
    return {"plan": PLAN}


def _start(client, fmt="csv"):
    return client.get(f"/tasks/export.{fmt}", query_string=_plan_key_args())


def _job() -> ExportJob:
    return db.session.scalars(select(ExportJob).order_by(ExportJob.id.desc())).first()


def test_a_large_export_starts_a_job_and_shows_its_progress(client, auth, make_user, low_threshold, plan_tasks):
    owner = auth.login(make_user("coordinator", "P11-QC"))
    response = _start(client)
    assert response.status_code == 303
    job = _job()
    assert response.headers["Location"].endswith(f"/exports/{job.id}")
    assert (job.user_id, job.state, job.format, job.kind) == (owner.id, QUEUED, "csv", "tasks")
    assert job.expires_at - job.created_at == timedelta(days=1)

    page = client.get(f"/exports/{job.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'hx-trigger="every 2s"' in html and "X-Passive" in html
    assert "0 / …" in html and "export-download" not in html

    # asking again while it waits starts no second job
    assert _start(client).headers["Location"].endswith(f"/exports/{job.id}")
    assert db.session.scalar(select(func.count(ExportJob.id))) == 1


def test_the_progress_fragment_alone_for_htmx(client, auth, make_user, low_threshold, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    _start(client)
    job = _job()
    fragment = client.get(f"/exports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="export-progress"')
    assert "<html" not in fragment


def test_running_the_pending_jobs_writes_every_row_escaped(client, auth, make_user, low_threshold, plan_tasks):
    owner = auth.login(make_user("coordinator", "P11-QC"))
    _start(client)
    job = _job()
    assert export_pass() == [(job.id, DONE)]
    db.session.refresh(job)
    assert (job.state, job.rows_written, job.rows_total) == (DONE, ROWS, ROWS)

    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert "every 2s" not in html  # finished: the polling stops
    assert f"{ROWS} / {ROWS}" in html and f"/exports/{job.id}/download" in html

    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    text = download.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 1 + ROWS
    titles = [r[2] for r in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in titles  # a formula-like title is quoted
    assert "'+1" in [r[8] for r in rows[1:]]
    assert titles[-1] == "无期限任务"  # no due date: last, as in the task list

    notice = db.session.scalar(select(Notification).where(Notification.export_job_id == job.id))
    assert notice is not None and notice.user_id == owner.id and notice.kind == "export_ready"
    inbox = client.get("/notifications").get_data(as_text=True)
    assert f"/exports/{job.id}" in inbox


def test_an_xlsx_export_keeps_text_as_text(client, auth, make_user, low_threshold, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    _start(client, "xlsx")
    job = _job()
    export_pass()
    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(download.get_data())).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value == '=HYPERLINK("http://x")']
    assert cells and all(c.data_type == "s" for c in cells)
    assert sheet.max_row == 2 + ROWS  # the "as of" line, the header, the rows


def test_another_user_gets_404(client, auth, make_user, low_threshold, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    _start(client)
    job = _job()
    export_pass()
    for role, unit in (("coordinator", "P11-QC"), ("admin", "NHC"), ("leader", "NHC")):
        auth.login(make_user(role, unit))
        assert client.get(f"/exports/{job.id}").status_code == 404
        assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_a_small_export_still_streams(client, auth, make_user, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    response = _start(client)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0


def test_two_claims_never_both_run_a_job(app, make_user):
    user = make_user("coordinator", "P11-QC")
    job = jobs.start_export(user, "tasks", "csv", jobs.filters_to_args(TaskFilters()))
    db.session.commit()
    assert jobs.claim(job.id, "a" * 32) is True
    assert jobs.claim(job.id, "b" * 32) is False
    assert jobs.claim_next() is None
    # the loser cannot write progress either; the winner can
    assert jobs.run_export(job.id, "b" * 32) == "lost"
    db.session.refresh(job)
    assert (job.state, job.claim) == (RUNNING, "a" * 32)


def test_a_run_whose_process_died_is_taken_over_after_the_lease(app, make_user):
    user = make_user("coordinator", "P11-QC")
    job = jobs.start_export(user, "tasks", "csv", jobs.filters_to_args(TaskFilters(plan_id=None)))
    db.session.commit()
    assert jobs.claim(job.id, "a" * 32)
    later = job.claimed_at + timedelta(seconds=app.config["EXPORT_LEASE_SECONDS"] + 1)
    claimed = jobs.claim_next(later)
    assert claimed is not None and claimed[0] == job.id and claimed[1] != "a" * 32


def test_expired_files_are_swept(client, auth, make_user, low_threshold, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    _start(client)
    job = _job()
    export_pass()
    db.session.refresh(job)
    store = jobs.export_storage()
    name = job.stored_name
    assert store.size(name) > 0
    assert jobs.sweep_expired(job.created_at + timedelta(hours=23)) == 0
    assert export_pass(job.expires_at + timedelta(seconds=1)) == []
    assert store.size(name) is None
    assert db.session.get(ExportJob, job.id) is None
    assert db.session.scalar(select(Notification).where(Notification.export_job_id == job.id)) is None
    assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_filters_survive_the_trip_through_json():
    filters = TaskFilters(plan_id=3, status="submitted", overdue=True, due_from=date(2024, 1, 2), q="质控")
    assert jobs.filters_from_args(jobs.filters_to_args(filters)) == filters


def test_the_command_runs_the_pending_exports(runner, client, auth, make_user, low_threshold, plan_tasks):
    auth.login(make_user("coordinator", "P11-QC"))
    _start(client)
    job = _job()
    result = runner.invoke(args=["exports", "run-pending"])
    assert result.exit_code == 0, result.output
    assert f"export {job.id}: done" in result.output


def test_keyset_batches_give_every_row_once(app, make_user, plan_tasks):
    from tracker.progress import exports

    user = make_user("admin", "NHC")
    plan_id = plan_tasks[0].plan_id
    batches = list(exports.task_row_batches(user, TaskFilters(plan_id=plan_id), size=2))
    assert [len(b) for b in batches] == [2, 2, 2, 1]
    rows = [r for b in batches for r in b]
    assert sorted(r[2] for r in rows) == sorted(t.title for t in plan_tasks)
    assert [r[4] for r in rows] == sorted(t.due_on for t in plan_tasks if t.due_on) + [None]


def test_the_scheduler_runs_the_exports_every_few_seconds(tmp_path, app):
    from tracker.tasks.scheduler import EXPORTS_JOB, EXPORTS_JOB_ID, build_scheduler

    scheduler = build_scheduler(f"sqlite:///{tmp_path / 'jobs.db'}", hour=6)
    job = next(j for j in scheduler.get_jobs() if j.id == EXPORTS_JOB_ID)
    assert job.func_ref == EXPORTS_JOB and job.trigger.interval == timedelta(seconds=5)
    assert job.max_instances == 2  # two exports side by side, each claimed by one run


# -- the audit log's export (issue 21): the same machinery, xlsx, in the owner's scope -----------

AUDIT_T0 = datetime(2021, 5, 10, 4, 0, tzinfo=timezone.utc)
AUDIT_DAYS = {"day_from": "2021-05-10", "day_to": "2021-05-20"}  # the seed loader's journal is of today


@pytest.fixture
def audit_low_threshold(app, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_EXPORT_BACKGROUND_ROWS", 3)
    yield 3


@pytest.fixture
def audit_entries(make_user, make_task):
    """Five journal entries about a P11-QC task (one a formula-like note), one about an account
    of P11-QC, and three about a P31-QC task, on 10 May 2021."""
    from tracker.audit import journal as audit
    from tracker.models import JournalEntry

    author = make_user("coordinator", "NHC", username="audit-export-author")
    own, far = make_task("P11-QC", title="导出审计甲"), make_task("P31-QC", title="导出审计乙")
    notes = ['=HYPERLINK("http://x")'] + [f"本省意见{n}" for n in range(4)]
    for n, note in enumerate(notes):
        db.session.add(
            JournalEntry(task=own, user=author, action="comment", comment=note, at=AUDIT_T0 + timedelta(minutes=n))
        )
    for n in range(3):
        db.session.add(
            JournalEntry(
                task=far, user=author, action="comment", comment=f"外省意见{n}", at=AUDIT_T0 + timedelta(minutes=10 + n)
            )
        )
    clerk = make_user("reporter", "P11-QC", username="audit-export-clerk")
    entry = audit.record_user(author, clerk, "edit", "phone", "1", "2", comment="本省账号")
    entry.at = AUDIT_T0 + timedelta(minutes=20)
    db.session.commit()
    return {"own": 6, "all": 9}


def _audit_sheet(data: bytes):
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows.index(next(r for r in rows if r[0] == "时间"))
    return sheet, rows[header + 1 :]


def test_a_large_audit_export_runs_in_the_background_in_the_owners_scope(
    client, auth, make_user, audit_low_threshold, audit_entries
):
    owner = auth.login(make_user("coordinator", "P11"))
    response = client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS)
    assert response.status_code == 303
    job = _job()
    assert response.headers["Location"].endswith(f"/exports/{job.id}")
    assert (job.user_id, job.kind, job.format, job.state) == (owner.id, "audit", "xlsx", QUEUED)
    assert job.expires_at - job.created_at == timedelta(days=1)
    assert "scope" not in job.args  # the scope is the owner's, taken when the job runs

    page = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert '<h1 class="h4">操作日志导出</h1>' in page
    assert 'hx-trigger="every 2s"' in page and "0 / …" in page and 'href="/admin/audit"' in page
    fragment = client.get(f"/exports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="export-progress"') and "<html" not in fragment
    # asking again while it waits starts no second job
    assert (
        client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS).headers["Location"]
        == (response.headers["Location"])
    )

    assert export_pass() == [(job.id, DONE)]
    db.session.refresh(job)
    own = audit_entries["own"]
    assert (job.rows_written, job.rows_total) == (own, own)
    html = client.get(f"/exports/{job.id}").get_data(as_text=True)
    assert "every 2s" not in html and f"{own} / {own}" in html and f"/exports/{job.id}/download" in html

    download = client.get(f"/exports/{job.id}/download")
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")
    sheet, data = _audit_sheet(download.get_data())
    assert len(data) == own
    notes = {r[9] for r in data}
    assert "本省账号" in notes and '=HYPERLINK("http://x")' in notes
    assert not any(str(n).startswith("外省") for n in notes)  # never another province's
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    notice = db.session.scalar(select(Notification).where(Notification.export_job_id == job.id))
    assert notice is not None and notice.user_id == owner.id


def test_nobody_else_sees_or_downloads_an_audit_export(client, auth, make_user, audit_low_threshold, audit_entries):
    auth.login(make_user("admin", "NHC"))
    client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS)
    job = _job()
    export_pass()
    for role, unit in (("admin", "NHC"), ("leader", "NHC"), ("coordinator", "NHC"), ("reporter", "P11-QC")):
        auth.login(make_user(role, unit))
        assert client.get(f"/exports/{job.id}").status_code == 404
        assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_an_admins_audit_export_holds_everything_up_to_the_cap(
    client, auth, app, make_user, monkeypatch, audit_low_threshold, audit_entries
):
    auth.login(make_user("admin", "NHC"))
    client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS)
    job = _job()
    monkeypatch.setitem(app.config, "AUDIT_EXPORT_MAX_ROWS", 7)
    export_pass()
    db.session.refresh(job)
    assert (job.state, job.rows_written, job.rows_total) == (DONE, 7, 7)
    _sheet, data = _audit_sheet(client.get(f"/exports/{job.id}/download").get_data())
    assert len(data) == 7 and data[0][9] == "本省账号"  # newest first


def test_a_small_audit_export_still_streams(client, auth, make_user, audit_entries):
    auth.login(make_user("coordinator", "P11"))
    response = client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS)
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    assert db.session.scalar(select(func.count(ExportJob.id))) == 0
    assert len(_audit_sheet(response.get_data())[1]) == audit_entries["own"]


def test_an_owner_who_may_no_longer_read_the_log_gets_no_file(
    client, auth, make_user, audit_low_threshold, audit_entries
):
    owner = auth.login(make_user("coordinator", "P11"))
    client.get("/admin/audit/export.xlsx", query_string=AUDIT_DAYS)
    job = _job()
    owner.role = "reporter"
    db.session.commit()
    assert export_pass() == [(job.id, "failed")]
    db.session.refresh(job)
    assert job.stored_name is None and "audit log" in job.error
    assert client.get(f"/exports/{job.id}/download").status_code == 404


def test_an_audit_export_is_xlsx_only(app, make_user):
    with pytest.raises(ValueError):
        jobs.start_export(make_user("admin", "NHC"), "audit", "csv", {})
