"""`flask escalate` (one pass by hand) and `flask scheduler run` (the scheduler process)."""

from __future__ import annotations

from datetime import datetime, timezone

import click
from flask.cli import AppGroup

from tracker.timeutil import local_zone

scheduler_cli = AppGroup("scheduler", help="The scheduler process (escalation).")
progress_cli = AppGroup("progress", help="The progress summary the progress pages read.")
exports_cli = AppGroup("exports", help="Large exports written in the background.")


def parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"'{value}' is not an ISO date-time (e.g. 2024-05-01T08:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())  # a bare time means Asia/Shanghai
    return moment.astimezone(timezone.utc)


@click.command("escalate")
@click.option(
    "--now", "now_text", default=None, help="ISO date-time to run as (default: now; bare times are Asia/Shanghai)"
)
@click.option("--dry-run", is_flag=True, help="show what would fire, write nothing, send nothing")
def escalate_command(now_text, dry_run):
    """Run one escalation pass and deliver pending mail and webhook messages."""
    from tracker.notifications.delivery import deliver_pending
    from tracker.tasks.escalation import escalate
    from tracker.tasks.jobs import exit_on_database_error

    try:
        now = parse_now(now_text)
    except click.BadParameter as exc:
        raise click.UsageError(str(exc)) from exc
    with exit_on_database_error("escalate"):
        report = escalate(now, dry_run=dry_run)
        prefix = "dry run: would fire" if dry_run else "fired"
        levels = ", ".join(f"{level} {count}" for level, count in sorted(report.fired.items())) or "nothing"
        click.echo(
            f"{prefix} {levels} on {report.today.isoformat()}; skipped {report.skipped}; notifications {report.notifications}; sign-for reminders {report.unsigned}"
        )
        for line in report.lines:
            click.echo(f"  {line}")
        if report.total_fired > len(report.lines):
            click.echo(f"  … and {report.total_fired - len(report.lines)} more")
        if not dry_run:
            delivery = deliver_pending(now)
            if (
                delivery.mails_sent
                or delivery.mail_failures
                or delivery.webhook_posts
                or delivery.webhook_failures
                or delivery.hook_posts
                or delivery.hook_failures
            ):
                click.echo(
                    f"mail: {delivery.mails_sent} digests ({delivery.mail_items} items), {delivery.mail_failures} failed; "
                    f"webhook: {delivery.webhook_posts} posts, {delivery.webhook_failures} failed; "
                    f"API webhooks: {delivery.hook_posts} posts ({delivery.hook_items} events), "
                    f"{delivery.hook_failures} failed"
                )


@scheduler_cli.command("run")
def scheduler_run_command():
    """Start the scheduler (blocking). Run it as its own process, next to the web server."""
    from tracker.tasks.scheduler import run_scheduler

    run_scheduler(echo=click.echo)


@progress_cli.command("refresh")
@click.option("--rebuild", is_flag=True, help="recompute the whole summary (else fold the changed owners)")
@click.option(
    "--today",
    "today_text",
    default=None,
    help="the day the figures are as of (YYYY-MM-DD; default: today, Asia/Shanghai)",
)
def progress_refresh_command(rebuild, today_text):
    """Bring the progress summary up to date (the scheduler does this every minute)."""
    import time
    from datetime import date

    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    try:
        today = date.fromisoformat(today_text) if today_text else local_today()
    except ValueError as exc:
        raise click.UsageError(f"'{today_text}' is not a date (YYYY-MM-DD)") from exc
    from tracker.tasks.jobs import exit_on_database_error

    started = time.perf_counter()
    with exit_on_database_error("progress refresh"):
        folded = refresh(today, full=rebuild)
    what = "rebuilt" if folded < 0 else f"folded {folded} changed owners into"
    click.echo(f"{what} the progress summary as of {today.isoformat()} in {time.perf_counter() - started:.1f} s")


@exports_cli.command("run-pending")
@click.option("--limit", default=10, show_default=True, help="at most this many exports in this run")
def exports_run_pending_command(limit):
    """Run the queued background exports now and sweep expired ones (the scheduler does this
    every few seconds)."""
    from tracker.tasks.exports import export_pass
    from tracker.tasks.jobs import exit_on_database_error

    with exit_on_database_error("exports run-pending"):
        outcomes = export_pass(limit=limit)
    for job_id, outcome in outcomes:
        click.echo(f"export {job_id}: {outcome}")
    click.echo(f"{len(outcomes)} exports run")
