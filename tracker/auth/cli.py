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
