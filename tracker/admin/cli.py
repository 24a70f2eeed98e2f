"""`flask backup DIR` and `flask restore DIR`."""

from pathlib import Path

import click

from tracker.admin.backup import BackupError, backup, restore, verify_backup


@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path):
    """Save the database and every object of the file store (evidence files, scheme documents)
    into DIRECTORY (new or empty)."""
    try:
        report = backup(directory)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backed up the {report.dialect} database ({sum(report.tables.values())} rows in {len(report.tables)} tables) "
        f"and {report.files} files into {directory}"
    )
    if report.without_object:
        click.echo(
            f"warning: {report.without_object} rows name a file the store does not hold "
            "(not in this backup either; `flask evidence check` lists them)"
        )


@click.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option(
    "--check",
    is_flag=True,
    help="only verify the backup (files, checksums, tables, revision, the store answers); change nothing",
)
@click.option(
    "--all-objects",
    is_flag=True,
    help="put every saved file back into the store, also those it holds with the same size",
)
def restore_command(directory: Path, yes: bool, check: bool, all_objects: bool):
    """Replace the database from a backup in DIRECTORY, and put its files back into the store
    (evidence files and scheme documents the store lacks or holds with another size).

    The backup is verified first; if anything is wrong, one line says what and nothing changes."""
    try:
        manifest = verify_backup(directory)  # before asking: a broken backup is refused at once
        if check:
            click.echo(
                f"backup in {directory} verified: {len(manifest['files'])} files, {len(manifest['tables'])} tables, "
                f"migration {', '.join(manifest.get('revision') or []) or 'none'}"
            )
            return
        if not yes:
            click.confirm(f"Replace the current database with the backup in {directory}?", abort=True)
        report = restore(directory, all_objects=all_objects)
    except (BackupError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"restored the {report.dialect} database ({sum(report.tables.values())} rows) and {report.files} files "
        f"({report.unchanged} more were in the store as saved)"
    )
