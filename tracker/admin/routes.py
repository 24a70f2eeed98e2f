"""/healthz: is the database reachable, is the file store, and is the scheduler running its job?

503 only when the database cannot be reached (nothing works then); a file store out of reach
answers 200 with status "degraded" and `storage.ok` false: pages, lists and reports still work,
only uploads and downloads do not, so a load balancer should not take every node out for it."""

from datetime import datetime, timedelta, timezone

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, inspect, select, text

from tracker.extensions import csrf, db

bp = Blueprint("admin", __name__)
log = logging.getLogger(__name__)


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
    files = storage_state()
    return jsonify(status="ok" if files["ok"] else "degraded", database=database, storage=files, scheduler=scheduler)


def storage_state() -> dict:
    from tracker.storage import StorageError, storage

    store = storage()
    state = {"ok": True, "backend": current_app.config.get("STORAGE_BACKEND") or "local"}
    try:
        store.check()
    except StorageError as exc:
        log.warning("healthz: file store: %s", exc)
        # the reason is in the log; the public answer names no folder, bucket or address
        state.update(ok=False, error="not_writable" if state["backend"] == "local" else "unreachable")
    return state
