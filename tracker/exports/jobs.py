"""Large exports as jobs: asked for in a web request, written by the scheduler process.

A task-list export of more than EXPORT_BACKGROUND_ROWS rows (default 50,000; a million rows take
about two minutes) would hold a web worker far beyond any sane gunicorn timeout; so would an
audit-log export of more than AUDIT_EXPORT_BACKGROUND_ROWS (default 5,000; at most
AUDIT_EXPORT_MAX_ROWS). Each kind of export (`ExportKind`: its formats, count, rows in batches,
columns, sheet title and preamble) goes through the same machinery:

- `start_export` (the web request) records an ExportJob (`queued`) with the filters as plain
  data and the user's language;
- `claim_next` (the scheduler's exports job, or `flask exports run-pending`) takes one queued job
  with a conditional UPDATE (`WHERE id = :id AND state = 'queued'`): of two schedulers or
  commands only one gets the row, the other's UPDATE changes nothing. A running job whose
  claim was not renewed for EXPORT_LEASE_SECONDS (its process died) may be claimed again;
- `run_export` counts the rows, writes the file in batches (openpyxl write-only / the csv
  module, the same columns and formula escaping as the direct export), and after every batch
  records `rows_written` and renews its claim in a short transaction of its own; a run whose
  claim was taken over stops. The file goes into the store (tracker/storage.py: a folder, or
  the object store all machines share), then the job is `done` and its owner gets a notice;
- `sweep_expired` deletes the files and rows a day after they were asked for.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update

from tracker.extensions import db
from tracker.models import ExportJob, Notification, User
from tracker.models.exports import AUDIT, DONE, FAILED, FORMATS, QUEUED, RUNNING, TASKS
from tracker.models.notify import EXPORT_READY
from tracker.pagination import bounded_count
from tracker.plans.queries import TaskFilters, filtered_tasks
from tracker.progress import exports
from tracker.progress.export import csv_lines, xlsx_file
from tracker.storage import LocalStorage, S3Storage, Storage, StorageError, s3_client
from tracker.timeutil import local_today

log = logging.getLogger(__name__)

KEEP_FOR = timedelta(days=1)
BATCH_ROWS = 5000


@dataclass(frozen=True)
class ExportKind:
    """What the machinery needs of one kind of export; `args` are a job's filters as plain data,
    read again (in the owner's scope as it is then) when the job runs."""

    name: str
    formats: tuple[str, ...]
    threshold: Callable[[], int]  # more rows than this: written in the background
    count: Callable[[User, dict], int]  # the rows the file will hold
    batches: Callable[[User, dict, int], Iterator[list[list]]]  # its rows, batch by batch
    columns: Callable[[], list]
    title: Callable[[], str]
    preamble: Callable[[dict], list[str]]


def _task_kind() -> ExportKind:
    return ExportKind(
        TASKS,
        FORMATS,
        lambda: int(current_app.config.get("EXPORT_BACKGROUND_ROWS", 50_000)),
        lambda user, args: exports.task_count(user, filters_from_args(args)),
        lambda user, args, size: exports.task_row_batches(user, filters_from_args(args), size),
        exports.task_columns,
        lambda: _("Tasks"),
        lambda args: [_("As of %(day)s", day=local_today().isoformat())],
    )


def _audit_kind() -> ExportKind:
    from tracker.audit import export as audit_export

    return ExportKind(
        AUDIT,
        ("xlsx",),
        audit_export.background_threshold,
        audit_export.job_count,
        audit_export.job_batches,
        audit_export.audit_columns,
        audit_export.audit_title,
        lambda args: audit_export.audit_preamble(),
    )


def export_kind(name: str) -> Optional[ExportKind]:
    return {TASKS: _task_kind, AUDIT: _audit_kind}.get(name, lambda: None)()


def background_threshold(kind: str = TASKS) -> int:
    found = export_kind(kind)
    return found.threshold() if found is not None else 0


def lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("EXPORT_LEASE_SECONDS", 900)))


def export_storage() -> Storage:
    """Where the files wait for their owner: the evidence store's backend, in a place of its own
    (UPLOAD_DIR/exports, or the prefix "exports/" in the bucket), so `flask evidence check`
    never takes them for orphaned evidence."""
    found = current_app.extensions.get("export_storage")
    if found is None:
        config = current_app.config
        if config.get("STORAGE_BACKEND") == "s3":
            found = S3Storage(
                s3_client(config),
                config["S3_BUCKET"],
                config.get("S3_PREFIX", "") + "exports/",
                int(config.get("S3_PRESIGNED_SECONDS") or 0),
            )
        else:
            found = LocalStorage(Path(config["UPLOAD_DIR"]) / "exports")
        current_app.extensions["export_storage"] = found
    return found


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# -- filters as plain data -------------------------------------------------------------------


def filters_to_args(filters: TaskFilters) -> dict:
    data = asdict(filters)
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()}


def filters_from_args(args: dict) -> TaskFilters:
    values = dict(args)
    for key in ("due_from", "due_to"):
        if values.get(key):
            values[key] = date.fromisoformat(values[key])
    known = TaskFilters.__dataclass_fields__
    return TaskFilters(**{k: v for k, v in values.items() if k in known})


# -- asking -----------------------------------------------------------------------------------


def start_export(user: User, kind: str, fmt: str, args: dict, locale: str = "zh", now: Optional[datetime] = None):
    """Record a queued export of `kind` for `user` (flushed; the caller commits)."""
    found = export_kind(kind)
    if found is None or fmt not in found.formats:
        raise ValueError(f"no background export {kind}.{fmt}")
    now = now or _utcnow()
    job = ExportJob(
        user_id=user.id,
        kind=kind,
        format=fmt,
        args=args,
        locale=locale,
        state=QUEUED,
        created_at=now,
        expires_at=now + KEEP_FOR,
    )
    db.session.add(job)
    db.session.flush()
    return job


def open_job_like(user: User, kind: str, fmt: str, args: dict) -> Optional[ExportJob]:
    """The user's export of the same list still queued or running (asking twice, or reloading,
    starts no second job)."""
    candidates = db.session.scalars(
        select(ExportJob)
        .where(ExportJob.user_id == user.id, ExportJob.state.in_((QUEUED, RUNNING)), ExportJob.kind == kind)
        .order_by(ExportJob.id.desc())
        .limit(20)
    ).all()
    return next((job for job in candidates if job.format == fmt and job.args == args), None)


def background_export_for(user: User, fmt: str, filters: TaskFilters, locale: str = "zh") -> Optional[ExportJob]:
    """The job making this task-list export when it has more than EXPORT_BACKGROUND_ROWS rows
    (counted with a bounded query: at most the threshold + 1 rows are read); None when the
    export is small enough to stream straight away."""
    threshold = background_threshold(TASKS)
    _count, capped = bounded_count(filtered_tasks(user, filters), cap=threshold)
    if not capped:
        return None
    return background_job(user, TASKS, fmt, filters_to_args(filters), locale)


def background_job(user: User, kind: str, fmt: str, args: dict, locale: str = "zh") -> ExportJob:
    """The user's job making this export: the one already queued or running, else a new one."""
    return open_job_like(user, kind, fmt, args) or start_export(user, kind, fmt, args, locale)


def job_for(user: User, job_id: int) -> Optional[ExportJob]:
    """The export, if `user` asked for it (nobody else may see or download it)."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.user_id != user.id:
        return None
    return job


# -- claiming ----------------------------------------------------------------------------------


def claim(job_id: int, token: str, now: Optional[datetime] = None) -> bool:
    """Take one job for this process: True for exactly one of several claimants."""
    now = now or _utcnow()
    result = db.session.execute(
        update(ExportJob)
        .where(
            ExportJob.id == job_id,
            or_(
                ExportJob.state == QUEUED,
                (ExportJob.state == RUNNING) & (ExportJob.claimed_at < now - lease()),
            ),
        )
        .values(state=RUNNING, claim=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def claim_next(now: Optional[datetime] = None) -> Optional[tuple[int, str]]:
    """The oldest claimable job, claimed: (id, claim token), or None."""
    now = now or _utcnow()
    candidates = db.session.scalars(
        select(ExportJob.id)
        .where(
            or_(
                ExportJob.state == QUEUED,
                (ExportJob.state == RUNNING) & (ExportJob.claimed_at < now - lease()),
            )
        )
        .order_by(ExportJob.created_at, ExportJob.id)
        .limit(5)
    ).all()
    db.session.commit()
    for job_id in candidates:
        token = secrets.token_hex(16)
        if claim(job_id, token, now):
            return job_id, token
    return None


def _renew(job_id: int, token: str, **values) -> bool:
    """Record progress and renew the claim (its own short transaction); False: claim lost."""
    result = db.session.execute(
        update(ExportJob)
        .where(ExportJob.id == job_id, ExportJob.claim == token)
        .values(claimed_at=_utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


class ClaimLost(Exception):
    """Another process took the job over (this one was thought dead)."""


# -- writing -----------------------------------------------------------------------------------


def _counted(batches: Iterable[list[list]], on_batch: Callable[[int], None]) -> Iterator[list]:
    written = 0
    for batch in batches:
        yield from batch
        written += len(batch)
        on_batch(written)


def _write(kind: ExportKind, job: ExportJob, user: User, path: Path, on_batch: Callable[[int], None]) -> None:
    columns = kind.columns()
    rows = _counted(kind.batches(user, job.args, BATCH_ROWS), on_batch)
    if job.format == "csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            for line in csv_lines(columns, rows):
                handle.write(line)
        return
    with xlsx_file(kind.title(), columns, rows, kind.preamble(job.args)) as source, open(path, "wb") as target:
        shutil.copyfileobj(source, target)


def run_export(job_id: int, token: str) -> str:
    """Write a claimed job's file; its final state ('done', 'failed', or 'lost')."""
    job = db.session.get(ExportJob, job_id)
    if job is None or job.claim != token:
        return "lost"
    user = db.session.get(User, job.user_id)
    stored_name = f"export-{secrets.token_hex(16)}.{job.format}"
    handle, temp_name = tempfile.mkstemp(prefix="export-", suffix=f".{job.format}")
    os.close(handle)
    temp = Path(temp_name)
    try:
        kind = export_kind(job.kind)
        if kind is None:
            raise PermissionError(f"no export of kind {job.kind}")
        with force_locale(job.locale):
            total = kind.count(user, job.args)
            if not _renew(job_id, token, rows_total=total, rows_written=0):
                raise ClaimLost()

            written = [0]

            def on_batch(count: int) -> None:
                written[0] = count
                if not _renew(job_id, token, rows_written=count):
                    raise ClaimLost()

            _write(kind, job, user, temp, on_batch)
        size = temp.stat().st_size
        export_storage().put_file(stored_name, temp)
        finished = _utcnow()
        # the rows written are the total (tasks may have come or gone since the count)
        if not _renew(
            job_id,
            token,
            state=DONE,
            stored_name=stored_name,
            size=size,
            finished_at=finished,
            rows_written=written[0],
            rows_total=written[0],
        ):
            export_storage().delete(stored_name)
            return "lost"
        notify_owner(job_id)
        db.session.commit()
        return DONE
    except ClaimLost:
        db.session.rollback()
        log.warning("export %s: taken over by another process, this run stops", job_id)
        return "lost"
    except (StorageError, OSError, PermissionError) as exc:
        # PermissionError: the owner may no longer have it (an audit log's reader no more)
        db.session.rollback()
        log.error("export %s failed: %s", job_id, exc)
        _renew(job_id, token, state=FAILED, error=str(exc)[:2000], finished_at=_utcnow())
        notify_owner(job_id)
        db.session.commit()
        return FAILED
    finally:
        temp.unlink(missing_ok=True)


def notify_owner(job_id: int) -> None:
    """One inbox notice per export (done or failed); never mailed."""
    job = db.session.get(ExportJob, job_id)
    exists = db.session.scalar(select(Notification.id).where(Notification.export_job_id == job_id))
    if job is None or exists is not None:
        return
    db.session.add(
        Notification(user_id=job.user_id, kind=EXPORT_READY, export_job_id=job_id, level=job.state, item_count=1)
    )
    db.session.flush()


def run_pending(limit: int = 10, now: Optional[datetime] = None) -> list[tuple[int, str]]:
    """Claim and run queued exports, one after another (at most `limit`): [(id, outcome)]."""
    done = []
    for _i in range(limit):
        claimed = claim_next(now)
        if claimed is None:
            break
        done.append((claimed[0], run_export(*claimed)))
    return done


# -- sweeping ----------------------------------------------------------------------------------


def sweep_expired(now: Optional[datetime] = None) -> int:
    """Delete the exports (files, rows and notices) asked for more than a day ago."""
    now = now or _utcnow()
    expired = db.session.execute(
        select(ExportJob.id, ExportJob.stored_name).where(ExportJob.expires_at <= now).limit(500)
    ).all()
    for _id, stored_name in expired:
        if stored_name:
            try:
                export_storage().delete(stored_name)
            except (StorageError, FileNotFoundError) as exc:
                log.warning("export file %s not deleted (the next sweep retries): %s", stored_name, exc)
                continue
        db.session.execute(delete(Notification).where(Notification.export_job_id == _id))
        db.session.execute(delete(ExportJob).where(ExportJob.id == _id))
    db.session.commit()
    return len(expired)
