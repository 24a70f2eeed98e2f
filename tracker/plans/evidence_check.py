"""`flask evidence check [--repair]`: every stored object has its row and every row its object.

Rows are evidence files and provincial scheme documents (both name a stored file); objects are
what the store holds (the folder UPLOAD_DIR, or the S3-compatible object store: tracker/storage.py,
listed once with their sizes). What can be wrong, and what `--repair` does about it:

- a row whose object is missing: if its temporary file is still on this machine with the row's
  size and sha256 (a crash, a full disk or an object store out of reach between the commit and
  the put), it is put into the store; otherwise it cannot be repaired here (restore it from a
  backup: `flask restore` puts the backup's objects back) and stays reported;
- a row whose object has another size than the row records: reported (damaged), not repaired;
- an object no row names (an orphan): moved aside to `orphaned/` (a folder of UPLOAD_DIR, or
  that prefix in the bucket), kept, not deleted;
- a temporary file no row names, older than an hour (an upload whose request died): deleted.

Temporary files are on the machine that took the upload: with several web machines, run the
check on each (the objects and rows are the same for all of them).

The store is listed before the rows are read, so an object put by a commit meanwhile is never
taken for an orphan; a row committed meanwhile whose object is not yet put is looked at again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Evidence, ProvincialScheme
from tracker.plans.stored_files import put_in_place, temporary_path, upload_dir
from tracker.storage import ORPHANED, storage  # noqa: F401  (ORPHANED: the CLI names it)

STALE_TEMP_SECONDS = 3600


@dataclass
class StoredRow:
    kind: str  # evidence | scheme
    id: int
    stored_name: str
    size: int | None
    sha256: str | None


@dataclass
class CheckReport:
    rows: int = 0
    files: int = 0
    missing: list[StoredRow] = field(default_factory=list)  # row without its file (not repaired)
    recoverable: list[StoredRow] = field(default_factory=list)  # ...of which --repair can put the file back
    damaged: list[StoredRow] = field(default_factory=list)  # file of another size than its row
    orphans: list[str] = field(default_factory=list)  # file without a row (not repaired)
    stale_temps: list[str] = field(default_factory=list)
    restored: list[StoredRow] = field(default_factory=list)  # repaired: put in place from the temporary file
    moved: list[str] = field(default_factory=list)  # repaired: orphans moved aside
    deleted_temps: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.damaged or self.orphans or self.stale_temps)


def _stored_rows() -> dict[str, StoredRow]:
    rows = {}
    for name, id_, size, sha in db.session.execute(
        select(Evidence.stored_name, Evidence.id, Evidence.size, Evidence.sha256).where(
            Evidence.stored_name.is_not(None)
        )
    ):
        rows[name] = StoredRow("evidence", id_, name, size, sha)
    for name, id_, size, sha in db.session.execute(
        select(ProvincialScheme.stored_name, ProvincialScheme.id, ProvincialScheme.size, ProvincialScheme.sha256).where(
            ProvincialScheme.stored_name.is_not(None)
        )
    ):
        rows[name] = StoredRow("scheme", id_, name, size, sha)
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, row: StoredRow) -> bool:
    try:
        return (row.size is None or path.stat().st_size == row.size) and (
            row.sha256 is None or _sha256(path) == row.sha256
        )
    except OSError:
        return False


def check_stored_files(repair: bool = False, now: float | None = None) -> CheckReport:
    now = now or time.time()
    store = storage()
    objects = dict(store.sizes())  # the store first, then the rows
    folder = upload_dir()
    temps = {
        p.name[1 : -len(".part")]: p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".part")
    }
    rows = _stored_rows()
    db.session.rollback()  # a read only; no transaction kept open while objects are moved
    report = CheckReport(rows=len(rows), files=len(objects))

    for name, row in sorted(rows.items()):
        size = objects[name] if name in objects else store.size(name)  # put meanwhile?
        if size is None:
            temp = temporary_path(name)
            intact = temp.exists() and _matches(temp, row)
            if repair and intact:
                put_in_place(name, temp)
                report.restored.append(row)
                temps.pop(name, None)
                continue
            report.missing.append(row)
            if intact:
                report.recoverable.append(row)
            continue
        if row.size is not None and size != row.size:
            report.damaged.append(row)

    for name in sorted(set(objects) - set(rows)):
        if repair:
            store.move_aside(name)
            report.moved.append(name)
        else:
            report.orphans.append(name)

    for name, temp in sorted(temps.items()):
        if name in rows:
            continue  # a row's file not yet placed: handled above
        try:
            age = now - temp.stat().st_mtime
        except FileNotFoundError:
            continue  # placed or discarded meanwhile
        if age < STALE_TEMP_SECONDS:
            continue  # an upload in progress
        if repair:
            temp.unlink(missing_ok=True)
            report.deleted_temps.append(temp.name)
        else:
            report.stale_temps.append(temp.name)
    return report
