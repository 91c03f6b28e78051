"""Inbound webhooks: verify the signature, drop replays, and hand the event to the waiting process instance."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidInput, NotFound
from engine.runtime import Engine
from workflows import messages
from workflows.models import Case
from workflows.utf8 import utf8_problems

from .models import InboundEvent
from .signing import verify


class BadSignature(Exception):
    pass


@dataclass
class Received:
    status: str  # accepted or duplicate
    event_id: str


def parse_secrets(setting: str | None) -> dict[str, str]:
    """`source=secret,source2=secret2` → {source: secret}."""
    secrets: dict[str, str] = {}
    for pair in (setting or "").split(","):
        if "=" in pair:
            source, secret = pair.split("=", 1)
            if source.strip() and secret.strip():
                secrets[source.strip()] = secret.strip()
    return secrets


def receive(session: Session, engine: Engine, *, source: str, secrets: dict[str, str], headers, body: bytes,
            now: datetime, real_now: float | None = None) -> Received:
    """`now` is the engine's time (recorded as received_at, a simulated instant in a demo); a signature's freshness
    is judged by `real_now` (Unix seconds, default the system clock): the sender signs with its real clock, and
    a simulated clock moved days ahead must not make every correct, current signature look stale."""
    secret = secrets.get(source)
    if secret is None:
        raise NotFound(f"未登记的来源：{source}")
    problem = verify(secret, headers.get("X-Jiuzhu-Timestamp"), headers.get("X-Jiuzhu-Signature"), body,
                     time.time() if real_now is None else real_now)
    if problem:
        raise BadSignature(problem)
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput("请求体不是合法的 JSON", {"body": ["不是合法的 JSON"]}) from exc
    fields = {}
    if not isinstance(message, dict):
        raise InvalidInput("请求体须为 JSON 对象", {"body": ["须为 JSON 对象"]})
    bad_text = utf8_problems(message)
    if bad_text:
        raise InvalidInput(f"事件内容有误：{messages.NOT_UTF8}", bad_text)
    event_id, event_type, case_id = message.get("event_id"), message.get("type"), message.get("case_id")
    if not isinstance(event_id, str | int) or str(event_id) == "":
        fields["event_id"] = [messages.REQUIRED]
    if not isinstance(event_type, str) or not event_type:
        fields["type"] = [messages.REQUIRED]
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        fields["case_id"] = ["须为案件编号（整数）"]
    if fields:
        raise InvalidInput("事件字段不完整", fields)
    event_id = str(event_id)
    seen = session.scalars(
        select(InboundEvent.id).where(InboundEvent.source == source, InboundEvent.event_id == event_id)
    ).first()
    if seen is not None:
        return Received("duplicate", event_id)
    case = session.get(Case, case_id)
    if case is None or case.process_instance_id is None:
        raise NotFound("案件不存在")
    # Recorded in the same transaction as the step it causes: both commit, or neither (then a retry can succeed).
    session.add(InboundEvent(source=source, event_id=event_id, type=event_type, case_id=case_id, received_at=now,
                             outcome="delivered"))
    try:
        engine.send_message(case.process_instance_id, event_type, message.get("payload"), actor=f"webhook:{source}")
    except Conflict as exc:
        # A concurrent copy of the same event won the unique constraint: that is a replay too.
        replay = session.scalars(
            select(InboundEvent.id).where(InboundEvent.source == source, InboundEvent.event_id == event_id)
        ).first()
        if replay is not None:
            return Received("duplicate", event_id)
        raise exc
    return Received("accepted", event_id)
