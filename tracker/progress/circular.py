"""A draft circular (通报) as a .docx, for leaders to edit in their word processor.

The layout follows the usual commission circular: an optional red masthead, a document-number
placeholder, the title, the addressees, the body (period, overall figures, the units ranked,
the units lagging with their overdue items and explanations), the issuing unit and the date.
Nothing is sent: the file is only downloaded.
"""

from __future__ import annotations

import io
from datetime import date

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, select
from sqlalchemy.orm import aliased, contains_eager

from tracker.explanations.service import REASONS, explanations_for
from tracker.extensions import db
from tracker.models import OrgUnit, Task
from tracker.plans.status import OVERDUE_STATUSES
from tracker.progress.service import Leadership, Ranked

LAGGING_UNITS = 5
ITEMS_PER_UNIT = 5


def _font(run, size: float, bold: bool = False, colour: RGBColor | None = None, family: str = "仿宋") -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = family
    run._element.rPr.rFonts.set(qn("w:eastAsia"), family)
    if colour is not None:
        run.font.color.rgb = colour


def _paragraph(
    document,
    text: str,
    size: float = 16,
    bold: bool = False,
    align=None,
    family: str = "仿宋",
    colour: RGBColor | None = None,
    indent: bool = False,
):
    paragraph = document.add_paragraph()
    if align is not None:
        paragraph.alignment = align
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(size * 2)
    _font(paragraph.add_run(text), size, bold, colour, family)
    return paragraph


def overdue_items(units: list[OrgUnit], today: date, limit: int = ITEMS_PER_UNIT) -> dict[int, list[Task]]:
    """The oldest overdue items under each unit (one query per unit, a handful of units)."""
    found: dict[int, list[Task]] = {}
    owner = aliased(OrgUnit)
    for unit in units:
        found[unit.id] = list(
            db.session.scalars(
                select(Task)
                .join(owner, and_(owner.id == Task.owner_unit_id, owner.path.like(f"{unit.path}%")))
                .options(contains_eager(Task.owner_unit.of_type(owner)))
                .where(Task.status.in_(OVERDUE_STATUSES), Task.due_on < today)
                .order_by(Task.due_on, Task.id)
                .limit(limit)
            )
        )
    return found


def build_circular(
    issuer: OrgUnit, summary: Leadership, ranked: list[Ranked], today: date, masthead: bool = True
) -> bytes:
    with force_locale("zh_CN"):
        return _build(issuer, summary, ranked, today, masthead)


def _build(issuer: OrgUnit, summary: Leadership, ranked: list[Ranked], today: date, masthead: bool) -> bytes:
    document = Document()
    red = RGBColor(0xC0, 0x00, 0x00)
    if masthead:
        _paragraph(document, f"{issuer.name}文件", 26, True, WD_ALIGN_PARAGRAPH.CENTER, "宋体", red)
    _paragraph(
        document, _("[Document number] 〔%(year)d〕 No. __", year=today.year), 16, align=WD_ALIGN_PARAGRAPH.CENTER
    )
    _paragraph(document, _("Circular on the progress of the action plans"), 22, True, WD_ALIGN_PARAGRAPH.CENTER, "宋体")
    _paragraph(document, _("To the units concerned:"), 16)
    total = summary.total
    _paragraph(
        document,
        _(
            "As of %(day)s, the units under %(issuer)s have %(items)d work items in the action plans; %(done)d are done "
            "(%(completion)s%% complete), %(on_time)d of them on time, and %(overdue)d are overdue. The progress is "
            "circulated as follows.",
            day=f"{today.year}年{today.month}月{today.day}日",
            issuer=issuer.name,
            items=total.items,
            done=total.done,
            completion=f"{total.completion:.1f}",
            on_time=total.on_time,
            overdue=total.overdue,
        ),
        indent=True,
    )

    _paragraph(document, _("1. Overall progress of the plans"), 16, True, family="黑体")
    for plan, figures, _phases in summary.plans:
        _paragraph(
            document,
            _(
                "%(plan)s: %(done)d of %(items)d work items done (%(completion)s%%), %(overdue)d overdue.",
                plan=f"《{plan.title}》",
                done=figures.done,
                items=figures.items,
                completion=f"{figures.completion:.1f}",
                overdue=figures.overdue,
            ),
            indent=True,
        )

    _paragraph(document, _("2. Units ranked by on-time completion"), 16, True, family="黑体")
    headers = [
        _("Rank"),
        _("Unit"),
        _("On-time rate") + " (%)",
        _("Due so far"),
        _("On time"),
        _("Overdue"),
        _("Days overdue"),
    ]
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers):
        cell.text = ""
        _font(cell.paragraphs[0].add_run(text), 12, True)
    for index, r in enumerate(ranked, start=1):
        f = r.figures
        values = [
            str(index),
            r.unit.name,
            f"{f.on_time_rate:.1f}" if f.on_time_rate is not None else "—",
            str(f.due_so_far),
            str(f.on_time),
            str(f.overdue),
            str(f.overdue_days),
        ]
        for cell, text in zip(table.add_row().cells, values):
            cell.text = ""
            _font(cell.paragraphs[0].add_run(text), 12)

    lagging = [r for r in reversed(ranked) if r.figures.overdue][:LAGGING_UNITS]
    _paragraph(document, _("3. Units lagging behind"), 16, True, family="黑体")
    if not lagging:
        _paragraph(document, _("No unit has overdue work."), indent=True)
    items = overdue_items([r.unit for r in lagging], today)
    explanations = explanations_for([t.id for ts in items.values() for t in ts])
    for r in lagging:
        _paragraph(
            document,
            _(
                "%(unit)s: %(overdue)d work items overdue, %(days)d days overdue in all.",
                unit=r.unit.name,
                overdue=r.figures.overdue,
                days=r.figures.overdue_days,
            ),
            indent=True,
        )
        for task in items[r.unit.id]:
            explanation = explanations.get(task.id)
            note = (
                _(
                    "explained: %(reason)s, to be done by %(day)s",
                    reason=str(REASONS[explanation.reason]),
                    day=explanation.committed_on.isoformat(),
                )
                if explanation
                else _("no explanation given")
            )
            _paragraph(
                document,
                f"——{task.owner_unit.name if task.owner_unit else r.unit.name}："
                f"{task.ref.split('@')[0]} {task.title}（{_('due')} {task.due_on.isoformat()}，"
                f"{_('%(n)d days overdue', n=(today - task.due_on).days)}；{note}）",
                14,
            )

    _paragraph(document, _("4. Requirements"), 16, True, family="黑体")
    _paragraph(
        document,
        _(
            "The units lagging behind are to find the causes, set a timetable and finish the overdue "
            "work; units with overdue items report their explanation and committed date in the tracker."
        ),
        indent=True,
    )
    _paragraph(document, issuer.name, 16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _paragraph(document, f"{today.year}年{today.month}月{today.day}日", 16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
