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


def _checked(name: str) -> str:
    """Stored names are ours (random hex, maybe an extension): never a path."""
    if not NAME.match(name) or ".." in name:
        raise ValueError(f"not a stored name: {name!r}")
    return name


class Storage(Protocol):
    def put_file(self, name: str, path: Path) -> None: ...
    def open(self, name: str) -> BinaryIO: ...
    def size(self, name: str) -> Optional[int]: ...
    def delete(self, name: str) -> None: ...
    def names(self) -> Iterator[str]: ...
    def presigned_url(self, name: str, filename: str, mimetype: str) -> Optional[str]: ...


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
            shutil.copyfile(path, target)
            Path(path).unlink(missing_ok=True)

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"{name}: no such file") from exc

    def size(self, name: str) -> Optional[int]:
        path = self._path(name)
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self) -> Iterator[str]:
        if not self.folder.is_dir():
            return iter(())
        return (p.name for p in sorted(self.folder.iterdir()) if p.is_file() and NAME.match(p.name))

    def presigned_url(self, name: str, filename: str, mimetype: str) -> Optional[str]:
        return None  # a folder has no addresses of its own: the app streams the file


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
            return self._call("get_object", Key=self._key(name))["Body"]
        except FileNotFoundError as exc:
            raise StorageError(f"{name}: no such object") from exc

    def size(self, name: str) -> Optional[int]:
        try:
            return int(self._call("head_object", Key=self._key(name))["ContentLength"])
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        self._call("delete_object", Key=self._key(name))

    def names(self) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if NAME.match(name):
                        yield name
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"object store: {exc}") from exc

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
        ),
    )


def storage() -> Storage:
    """The app's store of evidence files (made once per app)."""
    found = current_app.extensions.get("storage")
    if found is None:
        config = current_app.config
        if config.get("STORAGE_BACKEND") == "s3":
            found = S3Storage(
                s3_client(config),
                config["S3_BUCKET"],
                config.get("S3_PREFIX", ""),
                int(config.get("S3_PRESIGNED_SECONDS") or 0),
            )
        else:
            found = LocalStorage(Path(config["UPLOAD_DIR"]))
        current_app.extensions["storage"] = found
    return found
