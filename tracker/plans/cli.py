import json
from pathlib import Path

import click
from flask.cli import AppGroup

from tracker.plans.export import export_plan, plan_by_key

plans_cli = AppGroup("plans", help="Plans: export, draft from a document.")


@plans_cli.command("export")
@click.argument("plan_key")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True)
def export_command(plan_key, fmt):
    """Print PLAN_KEY with its phases, indicators and full task tree as JSON (UTF-8)."""
    plan = plan_by_key(plan_key)
    if plan is None:
        raise click.ClickException(f"no plan with key '{plan_key}'")
    click.echo(json.dumps(export_plan(plan), ensure_ascii=False, indent=2))


@plans_cli.command("draft")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the draft here instead of printing it.",
)
@click.option(
    "--year",
    type=click.IntRange(1990, 2100),
    default=None,
    help="The year dates without one take when the document states none (default: this year).",
)
def draft_command(file, output, year):
    """Draft a plan from FILE (.txt or .docx) in the seed-plan format (YAML), for checking and `flask seed load`."""
    from tracker.importer.draft import DocumentError, seed_yaml
    from tracker.office_archive import ArchiveRefused
    from tracker.importer.draft.service import DraftError, draft_from_file
    from tracker.timeutil import local_today

    try:
        draft = draft_from_file(file.name, file.read_bytes(), given_year=year or local_today().year)
    except (DocumentError, DraftError, ArchiveRefused) as exc:
        raise click.ClickException(f"{file.name}: {exc}") from exc
    text = seed_yaml(draft)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"{output}: {draft['title']}")
    else:
        click.echo(text, nl=False)
