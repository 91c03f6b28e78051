"""Outbound webhooks: the outbox sweep that signs and delivers events after their step committed.

One event at a time is claimed with FOR UPDATE SKIP LOCKED, so several workers deliver side by side without
sending an event twice at once. A failed delivery is retried with exponential backoff; after MAX_ATTEMPTS the event
is dead-lettered. Every attempt is a row in webhook_deliveries.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import OutboxEvent, OutboxStatus
from workflows.listener import case_id_of

from .models import WebhookDelivery, WebhookSubscription
from .signing import sign

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
TIMEOUT_SECONDS = 10


@dataclass
class Response:
    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Poster = Callable[[str, bytes, dict[str, str]], Response]


def http_post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - admin-set URL
            return Response(response.status)
    except urllib.error.HTTPError as exc:
        return Response(exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Response(None, str(getattr(exc, "reason", exc))[:500])


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at 6 h."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


def matches(subscription: WebhookSubscription, event_type: str) -> bool:
    for pattern in subscription.event_types or []:
        if pattern == "*" or pattern == event_type or (pattern.endswith("*") and event_type.startswith(pattern[:-1])):
            return True
    return False


def event_body(event: OutboxEvent) -> bytes:
    return json.dumps({
        "event_id": event.id,
        "type": event.event_type,
        "created_at": event.created_at.isoformat(),
        "process_instance_id": event.instance_id,
        "case_id": case_id_of(event.business_key),
        "payload": event.payload,
    }, ensure_ascii=False, separators=(",", ":")).encode()


def deliver_due(session: Session, *, clock: Callable[[], datetime], post: Poster = http_post,
                limit: int = 200) -> int:
    """Deliver due outbox events; returns how many events reached a final or retry state this run.

    `clock` is read per event and per attempt: a long run must not sign with a timestamp receivers call stale.
    """
    subscriptions = list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))))
    session.rollback()
    handled = 0
    for _ in range(limit):
        now = clock()
        event = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.status == OutboxStatus.PENDING, OutboxEvent.next_attempt_at <= now)
            .order_by(OutboxEvent.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if event is None:
            session.rollback()
            break
        event_id = event.id
        try:
            _deliver_one(session, event, [s for s in subscriptions if matches(s, event.event_type)], clock, post)
            session.commit()
        except Exception as exc:
            log.exception("delivering outbox event %s failed; retrying it later", event_id)
            session.rollback()
            # Count it as a failed attempt, so a broken event backs off instead of blocking the ones behind it.
            _record_failure(session, event_id, now, f"{type(exc).__name__}: {exc}"[:500])
        handled += 1
    return handled


def _record_failure(session: Session, event_id: int, now: datetime, error: str) -> None:
    event = session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.status != OutboxStatus.PENDING:
        session.rollback()
        return
    _schedule_retry(event, event.attempts + 1, now, error)
    session.commit()


def _schedule_retry(event: OutboxEvent, attempt: int, now: datetime, error: str) -> None:
    event.attempts = attempt
    event.last_error = error
    if attempt >= MAX_ATTEMPTS:
        event.status = event.status.to(OutboxStatus.DEAD)
        log.warning("outbox event %s dead-lettered after %s attempts", event.id, attempt)
    else:
        event.next_attempt_at = now + backoff(attempt)


def _deliver_one(session: Session, event: OutboxEvent, targets: list[WebhookSubscription],
                 clock: Callable[[], datetime], post: Poster) -> None:
    delivered = set(session.scalars(
        select(WebhookDelivery.subscription_id).where(WebhookDelivery.event_id == event.id,
                                                       WebhookDelivery.ok.is_(True))
    ))
    pending = [s for s in targets if s.id not in delivered]
    attempt = event.attempts + 1
    failures = 0
    body = event_body(event) if pending else b""
    for subscription in pending:
        delivery_id = uuid.uuid4().hex
        sent_at = clock()
        # Receivers check freshness against their own (real) time, so the signed timestamp is the system's, even
        # when the engine runs on a simulated clock (demos, capacity simulation).
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Jiuzhu-Webhooks/1",
            "X-Jiuzhu-Event": event.event_type,
            "X-Jiuzhu-Delivery": delivery_id,
            "X-Jiuzhu-Timestamp": str(timestamp),
            "X-Jiuzhu-Signature": sign(subscription.secret, timestamp, body),
        }
        started = time.perf_counter()
        response = post(subscription.url, body, headers)
        session.add(WebhookDelivery(
            event_id=event.id, subscription_id=subscription.id, delivery_id=delivery_id, attempt=attempt, at=sent_at,
            status_code=response.status, ok=response.ok, error=None if response.ok else response.error,
            duration_ms=int((time.perf_counter() - started) * 1000),
        ))
        if not response.ok:
            failures += 1
    now = clock()
    if failures == 0:
        event.status = event.status.to(OutboxStatus.DELIVERED)
        event.delivered_at = now
        event.attempts = attempt if pending else event.attempts
        return
    _schedule_retry(event, attempt, now, f"{failures} 个接收方投递失败")
