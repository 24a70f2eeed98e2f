"""`flask storage init`: the store of evidence files is ready (the bucket made if it is not there)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

storage_cli = AppGroup("storage", help="The store of evidence files and scheme documents (folder or S3 bucket).")


@storage_cli.command("init")
def init_command():
    """Make the S3 bucket if it is not there (MinIO and the like); for the folder, make the folder."""
    from tracker.storage import LocalStorage, StorageError, storage

    store = storage()
    try:
        if isinstance(store, LocalStorage):
            store.folder.mkdir(parents=True, exist_ok=True)
            click.echo(f"evidence files are kept in {store.describe()}")
            return
        made = store.ensure_bucket()
    except (StorageError, OSError) as exc:
        raise click.ClickException(f"the file store cannot be reached ({store.describe()}): {exc}") from None
    if made:
        click.echo(f"made the bucket {store.bucket}: evidence files are kept in {store.describe()}")
    else:
        click.echo(f"the bucket {store.bucket} is there: evidence files are kept in {store.describe()}")
