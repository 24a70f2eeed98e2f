"""Evidence: files and notes attached to a task. Files are checked by content (not by name),
stored outside the static folder under a random name with their sha256, never deleted, only
superseded. A refused file leaves nothing behind, and a file reaches its place only once its row
has committed (tracker/plans/stored_files.py).
"""

from __future__ import annotations

import hashlib
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Optional

from flask import current_app
from tracker.lazy_text import lazy_gettext as _l
from sqlalchemy import select

from tracker.extensions import db
from tracker.models import Evidence, Task, User
from tracker.plans import journal
from tracker.plans.operations import InvalidChange, NotAllowed
from tracker.plans.stored_files import new_stored_name, place_after_commit, temporary_path
from tracker.auth.scope import can_change_task, can_view_task
from tracker.office_archive import ArchiveRefused, check_office_archive

CHUNK = 64 * 1024

# Extension -> the content type its bytes must show.
ALLOWED = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
}
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(path: Path, head: bytes) -> Optional[str]:
    """The content family of a file from its first bytes (and, for zips, its directory)."""
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(OLE2):
        return "ole2"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:  # reads the directory only; never extracts
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        return "zip"
    return None


# Extension -> the content families its bytes may show.
FAMILIES = {
    "pdf": {"pdf"},
    "doc": {"ole2"},
    "xls": {"ole2"},
    "docx": {"docx"},
    "xlsx": {"xlsx"},
    "zip": {"zip", "docx", "xlsx"},
    "jpg": {"jpeg"},
    "jpeg": {"jpeg"},
    "png": {"png"},
}


def content_matches(extension: str, family: Optional[str]) -> bool:
    return family in FAMILIES.get(extension, set())


def clean_filename(name: str) -> str:
    """The user's file name without any path, control characters or odd width; Chinese kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + dot + ext) if dot else name[:200]
    return name


@dataclass
class StoredFile:
    stored_name: str
    sha256: str
    size: int


def _store(stream: BinaryIO, extension: str) -> StoredFile:
    """Copy the stream to a temporary name, checking size and content (removed on any refusal);
    it is moved to its random stored name when the session commits, deleted if it does not."""
    limit = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    stored_name = new_stored_name()
    temp = temporary_path(stored_name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with open(temp, "wb") as target:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise InvalidChange(
                        _l("The file is larger than %(mb)d MB.", mb=current_app.config["MAX_UPLOAD_MB"])
                    )
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                target.write(chunk)
        if size == 0:
            raise InvalidChange(_l("The file is empty."))
        family = sniff(temp, head)
        if not content_matches(extension, family):
            raise InvalidChange(_l("The file's content is not a %(ext)s file.", ext=extension.upper()))
        if family in ("docx", "xlsx"):  # an Office file others will open: no zip bomb
            try:
                check_office_archive(temp)
            except ArchiveRefused as exc:
                raise InvalidChange(exc.args[0]) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    place_after_commit(stored_name, temp)
    return StoredFile(stored_name, digest.hexdigest(), size)


def add_file(
    task: Task, user: User, stream: BinaryIO, filename: str, note: str = "", supersedes: Optional[Evidence] = None
) -> Evidence:
    _require(task, user)
    name = clean_filename(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED:
        raise InvalidChange(_l("Allowed file types: PDF, Word, Excel, JPG, PNG, ZIP."))
    stored = _store(stream, extension)  # deleted unless the session commits
    evidence = Evidence(
        task=task,
        user=user,
        kind="file",
        note=(note or "").strip(),
        original_name=name,
        stored_name=stored.stored_name,
        sha256=stored.sha256,
        size=stored.size,
        mime_type=ALLOWED[extension],
    )
    db.session.add(evidence)
    db.session.flush()
    _supersede(supersedes, evidence, task)
    journal.record(task, user, "evidence", "evidence", None, name, note.strip() if note else "")
    db.session.flush()
    return evidence


def add_note(task: Task, user: User, note: str, supersedes: Optional[Evidence] = None) -> Evidence:
    _require(task, user)
    note = (note or "").strip()
    if not note:
        raise InvalidChange(_l("The note is empty."))
    if len(note) > 5000:
        raise InvalidChange(_l("A note may have at most 5000 characters."))
    evidence = Evidence(task=task, user=user, kind="note", note=note)
    db.session.add(evidence)
    db.session.flush()
    _supersede(supersedes, evidence, task)
    journal.record(task, user, "evidence", "evidence", None, note[:200])
    db.session.flush()
    return evidence


def _supersede(old: Optional[Evidence], new: Evidence, task: Task) -> None:
    if old is None:
        return
    if old.task_id != task.id or old.superseded_by_id is not None:
        raise InvalidChange(_l("That evidence cannot be replaced."))
    old.superseded_by_id = new.id


def _require(task: Task, user: User) -> None:
    if not can_view_task(user, task):
        raise NotAllowed(_l("You may not see this task."))
    if not can_change_task(user, task):
        raise NotAllowed(_l("You are not allowed to change this task."))


def evidence_for(task: Task) -> list[Evidence]:
    return list(
        db.session.scalars(
            select(Evidence).where(Evidence.task_id == task.id).order_by(Evidence.created_at.desc(), Evidence.id.desc())
        )
    )
