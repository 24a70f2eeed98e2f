"""The `tracker` command (installed by pyproject.toml): Flask's CLI bound to this app, so
`tracker seed load` or `tracker scheduler run` work from any folder without FLASK_APP."""

from __future__ import annotations

from flask.cli import FlaskGroup


def _create_app():
    from tracker import create_app

    return create_app()


def main() -> None:
    FlaskGroup(create_app=_create_app, help="Action-Plan Tracker (行动计划督办平台)")()


if __name__ == "__main__":
    main()
