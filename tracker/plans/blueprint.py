"""The plans area's blueprint: the plan and task-list views (routes.py) and the task views
(task_routes.py) register on it; the app factory imports both and registers it."""

from flask import Blueprint

bp = Blueprint("plans", __name__)
