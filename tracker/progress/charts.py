"""ECharts options built from progress figures (JSON only: static/charts.js supplies the
drawing functions named by "renderItem")."""

from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from tracker.progress.service import Timeline


def gantt_option(t: Timeline, today: date) -> dict:
    """An ECharts option (JSON only: charts.js supplies the bar drawing for "gantt" series)."""
    categories = [f"{r.section.ref} {r.section.title}" for r in t.rows]
    index = {r.section.id: i for i, r in enumerate(t.rows)}
    bars = [
        [i, r.first.isoformat() if r.first else None, r.last.isoformat() if r.last else None, r.figures.completion]
        for i, r in enumerate(t.rows)
        if r.first and r.last
    ]
    overdue = [
        {
            "value": [index[sid], task.due_on.isoformat()],
            "name": f"{task.ref.split('@')[0]} {task.title}（{task.owner_unit.name if task.owner_unit else ''}）",
        }
        for sid, task in t.overdue
        if sid in index
    ]
    phase_areas = [
        [{"name": p.name, "xAxis": p.start_on.isoformat()}, {"xAxis": p.end_on.isoformat()}]
        for p in t.phases
        if p.start_on and p.end_on
    ]
    return {
        "tooltip": {"trigger": "item"},
        "grid": {"left": 220, "right": 30, "top": 40, "bottom": 40},
        "xAxis": {"type": "time", "max": max(t.end or today, today).isoformat()},
        "yAxis": {
            "type": "category",
            "data": categories,
            "inverse": True,
            "axisLabel": {"width": 200, "overflow": "truncate"},
        },
        "series": [
            {
                "type": "custom",
                "renderItem": "gantt",
                "name": _("Work items"),
                "encode": {"x": [1, 2], "y": 0},
                "data": bars,
                "markArea": {
                    "silent": True,
                    "itemStyle": {"color": "rgba(13,110,253,0.06)"},
                    "label": {"position": "insideTop"},
                    "data": phase_areas,
                },
            },
            {
                "type": "custom",
                "renderItem": "overdue",
                "name": _("Overdue"),
                "z": 10,
                "data": overdue,
                "encode": {"x": 1, "y": 0},
                "markLine": {
                    "symbol": "none",
                    "lineStyle": {"color": "#198754", "width": 2},
                    "label": {"formatter": _("Today")},
                    "data": [{"xAxis": today.isoformat()}],
                },
            },
        ],
    }
