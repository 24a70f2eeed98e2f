"""The background export's progress page (polled by HTMX) and its download: the owner's only."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, send_file
from flask_login import current_user, login_required

from tracker.exports import jobs
from tracker.models.exports import DONE, XLSX_MIME, CSV_MIME
from tracker.storage import MissingObject
from tracker.web import render

bp = Blueprint("exports", __name__, url_prefix="/exports")


def _own_job(job_id: int):
    job = jobs.job_for(current_user, job_id)
    if job is None:
        abort(404)  # another's export is not even said to exist
    return job


@bp.route("/<int:job_id>")
@login_required
def job_page(job_id: int):
    job = _own_job(job_id)
    return render("exports/job.html", block="progress", job=job, threshold=jobs.background_threshold(job.kind))


@bp.route("/<int:job_id>/download")
@login_required
def download(job_id: int):
    job = _own_job(job_id)
    if job.state != DONE or not job.stored_name:
        abort(404)
    store = jobs.export_storage()
    mimetype = CSV_MIME if job.format == "csv" else XLSX_MIME
    address = store.presigned_url(job.stored_name, job.filename, mimetype)
    if address:
        return redirect(address)
    try:
        handle = store.open(job.stored_name)
    except MissingObject:
        abort(404)  # swept meanwhile (a store out of reach: 503, tracker/errors.py)
    return send_file(handle, mimetype=mimetype, as_attachment=True, download_name=job.filename)
