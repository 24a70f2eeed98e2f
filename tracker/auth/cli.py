import click
from flask.cli import AppGroup

from tracker.auth.service import DEMO_PASSWORD, UserError, create_user, ensure_demo_users
from tracker.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")
demo_cli = AppGroup("demo", help="Demo set-up.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, help="admin, coordinator, reporter or leader")
@click.option("--unit", "unit_code", required=True, help="code of the user's unit, e.g. P11")
@click.option("--name", "display_name", default="", help="display name")
@click.option("--email", default="", help="e-mail address for notification digests")
@click.password_option(help="password (asked for when not given)")
def create_user_command(username, role, unit_code, display_name, email, password):
    """Create a user account."""
    try:
        user = create_user(username, password, role, unit_code, display_name, email)
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"created {user.username} ({user.role}, {user.unit.name})")


@demo_cli.command("users")
def demo_users_command():
    """Create the demo accounts (one per role in a few units)."""
    try:
        created = ensure_demo_users()
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc} (load the units first: flask seed load)") from exc
    db.session.commit()
    click.echo(f"demo users: {created} created; password for all: {DEMO_PASSWORD}")


@demo_cli.command("generate")
@click.option("--scale", type=click.Choice(["national", "provincial", "small"]), default="national", show_default=True,
              help="national: ~3,000 units and ~1,000,000 tasks")
@click.option("--seed", default=2026, show_default=True, help="random seed (same seed, same data)")
@click.option("--as-of", "as_of", default="2025-12-31", show_default=True, help="the day the statuses are drawn for")
def demo_generate_command(scale, seed, as_of):
    """Build a deterministic demonstration data set (units, a cascaded plan, statuses)."""
    from datetime import date

    from tracker.demo.generate import SCALES, GenerateError, generate

    try:
        day = date.fromisoformat(as_of)
    except ValueError as exc:
        raise click.ClickException(f"--as-of '{as_of}' is not a date (YYYY-MM-DD)") from exc
    shape = SCALES[scale]
    with click.progressbar(length=1, label=f"generating ({scale})", show_pos=True) as bar:
        def advance(n: int) -> None:
            if bar.length == 1:
                bar.length = None
            bar.update(n)

        try:
            report = generate(scale, day, seed=seed, progress=advance)
        except GenerateError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"generated {report.units} units and {report.tasks} tasks "
               f"({shape.sections} sections x {shape.duties_per_section} duties, cascaded)")
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    refresh(local_today(), full=True)
    click.echo(f"progress summary rebuilt as of {local_today().isoformat()}")
