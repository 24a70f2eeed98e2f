"""Cascade (分解下达), recurring duties, provincial schemes (备案) and the calendar feed."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the blueprint, the CLI command, the task-page helper, and the flush-time sync that
    keeps cascade children in step with their templates."""
    from tracker.cascade.cli import occurrences_cli
    from tracker.cascade.routes import bp, cascade_info
    from tracker.cascade.schemes import SCHEME_STATE_LABELS
    from tracker.cascade.service import install_sync

    install_sync()
    app.register_blueprint(bp)
    app.cli.add_command(occurrences_cli)
    app.jinja_env.globals.update(cascade_info=cascade_info, scheme_state_labels=SCHEME_STATE_LABELS)
