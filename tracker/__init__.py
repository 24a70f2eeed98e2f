"""Action-Plan Tracker (行动计划督办平台): the application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, session
from sqlalchemy import event

from tracker.config import Config, instance_secret_key
from tracker.extensions import babel, csrf, db, htmx, login_manager, migrate


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(Path(os.environ.get("INSTANCE_DIR", Path(__file__).resolve().parent.parent / "instance"))),
    )
    app.config.from_object(config or Config)
    app.config.update(overrides)
    from tracker.web import RowIdConverter

    app.url_map.converters["int"] = RowIdConverter  # before any route: ids beyond 64 bits are a 404
    from tracker.logging_setup import configure_logging, install_request_ids

    install_request_ids()
    if not app.testing:
        configure_logging()  # one line per event, LOG_LEVEL (web, scheduler, commands)
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_MB"] * 1024 * 1024 + 64 * 1024
    from datetime import timedelta

    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"])
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    hops = int(app.config.get("TRUSTED_PROXY_HOPS") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # the client's address, scheme and host as the trusted proxies saw them (the throttle keys on it)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    if not app.config.get("SECRET_KEY"):
        if shared_deployment(app.config):
            # Each machine would make its own key: sessions and CSRF tokens would fail whenever a
            # request reached another machine.
            raise RuntimeError(
                "SECRET_KEY must be set (the same on every machine) when TRACKER_NODES > 1 "
                "or REDIS_URL or STORAGE_BACKEND=s3 is set"
            )
        app.config["SECRET_KEY"] = instance_secret_key(app.instance_path)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    with app.app_context():
        _configure_engine(db.engine)

    from tracker import models  # noqa: F401  (register the mappers)
    from tracker.security import load_session_user, load_user_first, passive_unauthorized

    # signed in = a live session record in the database (tracker/auth/sessions.py); a disabled
    # account, an ended or idle session is signed out
    login_manager.user_loader(load_session_user)
    login_manager.unauthorized_handler(passive_unauthorized)
    app.before_request(load_user_first)

    from tracker.auth.routes import bp as auth_bp
    from tracker.notifications.routes import bp as notifications_bp
    from tracker.plans import list_routes as _list_views  # noqa: F401  (views on plans_bp)
    from tracker.plans import routes as _plan_views, task_routes as _task_views  # noqa: F401  (views on plans_bp)
    from tracker.plans import manual_routes as _manual_views  # noqa: F401  (views on plans_bp)
    from tracker.plans.blueprint import bp as plans_bp
    from tracker.web import register_web

    app.register_blueprint(auth_bp)
    app.register_blueprint(plans_bp)
    app.register_blueprint(notifications_bp)
    from tracker.indicators.routes import bp as indicators_bp

    app.register_blueprint(indicators_bp)
    from tracker.progress.routes import bp as progress_bp

    app.register_blueprint(progress_bp)
    from tracker.explanations.routes import bp as explanations_bp

    app.register_blueprint(explanations_bp)
    from tracker.importer.draft_routes import bp as drafts_bp

    app.register_blueprint(drafts_bp)
    from tracker import calendar, cascade, duties, layout, pickers, schemes
    from tracker.plans.rollup import install_locks

    install_locks()  # before the cascade's flush hook: the chain locks come before any write

    for area in (cascade, duties, schemes, calendar, layout, pickers):
        area.init_app(app)
    register_web(app)
    from tracker import account, audit, search, supervision, units, users

    for area in (audit, users, units, account, supervision, search):
        area.init_app(app)
    from tracker.admin.routes import bp as admin_bp

    app.register_blueprint(admin_bp)
    from tracker import api, exports

    api.init_app(app)
    exports.init_app(app)
    from tracker.security import init_security

    init_security(app)
    from tracker.errors import register_errors

    register_errors(app)

    from tracker.auth.cli import demo_cli, users_cli
    from tracker.importer.cli import seed_cli
    from tracker.plans.cli import plans_cli
    from tracker.admin.cli import backup_command, restore_command
    from tracker.tasks.cli import escalate_command, exports_cli, progress_cli, scheduler_cli

    from tracker.plans.evidence_cli import evidence_cli
    from tracker.storage_cli import storage_cli

    for group in (
        evidence_cli,
        storage_cli,
        seed_cli,
        plans_cli,
        users_cli,
        demo_cli,
        scheduler_cli,
        progress_cli,
        exports_cli,
        escalate_command,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(group)
    return app


def shared_deployment(config) -> bool:
    """Does this app run on several machines (or share state as if it did)?"""
    return (
        int(config.get("TRACKER_NODES") or 1) > 1
        or bool(config.get("REDIS_URL"))
        or config.get("STORAGE_BACKEND") == "s3"
    )


def select_locale() -> str:
    from flask import current_app

    lang = session.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        return lang
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _configure_engine(engine) -> None:
    """SQLite: enforce foreign keys and let SQLAlchemy own transactions (SAVEPOINT works)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN")
