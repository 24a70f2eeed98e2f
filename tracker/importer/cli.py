from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.extensions import db
from tracker.importer.schema import SeedError
from tracker.importer.seed import load_seed_files, seed_files

seed_cli = AppGroup("seed", help="Load the org-unit catalogue and the seed plans.")


@seed_cli.command("load")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def load_command(files):
    """Validate FILES (default: all of seed_plans/) and load them; nothing is written on error."""
    paths = list(files) or seed_files(Path(current_app.config["SEED_DIR"]))
    if not paths:
        raise click.ClickException("no seed files found")
    try:
        report = load_seed_files(paths)
    except SeedError as exc:
        db.session.rollback()
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from exc
    db.session.commit()
    click.echo(
        f"units: {report.units_created} created, {report.units_updated} updated"
        + (f", {report.units_kept} kept as changed in the web" if report.units_kept else "")
        + "; "
        f"plans: {', '.join(report.plans) or '-'}; "
        f"tasks: {report.tasks_created} created, {report.tasks_updated} updated; "
        f"indicators: {report.indicators}"
    )
