"""Drafting a plan from its document: upload (.txt/.docx), review in a tree, create the plan.

Routes are thin: tracker.importer.draft.service keeps the drafts (JSON under the instance
folder) and creates the plan through the seed loader. Only coordinators and admins draft.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from tracker.extensions import db
from tracker.timeutil import local_today
from tracker.importer.draft import DocumentError
from tracker.office_archive import ArchiveRefused
from tracker.importer.draft import service
from tracker.importer.draft.service import DraftError, owner_text
from tracker.web import fragment_response, render, wants_fragment

bp = Blueprint("drafts", __name__, url_prefix="/drafts")


class UploadForm(FlaskForm):
    document = FileField(_l("Policy document (.txt or .docx)"), validators=[FileRequired(_l("Choose a file."))])
    year = IntegerField(
        _l("Year, if the document states none"),
        validators=[
            Optional(),
            NumberRange(min=1990, max=2100, message=_l("Enter a year between 1990 and 2100.")),
        ],
        description=_l(
            "Dates such as 8月15日前 take the year of the document (its date, 文号 or title); this year only when it names none."
        ),
    )


class ItemForm(FlaskForm):
    ref = StringField(_l("Ref"), validators=[DataRequired(), Length(max=60)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    owner = StringField(_l("Owner"), validators=[Optional(), Length(max=120)])
    co_owners = StringField(_l("Co-owners"), validators=[Optional(), Length(max=400)])
    start = StringField(_l("Start date"), validators=[Optional(), Length(max=10)])
    due = StringField(_l("Due date"), validators=[Optional(), Length(max=10)])
    deliverable = StringField(_l("Deliverable"), validators=[Optional(), Length(max=500)])
    recurrence = StringField(_l("Recurrence"), validators=[Optional(), Length(max=200)])
    phase = StringField(_l("Phase"), validators=[Optional(), Length(max=40)])


class AddItemForm(FlaskForm):
    parent = HiddenField()
    title = StringField(_l("New item"), validators=[DataRequired(), Length(max=300)])


class PlanForm(FlaskForm):
    key = StringField(_l("Plan key"), validators=[DataRequired(), Length(max=60)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    doc_number = StringField(_l("Document number (文号)"), validators=[Optional(), Length(max=100)])
    issuer = StringField(_l("Issuer"), validators=[Optional(), Length(max=300)])
    issuer_unit = StringField(_l("Issuing unit code"), validators=[Optional(), Length(max=40)])
    issued = StringField(_l("Issued on"), validators=[Optional(), Length(max=10)])


class ConfirmForm(FlaskForm):
    """CSRF only: create the plan, discard the draft."""


def _require_drafter() -> None:
    if not service.can_draft(current_user):
        abort(403)


def _draft_or_404(draft_id: str) -> dict:
    _require_drafter()
    draft = service.load_draft(draft_id, current_user)
    if draft is None:
        abort(404)
    return draft


def _item_form(task: dict) -> ItemForm:
    data = {
        name: task.get(name) or ""
        for name in ("ref", "title", "description", "start", "due", "deliverable", "recurrence", "phase")
    }
    data["owner"] = owner_text(task.get("owner"))
    data["co_owners"] = ", ".join(owner_text(o) for o in task.get("co_owners", []))
    return ItemForm(data=data)


@bp.route("", methods=["GET", "POST"])
@login_required
def upload():
    _require_drafter()
    form = UploadForm()
    if request.method == "GET" and form.year.data is None:
        form.year.data = local_today().year
    errors = []
    if form.validate_on_submit():
        file = form.document.data
        try:
            draft = service.create_draft(current_user, file.filename or "document.txt", file.read(), form.year.data)
        except ArchiveRefused as exc:
            errors.append(str(exc))
        except DocumentError:
            errors.append(_("The file cannot be read: upload a .docx document or UTF-8 / GB18030 text."))
        except DraftError as exc:
            errors.extend(exc.problems)
        else:
            return redirect(url_for("drafts.review", draft_id=draft["id"]), 303)
    status = 400 if request.method == "POST" else 200
    return render(
        "importer/upload.html", status=status, form=form, errors=errors, drafts=service.drafts_of(current_user)
    )


@bp.route("/<draft_id>")
@login_required
def review(draft_id: str):
    draft = _draft_or_404(draft_id)
    return render(
        "importer/review.html",
        draft=draft,
        plan_form=PlanForm(data=draft),
        add_form=AddItemForm(),
        confirm=ConfirmForm(),
        count=service.count_tasks(draft),
    )


@bp.route("/<draft_id>/plan", methods=["POST"])
@login_required
def update_plan(draft_id: str):
    draft = _draft_or_404(draft_id)
    form = PlanForm()
    errors = []
    if form.validate_on_submit():
        try:
            service.update_plan_fields(draft, form.data)
        except DraftError as exc:
            errors = exc.problems
        else:
            service.save_draft(draft)
            if not wants_fragment():
                return redirect(url_for("drafts.review", draft_id=draft_id), 303)
    else:
        errors = [f"{form[name].label.text}: {e}" for name, messages in form.errors.items() for e in messages]
    return _plan_form_response(draft, form, errors, 400 if errors else 200)


def _plan_form_response(draft, form, errors, status):
    if wants_fragment():
        return fragment_response(
            render_template("importer/_plan_form.html", draft=draft, plan_form=form, errors=errors), status
        )
    return render(
        "importer/review.html",
        status=status,
        draft=draft,
        plan_form=form,
        plan_errors=errors,
        add_form=AddItemForm(),
        confirm=ConfirmForm(),
        count=service.count_tasks(draft),
    )


@bp.route("/<draft_id>/items/<uid>")
@login_required
def item(draft_id: str, uid: str):
    draft = _draft_or_404(draft_id)
    task, _holder = service.find_task(draft, uid)
    if task is None:
        abort(404)
    return render("importer/item.html", block="item", draft=draft, task=task)


@bp.route("/<draft_id>/items/<uid>/edit", methods=["GET", "POST"])
@login_required
def edit_item(draft_id: str, uid: str):
    draft = _draft_or_404(draft_id)
    task, _holder = service.find_task(draft, uid)
    if task is None:
        abort(404)
    form = _item_form(task) if request.method == "GET" else ItemForm()
    errors = []
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.update_task(draft, uid, {name: form[name].data for name in service.EDITABLE_FIELDS})
            except DraftError as exc:
                errors = exc.problems
            else:
                service.save_draft(draft)
                if wants_fragment():
                    return fragment_response(render_template("importer/_item.html", draft=draft, task=task))
                return redirect(url_for("drafts.review", draft_id=draft_id) + f"#item-{uid}", 303)
        else:
            errors = [f"{form[name].label.text}: {e}" for name, messages in form.errors.items() for e in messages]
    status = 400 if errors else 200
    return render("importer/edit.html", block="item", status=status, draft=draft, task=task, form=form, errors=errors)


@bp.route("/<draft_id>/items/<uid>/delete", methods=["POST"])
@login_required
def delete_item(draft_id: str, uid: str):
    draft = _draft_or_404(draft_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        service.remove_task(draft, uid)
    except DraftError:
        abort(404)
    service.save_draft(draft)
    if wants_fragment():
        return fragment_response(render_template("importer/_count.html", count=service.count_tasks(draft), oob=True))
    return redirect(url_for("drafts.review", draft_id=draft_id), 303)


@bp.route("/<draft_id>/items", methods=["POST"])
@login_required
def add_item(draft_id: str):
    draft = _draft_or_404(draft_id)
    form = AddItemForm()
    errors = []
    if form.validate_on_submit():
        try:
            task = service.add_task(draft, form.parent.data or None, form.title.data)
        except DraftError as exc:
            errors = exc.problems
        else:
            service.save_draft(draft)
            if wants_fragment():
                body = render_template("importer/_item.html", draft=draft, task=task)
                body += render_template("importer/_count.html", count=service.count_tasks(draft), oob=True)
                return fragment_response(body)
            return redirect(url_for("drafts.review", draft_id=draft_id) + f"#item-{task['uid']}", 303)
    else:
        errors = [_("The new item needs a title.")]
    if wants_fragment():
        return fragment_response(render_template("importer/_errors.html", errors=errors), 400)
    return render(
        "importer/review.html",
        status=400,
        draft=draft,
        plan_form=PlanForm(data=draft),
        add_form=form,
        add_errors=errors,
        confirm=ConfirmForm(),
        count=service.count_tasks(draft),
    )


@bp.route("/<draft_id>/create", methods=["POST"])
@login_required
def create_plan(draft_id: str):
    draft = _draft_or_404(draft_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        plan = service.create_plan_from_draft(draft, current_user)
    except DraftError as exc:
        db.session.rollback()
        errors = exc.problems
        if wants_fragment():
            return fragment_response(
                render_template("importer/_errors.html", errors=errors, target_id="create-errors"), 400
            )
        return render(
            "importer/review.html",
            status=400,
            draft=draft,
            plan_form=PlanForm(data=draft),
            add_form=AddItemForm(),
            confirm=ConfirmForm(),
            create_errors=errors,
            count=service.count_tasks(draft),
        )
    db.session.commit()
    service.delete_draft(draft)
    target = url_for("plans.plan_detail", key=plan.key)
    if wants_fragment():
        response = fragment_response("")
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


@bp.route("/<draft_id>/discard", methods=["POST"])
@login_required
def discard(draft_id: str):
    draft = _draft_or_404(draft_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    service.delete_draft(draft)
    return redirect(url_for("drafts.upload"), 303)


@bp.app_template_global()
def draft_owner_label(owner) -> str:
    """'北京市卫生健康委 (P11)' for a code, '各省级卫生健康委' for a selector (unit names read once per request)."""
    from flask import g
    from sqlalchemy import select

    from tracker.models import OrgUnit
    from tracker.plans.labels import selector_label

    names = getattr(g, "_draft_unit_names", None)
    if names is None:
        names = dict(db.session.execute(select(OrgUnit.code, OrgUnit.name)).all())
        g._draft_unit_names = names
    if isinstance(owner, str):
        return f"{names.get(owner, owner)} ({owner})"
    each = (owner or {}).get("each", {})
    under = each.get("under")
    return selector_label(each, names.get(under, under) if under else None)


_EXPLAINED_SOURCES = {
    service.REVIEWER_SOURCE: _l("edited by the reviewer"),
    "(no unit named: the document's addressees)": _l("no unit named: the addressees of the document"),
    "(a statement of the whole plan: its issuer)": _l("a statement of the whole plan: its issuer"),
}
_SOURCE_PREFIXES = {
    "(from the heading above) ": _l("from the heading above"),
    "(as the item before) ": _l("as the item before"),
}


@bp.app_template_filter("draft_source")
def draft_source(text: str) -> str:
    """The quoted sentence a field was read from, or why it has none (in the reader's language)."""
    if text in _EXPLAINED_SOURCES:
        return f"({_EXPLAINED_SOURCES[text]})"
    for prefix, label in _SOURCE_PREFIXES.items():
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            return f"({label})" + (f" «{rest}»" if rest else "")
    return f"«{text}»"
