"""Dates and times on the pages: UTC stored, Asia/Shanghai shown. The lists' numeric formats skip
Babel's per-call machinery (they are formatted on every row); they must give exactly what Babel
gives."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from flask_babel import format_date, format_datetime, force_locale

from tracker.web import isodate, localdt

MOMENTS = [
    datetime(2024, 12, 31, 16, 0, tzinfo=timezone.utc),  # 00:00 the next day in Shanghai
    datetime(2024, 12, 31, 15, 59, 59, tzinfo=timezone.utc),
    datetime(2026, 6, 1, 3, 4, 5, tzinfo=timezone.utc),
    datetime(2026, 6, 1, 3, 4, 5),  # naive: read as UTC (as stored)
]


@pytest.mark.parametrize("fmt", ["yyyy-MM-dd", "yyyy-MM-dd HH:mm", "MM-dd HH:mm"])
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_the_numeric_formats_equal_babels(app, fmt, locale):
    with app.test_request_context(), force_locale(locale):
        for moment in MOMENTS:
            babel = format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc), fmt)
            assert localdt(moment, fmt) == babel, (moment, fmt)
        for day in (date(2024, 2, 29), date(999, 1, 2), date(2026, 12, 4)):
            assert isodate(day) == format_date(day, "yyyy-MM-dd")


def test_a_moment_is_shown_on_its_shanghai_day(app):
    with app.test_request_context():
        assert localdt(datetime(2024, 12, 31, 16, 30, tzinfo=timezone.utc), "yyyy-MM-dd") == "2025-01-01"
        assert (
            localdt(datetime(2024, 12, 31, 16, 30, tzinfo=timezone.utc) - timedelta(hours=1), "yyyy-MM-dd HH:mm")
            == "2024-12-31 23:30"
        )
        assert localdt(None) == "" and isodate(None) == ""


def test_the_templates_translations_follow_the_locale_within_one_request(app):
    """Templates look their translations up once per locale (tracker/web.py), yet a
    `force_locale` inside the request (an e-mail in its recipient's language) switches them,
    and leaving it finds the request's own language again."""
    page = app.jinja_env.from_string("{{ _('My work') }}|{{ ngettext('%(num)d day', '%(num)d days', 2) }}")
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        first = page.render()
        with force_locale("en"):
            english = page.render()
        again = page.render()
    assert first == again and first.startswith("我的工作")
    assert english.startswith("My work|")
    with app.test_request_context("/"), force_locale("en"):
        assert page.render().startswith("My work|")


def test_wtforms_own_messages_are_read_once_per_locale_not_per_request(client, auth, make_user):
    from tracker import web

    web._wtforms_translations.cache_clear()
    auth.login(make_user("admin", "NHC"))
    for _ in range(3):
        assert client.get("/").status_code == 200
    info = web._wtforms_translations.cache_info()
    assert info.misses == 1 and info.hits >= 2
    assert web._wtforms_translations("zh_CN").ugettext("Not a valid integer value.") == "不是有效的整数。"
