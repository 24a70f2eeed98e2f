"""The answer to a download of a stored file (evidence, a scheme's document), after the caller's
scope check: the file streamed from the store (the folder or the object store, tracker/storage.py),
or, with S3_PRESIGNED_SECONDS set, a redirect to a short-lived presigned address of the object
(never a public one). A missing object answers 404 with a page that says so, an object store out
of reach 503: never a 500.
"""

from __future__ import annotations

import logging
import os

from flask import redirect, send_file
from flask_babel import gettext as _

from tracker.errors import store_unavailable
from tracker.storage import MissingObject, StorageError, storage
from tracker.web import render

log = logging.getLogger(__name__)


def file_missing(stored_name: str):
    log.warning("download of %s: not in the store (restore it from a backup; `flask evidence check`)", stored_name)
    return render(
        "error.html",
        status=404,
        title=_("File missing"),
        message=_(
            "This file's content is not in the file store. Please tell the administrator: it can be restored from a backup."
        ),
    )


def _length(handle) -> int | None:
    """An object's body knows its length; a file's is that of the file opened (send_file sets
    none for an open file)."""
    length = getattr(handle, "length", None)
    if length is None and hasattr(handle, "fileno"):
        length = os.fstat(handle.fileno()).st_size
    return length


def stream_stored(handle, filename: str, mimetype: str):
    """The answer streaming an opened stored file as an attachment, never cached by a proxy."""
    response = send_file(handle, mimetype=mimetype, as_attachment=True, download_name=filename)
    response.content_length = _length(handle)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def send_stored(stored_name: str, filename: str, mimetype: str):
    store = storage()
    try:
        address = store.presigned_url(stored_name, filename, mimetype)
        if address:
            if store.size(stored_name) is None:  # the store's own error page would be no clearer
                return file_missing(stored_name)
            response = redirect(address, 302)
            response.headers["Cache-Control"] = "no-store"  # the address is short-lived and this user's
            return response
        handle = store.open(stored_name)
    except MissingObject:
        return file_missing(stored_name)
    except StorageError as exc:
        return store_unavailable(exc)
    return stream_stored(handle, filename, mimetype)
