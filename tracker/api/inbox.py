"""The token user's notifications (the in-app inbox): list, mark read."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.api.core import not_found, operation
from tracker.api.plans import _cursor_value, decode_cursor, encode_cursor, me
from tracker.api.schemas import Done, NotificationList, NotificationOut, NotificationQuery
from tracker.extensions import db
from tracker.models import Notification
from tracker.notifications.service import mark_all_read, mark_read, unread_count


def notification_out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        task=n.task_id,
        task_ref=n.task.ref,
        task_title=n.task.title,
        level=n.level,
        created_at=n.created_at,
        read_at=n.read_at,
    )


@operation(
    "/notifications",
    summary="My notifications",
    tag="notifications",
    query=NotificationQuery,
    responses={200: NotificationList},
)
def list_notifications(query: NotificationQuery):
    """Newest first; `unread=true` for the unread ones only; `unread` counts them all."""
    user = me()
    statement = select(Notification).where(Notification.user_id == user.id).options(joinedload(Notification.task))
    if query.unread:
        statement = statement.where(Notification.read_at.is_(None))
    cursor = decode_cursor(query.cursor)
    if cursor is not None:
        statement = statement.where(Notification.id < _cursor_value(cursor, "i", int))
    rows = list(db.session.scalars(statement.order_by(Notification.id.desc()).limit(query.limit + 1)))
    following = encode_cursor({"i": rows[query.limit - 1].id}) if len(rows) > query.limit else None
    return NotificationList(
        items=[notification_out(n) for n in rows[: query.limit]], next=following, unread=unread_count(user)
    )


@operation(
    "/notifications/<int:notification_id>/read",
    "POST",
    summary="Mark one read",
    tag="notifications",
    responses={200: NotificationOut},
)
def read_notification(notification_id: int):
    user = me()
    if not mark_read(user, notification_id):
        raise not_found("No such notification of this token's user.")
    db.session.commit()
    item = db.session.scalar(
        select(Notification).where(Notification.id == notification_id).options(joinedload(Notification.task))
    )
    return notification_out(item)


@operation("/notifications/read-all", "POST", summary="Mark all read", tag="notifications", responses={200: Done})
def read_all_notifications():
    changed = mark_all_read(me())
    db.session.commit()
    return Done(changed=changed)
