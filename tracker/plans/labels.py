"""Display labels for unit kinds, levels and "each unit of a kind" selectors."""

from __future__ import annotations

from flask_babel import gettext as _
from tracker.lazy_text import lazy_gettext as _l

KIND_LABELS = {
    "commission": _l("health commission"),
    "qc_center": _l("QC centre"),
    "committee": _l("expert committee"),
    "institution": _l("medical institution"),
}
LEVEL_LABELS = {
    "national": _l("national"),
    "provincial": _l("provincial"),
    "prefecture": _l("prefecture-level"),
    "county": _l("county-level"),
}


def selector_label(selector: dict, under_name: str | None = None) -> str:
    """'各省级卫生健康委' for {kind: commission, level: provincial}."""
    kind = KIND_LABELS.get(selector.get("kind"), "") if selector.get("kind") else _("unit")
    level = LEVEL_LABELS.get(selector.get("level"), "")  # institutions have no level word
    label = _("each %(level)s %(kind)s", level=level, kind=kind).replace("  ", " ")
    if under_name:
        return _("%(label)s under %(unit)s", label=label, unit=under_name)
    return label
