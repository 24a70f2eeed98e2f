"""The rows of the overdue list, each rendered once for what it shows and then reused.

A row shows its task (ref, title, plan, owner, due date, status, last change), the days it is
late, its escalation level and its explanation; all of them, with the locale, make its key
(tracker/fragments.py), so a kept row is exactly the row a fresh render would draw. Coordinators
reload this list all day and page through it with filters; most rows are the same each time.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Optional

from flask import current_app, request
from flask_babel import get_locale
from markupsafe import Markup

from tracker.fragments import FragmentCache

ROWS = FragmentCache(4096)  # ≈ 1.5 KB a row


def overdue_row(task, level: Optional[str], explanation, today: date) -> Markup:
    from tracker.explanations.service import REASONS

    owner = task.owner_unit
    key = (
        id(current_app._get_current_object()),
        request.script_root,
        str(get_locale()),
        today,
        task.id,
        task.ref,
        task.title,
        task.plan.title,
        task.status,
        task.due_on,
        task.updated_at,
        json.dumps(task.owner_selector, sort_keys=True, default=str) if task.owner_selector else None,
        owner.name if owner is not None else None,
        level,
        (explanation.state, explanation.reason, explanation.committed_on) if explanation is not None else None,
    )
    template = current_app.jinja_env.get_template("notifications/_overdue_row.html")
    return Markup(
        ROWS.get(
            key,
            lambda: template.render(task=task, level=level, e=explanation, today=today, explanation_reasons=REASONS),
        )
    )
