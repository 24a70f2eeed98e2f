"""The one pager of the application: a page of rows and a bounded count, in two statements.

Every list (tasks, overdue, inbox, accounts, cascade children, indicator forms) pages through
`paginate`. The count is bounded: it stops at `COUNT_CAP` rows, so at national scale (a
million tasks, a national coordinator's unfiltered list) a page costs a walk of at most that
many index entries, never a count of the whole table; a list beyond the cap says "10,000+"
and offers pages up to it (the filters narrow it; exact totals per unit are on the progress
pages, from the maintained summary). The rows come in the order the caller gives, which the
list's index serves (see the indexes on `tasks`), so the database reads the page's rows and
the offset before them, not a sort of everything that matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from tracker.extensions import db

COUNT_CAP = 10_000
MAX_PER_PAGE = 200


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int
    capped: bool = False  # more rows match than `total` (the count stopped at the cap)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    def iter_pages(self, around: int = 2) -> list[int | None]:
        """Page numbers to show: the first, the last, and `around` either side of this one;
        None where numbers are left out."""
        shown: list[int | None] = []
        for number in range(1, self.pages + 1):
            if number in (1, self.pages) or abs(number - self.page) <= around:
                shown.append(number)
            elif shown and shown[-1] is not None:
                shown.append(None)
        return shown


def bounded_count(query: Select, cap: int | None = None) -> tuple[int, bool]:
    """How many rows `query` gives, counting at most `cap` + 1: (count, whether it was capped)."""
    cap = COUNT_CAP if cap is None else cap
    limited = query.order_by(None).limit(cap + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return (cap, True) if total > cap else (total, False)


def paginate(query: Select, page: int, per_page: int, *order_by: Any, scalars: bool = True) -> Page:
    """One page of `query` in `order_by` order (ending with a unique column), and its bounded count.

    A page number past the last page shows the last page.
    """
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total, capped = bounded_count(query)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    statement = query.order_by(*order_by).limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(statement)
    rows = list(result.scalars().unique() if scalars else result.all())
    return Page(rows, page, per_page, total, capped)


def paginate_within(
    query: Select, page: int, per_page: int, index_order: tuple, order_by: tuple, id_column: Any, options: tuple = ()
) -> Page:
    """One page of `query` in an order no index serves (`order_by`, ending with a unique column),
    sorting never more than COUNT_CAP rows: the first COUNT_CAP rows in `index_order` (an order an
    index reads, the list's default) are the ones sorted, so a list within the cap is sorted
    whole and a longer one (its count says "10,000+") among its first COUNT_CAP rows. `options`
    (loader options) apply to the page's rows. The same two statements as `paginate`."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total, capped = bounded_count(query)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    window = query.with_only_columns(id_column).order_by(*index_order).limit(COUNT_CAP)
    statement = (
        query.options(*options)
        .where(id_column.in_(window))
        .order_by(*order_by)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = list(db.session.execute(statement).scalars().unique())
    return Page(rows, page, per_page, total, capped)
