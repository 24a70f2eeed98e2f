"""Where evidence files and scheme documents live: a folder on this machine (the default) or an
S3-compatible object store shared by every machine (MinIO, Ceph RGW, the object stores of the
Chinese clouds), chosen by environment variables (STORAGE_BACKEND=s3 and S3_*).

Files are written first to a temporary file on local disk (their size, sha256 and content type
are checked there), then put into the store under their random stored name only once the
database row naming them has committed; so no object exists without its row. Downloads stream
through the app after its scope check; with S3_PRESIGNED_SECONDS set, the app answers instead
with a short-lived presigned address of the object (never a public one).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Protocol

from flask import current_app

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation."""


class MissingObject(StorageError):
    """The store answered, and it holds no object of that name."""


def _checked(name: str) -> str:
    """Stored names are ours (random hex, maybe an extension): never a path."""
    if not NAME.match(name) or ".." in name:
        raise ValueError(f"not a stored name: {name!r}")
    return name


class Storage(Protocol):
    def put_file(self, name: str, path: Path) -> None: ...  # moves `path` in (it is gone afterwards)
    def open(self, name: str) -> BinaryIO: ...  # MissingObject, or StorageError when unreachable
    def size(self, name: str) -> Optional[int]: ...  # None: no such object
    def delete(self, name: str) -> None: ...
    def names(self) -> Iterator[str]: ...
    def sizes(self) -> Iterator[tuple[str, int]]: ...  # (name, size) of every object, one listing
    def move_aside(self, name: str) -> None: ...  # into ORPHANED, out of the listing; kept
    def presigned_url(self, name: str, filename: str, mimetype: str) -> Optional[str]: ...
    def describe(self) -> str: ...
    def check(self) -> None: ...  # StorageError when files could not be stored or read now


ORPHANED = "orphaned"  # where `flask evidence check --repair` moves objects no row names


class LocalStorage:
    """A folder of this machine (UPLOAD_DIR)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, name: str) -> Path:
        return self.folder / _checked(name)

    def put_file(self, name: str, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self._path(name)
        try:
            os.replace(path, target)  # same file system: atomic
        except OSError:
            part = target.with_name(f".{name}.copy")
            try:
                shutil.copyfile(path, part)  # another file system: copied whole, then renamed
                os.replace(part, target)
            except BaseException:
                part.unlink(missing_ok=True)  # never half a file under the stored name
                raise
            Path(path).unlink(missing_ok=True)

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError as exc:
            raise MissingObject(f"{name}: no such file") from exc
        except OSError as exc:
            raise StorageError(f"{name}: {exc.strerror or exc}") from exc

    def size(self, name: str) -> Optional[int]:
        path = self._path(name)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        return (name for name, _size in self.sizes())

    def sizes(self) -> Iterator[tuple[str, int]]:
        if not self.folder.is_dir():
            return
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if NAME.match(entry.name) and entry.is_file(follow_symlinks=False):
                try:
                    yield entry.name, entry.stat().st_size
                except FileNotFoundError:
                    continue  # moved meanwhile

    def move_aside(self, name: str) -> None:
        aside = self.folder / ORPHANED
        aside.mkdir(exist_ok=True)
        os.replace(self._path(name), aside / name)

    def presigned_url(self, name: str, filename: str, mimetype: str) -> Optional[str]:
        return None  # a folder has no addresses of its own: the app streams the file

    def describe(self) -> str:
        return f"the folder {self.folder}"

    def check(self) -> None:
        """The folder (or, before the first upload, the folder it will be made in) is writable."""
        place = self.folder
        while not place.exists() and place != place.parent:
            place = place.parent
        if not place.is_dir() or not os.access(place, os.W_OK | os.X_OK):
            raise StorageError(f"{place}: not a writable folder")


class ObjectBody:
    """An object's content as it arrives (read in blocks, never held whole), with its length for
    the download's Content-Length; a short read raises (botocore checks the length)."""

    def __init__(self, body, length):
        self._body = body
        self.length = int(length) if length is not None else None

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return self._body.read(None if size is None or size < 0 else size)
        except BotoCoreError as exc:
            raise StorageError(f"object store: {exc}") from exc

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class S3Storage:
    """A bucket of an S3-compatible object store, objects under `prefix`."""

    def __init__(self, client, bucket: str, prefix: str = "", presigned_seconds: int = 0):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.presigned_seconds = presigned_seconds

    def _key(self, name: str) -> str:
        return self.prefix + _checked(name)

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(kwargs.get("Key", "")) from exc
            raise StorageError(f"object store: {code or exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"object store: {exc}") from exc

    def put_file(self, name: str, path: Path) -> None:
        with open(path, "rb") as handle:
            self._call("put_object", Key=self._key(name), Body=handle)
        Path(path).unlink(missing_ok=True)

    def open(self, name: str) -> BinaryIO:
        try:
            answer = self._call("get_object", Key=self._key(name))
        except FileNotFoundError as exc:
            raise MissingObject(f"{name}: no such object") from exc
        return ObjectBody(answer["Body"], answer.get("ContentLength"))

    def size(self, name: str) -> Optional[int]:
        try:
            return int(self._call("head_object", Key=self._key(name))["ContentLength"])
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        self._call("delete_object", Key=self._key(name))

    def names(self) -> Iterator[str]:
        return (name for name, _size in self.sizes())

    def sizes(self) -> Iterator[tuple[str, int]]:
        """One listing (1,000 keys a request); keys under a further prefix (exports/, orphaned/) are
        not stored names and are left out."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if NAME.match(name):
                        yield name, int(item["Size"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store: {exc}") from exc

    def move_aside(self, name: str) -> None:
        key = self._key(name)
        self._call("copy_object", Key=f"{self.prefix}{ORPHANED}/{name}", CopySource={"Bucket": self.bucket, "Key": key})
        self._call("delete_object", Key=key)

    def describe(self) -> str:
        return f"the bucket {self.bucket} (prefix {self.prefix or 'none'}) at {self.client.meta.endpoint_url}"

    def check(self) -> None:
        """The bucket answers (one HEAD request)."""
        try:
            self._call("head_bucket")
        except FileNotFoundError as exc:
            raise StorageError(f"object store: no bucket {self.bucket} (`flask storage init` makes it)") from exc

    def ensure_bucket(self) -> bool:
        """Make the bucket if it is not there; True when it was made."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"object store: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"object store: {exc}") from exc
        region = self.client.meta.region_name
        extra = (
            {} if region in (None, "", "us-east-1") else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store: {exc}") from exc
        return True

    def presigned_url(self, name: str, filename: str, mimetype: str) -> Optional[str]:
        if not self.presigned_seconds:
            return None
        from urllib.parse import quote

        return self.client.generate_presigned_url(
            "get_object",
            ExpiresIn=self.presigned_seconds,
            Params={
                "Bucket": self.bucket,
                "Key": self._key(name),
                "ResponseContentType": mimetype,
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            },
        )


def s3_client(config):
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        region_name=config.get("S3_REGION") or "us-east-1",
        aws_access_key_id=config.get("S3_ACCESS_KEY") or None,
        aws_secret_access_key=config.get("S3_SECRET_KEY") or None,
        config=BotoConfig(
            s3={"addressing_style": "path" if config.get("S3_PATH_STYLE") else "auto"},
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3},
            # boto3 >= 1.36 adds CRC checksums (x-amz-checksum-*, aws-chunked bodies) to every put,
            # which many S3-compatible stores refuse: only where the operation requires them
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


SETTINGS = (
    "STORAGE_BACKEND",
    "UPLOAD_DIR",
    "S3_ENDPOINT_URL",
    "S3_BUCKET",
    "S3_PREFIX",
    "S3_REGION",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
    "S3_PATH_STYLE",
    "S3_PRESIGNED_SECONDS",
)


def make_storage(config) -> Storage:
    if config.get("STORAGE_BACKEND") == "s3":
        return S3Storage(
            s3_client(config),
            config["S3_BUCKET"],
            config.get("S3_PREFIX", ""),
            int(config.get("S3_PRESIGNED_SECONDS") or 0),
        )
    return LocalStorage(Path(config["UPLOAD_DIR"]))


def storage() -> Storage:
    """The app's store of evidence files and scheme documents: made once per app (a boto3 client
    is thread-safe and keeps its connections), again only if its settings change (tests do)."""
    config = current_app.config
    key = tuple(str(config.get(name)) for name in SETTINGS)
    made = current_app.extensions.get("storage")
    if made is None or made[0] != key:
        made = current_app.extensions["storage"] = (key, make_storage(config))
    return made[1]
