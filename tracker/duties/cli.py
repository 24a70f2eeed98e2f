"""`flask occurrences generate`: one pass of the recurrence job by hand."""

from __future__ import annotations

import click
from flask.cli import AppGroup

occurrences_cli = AppGroup("occurrences", help="Occurrences of recurring duties.")


@occurrences_cli.command("generate")
@click.option(
    "--now", "now_text", default=None, help="ISO date-time to run as (default: now; bare times are Asia/Shanghai)"
)
def generate_command(now_text):
    """Make the due occurrences of every recurring duty (the scheduler does this daily)."""
    from tracker.extensions import db
    from tracker.tasks.cli import parse_now
    from tracker.tasks.recurrence import sync_occurrences

    try:
        now = parse_now(now_text)
    except click.BadParameter as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        report = sync_occurrences(now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    click.echo(
        f"{report.today.isoformat()}: {report.duties} duties; {report.created} occurrences created, "
        f"{report.superseded} superseded, {report.reopened} reopened"
    )
    for error in report.errors:
        click.echo(f"  skipped {error}")
