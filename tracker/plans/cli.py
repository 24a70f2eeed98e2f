import json

import click
from flask.cli import AppGroup

from tracker.plans.export import export_plan, plan_by_key

plans_cli = AppGroup("plans", help="Plans: export.")


@plans_cli.command("export")
@click.argument("plan_key")
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True)
def export_command(plan_key, fmt):
    """Print PLAN_KEY with its phases, indicators and full task tree as JSON (UTF-8)."""
    plan = plan_by_key(plan_key)
    if plan is None:
        raise click.ClickException(f"no plan with key '{plan_key}'")
    click.echo(json.dumps(export_plan(plan), ensure_ascii=False, indent=2))
