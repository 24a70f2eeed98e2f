"""The draft circular (通报): a .docx that python-docx opens, with the units, figures and order."""

from __future__ import annotations

import io
from datetime import date

import docx
import pytest

from test_progress import TODAY, plan_tree  # noqa: F401
from tracker.explanations.service import explain


@pytest.fixture(autouse=True)
def frozen_today(monkeypatch):
    import tracker.progress.routes as routes

    monkeypatch.setattr(routes, "local_today", lambda: TODAY)


def _text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def test_the_circular_ranks_units_and_names_the_lagging_ones(client, auth, make_user, plan_tree, app):  # noqa: F811
    _plan, _s1, _s2, tasks = plan_tree
    with app.test_request_context():
        explain(tasks["b"], make_user("reporter", "P31"), "staff_or_funds", "", date(2024, 7, 15), today=TODAY)
    auth.login(make_user("leader", "NHC"))
    response = client.get("/leadership/circular.docx")
    assert response.status_code == 200 and response.mimetype.endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(response.data))
    text = _text(document)
    assert document.paragraphs[0].text == "国家卫生健康委文件"  # the red masthead
    assert "通报" in text and "2024年6月30日" in text
    table = document.tables[0]
    from sqlalchemy import select

    from tracker.extensions import db
    from tracker.models import OrgUnit
    from tracker.progress.service import ranking

    nhc = db.session.scalar(select(OrgUnit).where(OrgUnit.code == "NHC"))
    expected = ranking(nhc, TODAY)  # over all plans, the seeded ones included
    names = [row.cells[1].text for row in table.rows[1:]]
    assert names == [r.unit.name for r in expected]
    beijing = next(row for row in table.rows if row.cells[1].text == "北京市卫生健康委")
    p11 = next(r for r in expected if r.unit.code == "P11")
    assert beijing.cells[2].text == f"{p11.figures.on_time_rate:.1f}" and beijing.cells[5].text == str(
        p11.figures.overdue
    )
    lagging = text[text.index("三、") if "三、" in text else text.index("3.") :]
    assert "上海市卫生健康委" in lagging and "人员或经费不足" in lagging and "2024-07-15" in lagging
    item_lines = [p.text for p in document.paragraphs if p.text.startswith("——")]
    assert item_lines and all("：" in line.split(" ")[0] for line in item_lines)  # each line names its unit
    assert any(line.startswith(f"——{tasks['b'].owner_unit.name}：") for line in item_lines)
    plain = docx.Document(io.BytesIO(client.get("/leadership/circular.docx?masthead=0").data))
    assert plain.paragraphs[0].text != "国家卫生健康委文件"
