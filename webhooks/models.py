"""Webhook tables: who receives which events, every delivery attempt, and inbound events seen (for dedupe)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.models import Base, IdType, UtcDateTime


class WebhookSubscription(Base):
    """An agency system that receives outbound events; `event_types` entries may end in `*` (prefix match)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebhookDelivery(Base):
    """One attempt to deliver one outbox event to one subscription — the visible delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_deliveries_event", "event_id", "subscription_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    event_id: Mapped[int] = mapped_column(IdType, ForeignKey("outbox_events.id"))
    subscription_id: Mapped[int] = mapped_column(IdType, ForeignKey("webhook_subscriptions.id"))
    delivery_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class InboundEvent(Base):
    """An accepted inbound webhook; the unique (source, event_id) turns a replay into a no-op."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    source: Mapped[str] = mapped_column(String(50))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    case_id: Mapped[int | None] = mapped_column(IdType)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(200))
