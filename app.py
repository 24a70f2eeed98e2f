"""Entry point: `flask --app app run`, `flask --app app seed load`, ..."""

from tracker import create_app

app = create_app()
