"""/healthz: is the database reachable, and is the scheduler running its job?"""

from datetime import datetime, timedelta, timezone

from flask import Blueprint, jsonify
from sqlalchemy import func, inspect, select, text

from tracker.extensions import csrf, db

bp = Blueprint("admin", __name__)


def scheduler_state(now: datetime) -> dict:
    """From the job store: the escalation job's next run; and the last escalation recorded."""
    from tracker.models import Escalation
    from tracker.tasks.scheduler import ESCALATION_JOB_ID, JOB_TABLE

    state = {"job": None, "next_run": None, "last_escalation": None, "ok": False}
    if JOB_TABLE in inspect(db.engine).get_table_names():
        row = db.session.execute(
            text(f"SELECT next_run_time FROM {JOB_TABLE} WHERE id = :id"), {"id": ESCALATION_JOB_ID}
        ).first()
        if row is not None:
            state["job"] = ESCALATION_JOB_ID
            if row[0] is not None:
                next_run = datetime.fromtimestamp(float(row[0]), tz=timezone.utc)
                state["next_run"] = next_run.isoformat()
                state["ok"] = next_run > now - timedelta(hours=2)  # a next run in the past: the scheduler is down
    last = db.session.scalar(select(func.max(Escalation.at)))
    state["last_escalation"] = last.isoformat() if last else None
    return state


@bp.route("/healthz")
@csrf.exempt
def healthz():
    now = datetime.now(timezone.utc)
    try:
        db.session.execute(text("SELECT 1"))
        database = {"ok": True}
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        return jsonify(status="error", database={"ok": False, "error": exc.__class__.__name__}), 503
    scheduler = scheduler_state(now)
    return jsonify(status="ok", database=database, scheduler=scheduler), 200
