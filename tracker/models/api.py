"""The JSON API's tokens, its rate-limit counters, and the webhooks it sends (tracker/api/)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.extensions import db
from tracker.models.base import UTCDateTime, utcnow
from tracker.models.org import User

PERSONAL = "personal"
SERVICE = "service"


class ApiToken(db.Model):
    """A bearer token. Only its sha256 is stored; the token itself is shown once, when made.

    A token acts as its user: a personal token as the person who made it, a service token as
    the service account an admin made for it (bound to one unit and one role).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default=PERSONAL)  # personal | service
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it in a list
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[Optional[User]] = relationship(foreign_keys=[created_by_id])

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now and self.user.active


class ApiRateCount(db.Model):
    """Requests of one token in one window (the fixed-window rate limit without Redis)."""

    __tablename__ = "api_rate_counts"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window length
    count: Mapped[int] = mapped_column(Integer, default=0)


class Webhook(db.Model):
    """An address that receives task events as signed JSON (registered by an admin)."""

    __tablename__ = "api_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))  # the HMAC key, shown to the admin once
    events: Mapped[str] = mapped_column(String(200), default="")  # comma-separated; empty: all
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # events taken so far (tracker/api/webhooks.py): journal entries and escalations with larger ids are new
    journal_after: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalation_after: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one webhook: an item of a webhook post (`delivery_messages`, channel `hook`,
    claimed, sent and retried by tracker/notifications/delivery.py); its key sent along."""

    __tablename__ = "api_webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("api_webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # the post holding this item (delivery_messages.id; no foreign key, as for escalations)
    message_id: Mapped[Optional[int]] = mapped_column(Integer)

    webhook: Mapped[Webhook] = relationship()

    __table_args__ = (
        UniqueConstraint("webhook_id", "idempotency_key"),
        Index("ix_api_webhook_deliveries_state", "state"),
        Index("ix_api_webhook_deliveries_message_id", "message_id"),
    )
