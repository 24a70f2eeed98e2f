import click
from flask.cli import AppGroup, with_appcontext

from tracker.auth.service import DEMO_PASSWORD, UserError, create_user, ensure_demo_users
from tracker.extensions import db

users_cli = AppGroup("users", help="Manage user accounts.")


@click.group("demo", cls=AppGroup, invoke_without_command=True)
@click.pass_context
@with_appcontext
def demo_cli(ctx):
    """Demo set-up. Alone, `flask demo` creates the demo accounts and the living demo plan."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(demo_users_command)
        ctx.invoke(demo_plan_command)


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


@demo_cli.command("plan")
@click.option(
    "--today", "today_text", default=None, help="the day to date it for (YYYY-MM-DD; default: today, Asia/Shanghai)"
)
def demo_plan_command(today_text=None):
    """Add the living demo plan, dated relative to today (again the same day: nothing changes)."""
    from datetime import date

    from tracker.demo.living import LivingDemoError, load_living_demo
    from tracker.timeutil import local_today

    try:
        today = date.fromisoformat(today_text) if today_text else local_today()
    except ValueError as exc:
        raise click.ClickException(f"--today '{today_text}' is not a date (YYYY-MM-DD)") from exc
    try:
        report = load_living_demo(today)
    except LivingDemoError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    if not report.changed:
        state = "up to date"
    elif report.redated:
        state = f"re-dated ({report.updated} tasks changed, {report.created} created)"
    else:
        state = f"{report.created} tasks created"
    click.echo(f"living demo plan as of {today.isoformat()}: {state}")


@demo_cli.command("generate")
@click.option(
    "--scale",
    type=click.Choice(["national", "provincial", "small"]),
    default="national",
    show_default=True,
    help="national: ~3,000 units and ~1,000,000 tasks",
)
@click.option("--seed", default=2026, show_default=True, help="random seed (same seed, same data)")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="the day the data set looks like (YYYY-MM-DD; default: today, Asia/Shanghai); "
    "an earlier day is the worst case: what fell due since is overdue now",
)
def demo_generate_command(scale, seed, as_of):
    """Build a deterministic demonstration data set (units, a cascaded plan, statuses) dated around today."""
    from datetime import date

    from tracker.demo.generate import SCALES, GenerateError, generate
    from tracker.timeutil import local_today

    try:
        day = date.fromisoformat(as_of) if as_of else local_today()
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
    click.echo(
        f"generated {report.units} units and {report.tasks} tasks "
        f"({shape.sections} sections x {shape.duties_per_section} duties, cascaded) "
        f"as of {day.isoformat()}; lagging province: {report.lagging}"
    )
    from tracker.progress.summary import refresh
    from tracker.timeutil import local_today

    refresh(local_today(), full=True)
    click.echo(f"progress summary rebuilt as of {local_today().isoformat()}")
