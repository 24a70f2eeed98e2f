"""Uploaded files (evidence, scheme documents) reach their store only once their row has committed.

An upload is written to a temporary file on this machine (`UPLOAD_DIR/.NAME.part`: checked
there for size and content), and registered with the database session. When the session
commits, the file is put into the store under its stored name (`storage().put_file`: the folder
UPLOAD_DIR, or the S3-compatible object store, tracker/storage.py); when the transaction ends
without a commit (an error, a refusal, a failed commit), or the savepoint it was made in is
rolled back, the temporary file is deleted. So no object exists without its row; a row without
its object can only follow a crash, a full disk or an object store out of reach between the
commit and the put, and then the temporary file is still on the machine that took the upload,
for `flask evidence check --repair` (run there) to put in place (tracker/plans/evidence_check.py).
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from tracker.extensions import db
from tracker.storage import StorageError, storage

log = logging.getLogger(__name__)
PENDING = "tracker.pending_files"  # session.info key: [(stored name, temporary path, savepoint or None)]
_listening = False


def upload_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_stored_name() -> str:
    return secrets.token_hex(16)


def temporary_path(stored_name: str) -> Path:
    """Where an upload is written before its row commits (never listed as a stored file)."""
    return upload_dir() / f".{stored_name}.part"


def put_in_place(stored_name: str, temp: Path) -> None:
    """Put a checked upload into the store under its stored name (the temporary file goes)."""
    storage().put_file(stored_name, temp)


def place_after_commit(stored_name: str, temp: Path) -> None:
    """Put `temp` into the store when the current session commits; delete it if it does not."""
    _listen()
    session = db.session()
    savepoint = session.get_nested_transaction()
    session.info.setdefault(PENDING, []).append((stored_name, Path(temp), savepoint))


def _listen() -> None:
    global _listening
    if not _listening:
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
        _listening = True


def _after_commit(session: Session) -> None:
    for stored_name, temp, _savepoint in session.info.pop(PENDING, []):
        try:
            put_in_place(stored_name, temp)
        except (OSError, StorageError) as exc:
            log.error(
                "upload %s committed but not put in place (%s); the temporary file stays on this machine for "
                "`flask evidence check --repair`",
                stored_name,
                exc,
            )


def _discard(entries) -> None:
    for _stored_name, temp, _savepoint in entries:
        temp.unlink(missing_ok=True)


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    """A savepoint rolled back: the files registered inside it go."""
    if not previous_transaction.nested or PENDING not in session.info:
        return
    inside, kept = [], []
    for entry in session.info[PENDING]:
        savepoint = entry[2]
        while savepoint is not None and savepoint is not previous_transaction:
            savepoint = savepoint.parent if savepoint.nested else None
        (inside if savepoint is previous_transaction else kept).append(entry)
    _discard(inside)
    session.info[PENDING] = kept


def _after_transaction_end(session: Session, transaction) -> None:
    """The outermost transaction ended without a commit (a commit has emptied the list first)."""
    if transaction.parent is None and not transaction.nested:
        _discard(session.info.pop(PENDING, []))
