"""`flask evidence check [--repair]` (tracker/plans/evidence_check.py)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

evidence_cli = AppGroup("evidence", help="Evidence files: check that files and rows match.")


@evidence_cli.command("check")
@click.option(
    "--repair",
    is_flag=True,
    help="put back files from their temporary copy, move orphan files aside, delete stale temporary files",
)
def check_command(repair: bool):
    """Report stored files without a row and rows without their file (evidence and scheme documents)."""
    from tracker.plans.evidence_check import ORPHANED, check_stored_files
    from tracker.tasks.jobs import exit_on_database_error

    from tracker.storage import StorageError, storage

    click.echo(f"checking the rows against {storage().describe()}")
    with exit_on_database_error("evidence check"):
        try:
            report = check_stored_files(repair=repair)
        except StorageError as exc:
            raise click.ClickException(f"the file store cannot be reached: {exc}") from None
    for row in report.restored:
        click.echo(f"repaired: {row.kind} {row.id}: file {row.stored_name} put in place from its temporary copy")
    for name in report.moved:
        click.echo(f"repaired: file {name} has no row: moved to {ORPHANED}/")
    for name in report.deleted_temps:
        click.echo(f"repaired: stale temporary file {name} deleted")
    for row in report.missing:
        remedy = (
            "its temporary copy is intact: --repair puts it in place"
            if row in report.recoverable
            else "restore it from a backup"
        )
        click.echo(f"missing: {row.kind} {row.id}: file {row.stored_name} is not there ({remedy})")
    for row in report.damaged:
        click.echo(f"damaged: {row.kind} {row.id}: file {row.stored_name} is not of the size its row records")
    for name in report.orphans:
        click.echo(f"orphan: file {name} has no row (--repair moves it to {ORPHANED}/)")
    for name in report.stale_temps:
        click.echo(f"stale: temporary file {name} of an upload that never committed (--repair deletes it)")
    click.echo(f"{report.rows} rows, {report.files} files: " + ("all in order" if report.clean else "problems found"))
    if not report.clean:
        raise SystemExit(1)
