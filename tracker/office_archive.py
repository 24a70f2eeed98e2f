"""Office files (.docx, .xlsx) are zip archives: look at the archive before anything parses it.

A 1 MB zip can declare gigabytes of XML; python-docx and openpyxl would inflate it all. Every
path that opens an Office file (the draft importer, the indicator form import, the type check
of evidence and scheme documents) calls `check_office_archive` first, which reads only the
archive's directory and the first bytes of each entry and refuses, with a message for the user:

- more than ``OFFICE_MAX_ENTRIES`` entries (default 1,000);
- more than ``OFFICE_MAX_UNCOMPRESSED_MB`` declared in all (default 100 MB);
- a declared size more than ``OFFICE_MAX_RATIO`` times the file's own size (default 100), in all
  or for any entry above 1 MB (so overlapping entries that reuse one compressed stream count
  against the real file size);
- an archive inside the archive (by name or by its first bytes: zip, gzip, 7z, rar, bzip2, xz),
  including an Office file embedded in another.

Python's zipfile never returns more than an entry's declared size, so bounding the declared
sizes bounds what the parsers can inflate.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Union

from flask import current_app, has_app_context
from tracker.lazy_text import lazy_gettext as _l

DEFAULTS = {"OFFICE_MAX_ENTRIES": 1000, "OFFICE_MAX_UNCOMPRESSED_MB": 100, "OFFICE_MAX_RATIO": 100}
ARCHIVE_NAMES = (
    ".zip",
    ".docx",
    ".xlsx",
    ".pptx",
    ".docm",
    ".xlsm",
    ".odt",
    ".ods",
    ".jar",
    ".gz",
    ".tgz",
    ".7z",
    ".rar",
    ".bz2",
    ".xz",
    ".tar",
    ".cab",
)
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh", b"\xfd7zXZ\x00")
LARGE_ENTRY = 1024 * 1024


class ArchiveRefused(ValueError):
    """The Office file's archive is refused; the message is for the person who uploaded it."""


def limit(name: str) -> float:
    if has_app_context():
        return float(current_app.config.get(name, DEFAULTS[name]))
    return float(DEFAULTS[name])


def check_office_archive(source: Union[bytes, str, Path]) -> None:
    """Raise ArchiveRefused when the archive is a bomb (see the module's text); a file that is
    not a zip at all passes (the parser's own check refuses it)."""
    if isinstance(source, (bytes, bytearray)):
        size, opener = len(source), (lambda: io.BytesIO(source))
    else:
        size, opener = Path(source).stat().st_size, (lambda: open(source, "rb"))
    with opener() as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError):
            return
        with archive:
            _check(archive, max(size, 1))


def _check(archive: zipfile.ZipFile, size: int) -> None:
    entries = archive.infolist()
    max_entries = int(limit("OFFICE_MAX_ENTRIES"))
    if len(entries) > max_entries:
        raise ArchiveRefused(
            _l("The file holds more than %(n)d parts: it is refused as a possible zip bomb.", n=max_entries)
        )
    max_bytes = limit("OFFICE_MAX_UNCOMPRESSED_MB") * 1024 * 1024
    ratio = limit("OFFICE_MAX_RATIO")
    total = sum(max(e.file_size, 0) for e in entries)
    if total > max_bytes:
        raise ArchiveRefused(
            _l(
                "The file unpacks to more than %(mb)d MB: it is refused as a possible zip bomb.",
                mb=int(max_bytes // (1024 * 1024)),
            )
        )
    if total > ratio * size or any(
        e.file_size > LARGE_ENTRY and e.file_size > ratio * max(e.compress_size, 1) for e in entries
    ):
        raise ArchiveRefused(
            _l("The file is compressed more than %(n)d to 1: it is refused as a possible zip bomb.", n=int(ratio))
        )
    for entry in entries:
        if entry.is_dir():
            continue
        if entry.filename.lower().endswith(ARCHIVE_NAMES) or _first_bytes(archive, entry).startswith(ARCHIVE_MAGIC):
            raise ArchiveRefused(
                _l(
                    "The file contains another archive (%(name)s): save it without embedded files and upload it again.",
                    name=entry.filename[-80:],
                )
            )


def _first_bytes(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(entry) as member:
            return member.read(8)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError, EOFError):
        return b""  # encrypted or broken: the parser refuses it
