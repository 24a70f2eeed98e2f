"""The submitted tasks per owner unit, maintained (tracker/models/work.py): read, fold, rebuild.

`review_count(user)` is "awaiting my review" as one scalar subquery over `review_counts` plus the
not yet folded `review_marks` of the units the user reviews: exact at every moment, and a read of
at most a few thousand small rows (the units), never of the task table.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, bindparam, func, literal, literal_column, select, text, union_all

from tracker.extensions import db
from tracker.models import OrgUnit, ReviewCount, ReviewMark, Task, User
from tracker.plans.status import SUBMITTED

FOLD_LOCK_KEY = 7_314_150


def _submitted_rows():
    """(unit_id, n) of the folded counts and the pending marks."""
    return union_all(
        select(ReviewCount.unit_id.label("unit_id"), ReviewCount.submitted.label("n")),
        select(ReviewMark.unit_id.label("unit_id"), ReviewMark.delta.label("n")),
    ).subquery("submitted_rows")


# The user's own values as bound parameters of a statement built once per role and reused
# (tracker/plans/queries.py `memoized`): its construction and cache key are then paid once per
# process, not on every page. A statement built with bound=True holds no value of any user.
W_USER = bindparam("w_user", type_=Integer)
W_UNIT = bindparam("w_unit", type_=Integer)
W_PREFIX = bindparam("w_prefix", type_=String)


def reviewed_units(user: User, bound: bool = False):
    """A SELECT of the ids of the units whose submitted tasks `user` reviews (None: all units;
    an empty result for those who review nothing). `bound`: the user's unit as the parameters
    w_unit and w_prefix (its path and "%"), for a statement shared by every user of the role."""
    if user.role == "admin":
        return None
    if user.role != "coordinator":
        return select(OrgUnit.id).where(literal(False))
    if bound:
        return select(OrgUnit.id).where(OrgUnit.path.like(W_PREFIX), OrgUnit.id != W_UNIT)
    return select(OrgUnit.id).where(OrgUnit.path.like(f"{user.unit.path}%"), OrgUnit.id != user.unit_id)


def review_count_query(user: User, bound: bool = False):
    """SELECT the number of submitted tasks awaiting `user`'s review (one row, one column)."""
    rows = _submitted_rows()
    query = select(func.coalesce(func.sum(rows.c.n), 0))
    units = reviewed_units(user, bound)
    if units is not None:
        query = query.where(rows.c.unit_id.in_(units))
    return query


def review_total_query():
    """SELECT the number of submitted tasks anywhere."""
    rows = _submitted_rows()
    return select(func.coalesce(func.sum(rows.c.n), 0))


def fold_review_marks() -> int:
    """Move the pending marks into the counts; returns how many marks were folded. One statement
    on PostgreSQL (the marks it deletes are exactly those it adds, whatever commits meanwhile);
    SQLite has one writer at a time."""
    if db.session.get_bind().dialect.name == "postgresql":
        return (
            db.session.execute(
                text(
                    "WITH moved AS (DELETE FROM review_marks RETURNING unit_id, delta), "
                    "summed AS (SELECT unit_id, sum(delta) AS n, count(*) AS marks FROM moved GROUP BY unit_id), "
                    "upserted AS (INSERT INTO review_counts (unit_id, submitted) SELECT unit_id, n FROM summed "
                    "ON CONFLICT (unit_id) DO UPDATE SET submitted = review_counts.submitted + excluded.submitted) "
                    "SELECT COALESCE(sum(marks), 0) FROM summed"
                )
            ).scalar()
            or 0
        )
    last = db.session.scalar(select(func.max(ReviewMark.id)))
    if last is None:
        return 0
    marks = db.session.scalar(select(func.count()).where(ReviewMark.id <= last)) or 0
    db.session.execute(
        text(
            "INSERT INTO review_counts (unit_id, submitted) SELECT unit_id, sum(delta) FROM review_marks WHERE id <= :last "
            "GROUP BY unit_id ON CONFLICT (unit_id) DO UPDATE SET submitted = review_counts.submitted + excluded.submitted"
        ),
        {"last": last},
    )
    db.session.execute(text("DELETE FROM review_marks WHERE id <= :last"), {"last": last})
    return marks


def rebuild_review_counts() -> None:
    """Recompute the counts from the tasks (repair; after a restore the counts came with it).
    On PostgreSQL writers' marks wait meanwhile, so none is lost or counted twice."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("LOCK TABLE review_marks IN EXCLUSIVE MODE"))
    db.session.execute(ReviewMark.__table__.delete())
    db.session.execute(ReviewCount.__table__.delete())
    owner = func.coalesce(Task.owner_unit_id, literal_column("0"))
    db.session.execute(
        ReviewCount.__table__.insert().from_select(
            ["unit_id", "submitted"], select(owner, func.count()).where(Task.status == SUBMITTED).group_by(owner)
        )
    )
