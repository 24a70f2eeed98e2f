"""Uploaded files (evidence, scheme documents) reach their place only once their row has committed.

An upload is written to a temporary name beside its place (`UPLOAD_DIR/.NAME.part`: checked
there for size and content), and registered with the database session. When the session
commits, the file is moved to its stored name; when the transaction ends without a commit
(an error, a refusal, a failed commit), or the savepoint it was made in is rolled back, the
temporary file is deleted. So no file exists without its row; a row without its file can only
follow a crash (or a full disk) between the commit and the move, and then the temporary file is
still there for `flask evidence check --repair` to put in place (tracker/plans/evidence_check.py).

All of it is in this module: `put_in_place` is where a storage backend (tracker/storage.py,
`storage().put_file(name, temp)`) slots in.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from tracker.extensions import db

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


def final_path(stored_name: str) -> Path:
    return upload_dir() / stored_name


def put_in_place(stored_name: str, temp: Path) -> None:
    """Move a checked upload to its stored name (atomic on one file system)."""
    os.replace(temp, final_path(stored_name))


def place_after_commit(stored_name: str, temp: Path) -> None:
    """Move `temp` to `stored_name` when the current session commits; delete it if it does not."""
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
        except OSError as exc:
            log.error(
                "upload %s committed but not put in place (%s); the temporary file stays for "
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
