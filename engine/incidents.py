"""Incidents (as Camunda has them): a background step that failed, parked until an admin retries it.

When a sweep's step of an instance fails — a script error, a limit hit, a broken timer or message — the step has
rolled back whole; `open_incident` then records the failure in its own transaction: the instance becomes
`incident` (the sweeps select only running instances, so they leave it alone), an `incidents` row says where and
why, a history entry and an outbox event (`process.incident`) tell people and systems. An instance already in
incident only counts one more attempt.

`retry_incident` sets the instance running again and runs the failed work at once (its due timers). If that
succeeds the incident is resolved (history entry, `process.incident_resolved`); if it fails the instance goes back
to incident, the incident stays open with one more attempt, and `IncidentStillFailing` says why.

Error texts are stored and shown without ID numbers (18-character resident ID numbers are masked).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from .audit import AuditAction
from .errors import Conflict, EngineError, NotFound
from .models import AuditEntry, Incident, IncidentKind, InstanceStatus, OutboxEvent, ProcessInstance
from .scripting import mask_identifiers as mask_ids  # one rule for script errors and incidents
from .step import StepKernel, outbox_row
from .waiting import due_timers

if TYPE_CHECKING:  # only for annotations: the Engine composes this mixin
    from .runtime import Engine

log = logging.getLogger(__name__)

MAX_ERROR = 2000
SYSTEM = "system"


class IncidentStillFailing(Conflict):
    """A retry ran the failed work again and it failed again: the incident stays open."""

    code = "incident_still_failing"


def describe_error(exc: BaseException) -> str:
    """A short, ID-free description of why a step failed."""
    text = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
    return mask_ids(text or type(exc).__name__)[:MAX_ERROR]


def failed_element(exc: BaseException) -> tuple[str | None, str | None]:
    """The BPMN element a SpiffWorkflow error (anywhere in the exception's chain) names, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        spec = getattr(getattr(current, "task", None), "task_spec", None)
        bpmn_id = getattr(spec, "bpmn_id", None)
        if bpmn_id:
            return bpmn_id, getattr(spec, "bpmn_name", None) or bpmn_id
        current = current.__cause__ or current.__context__
    return None, None


def _due_timer(instance: ProcessInstance, now: datetime) -> tuple[str | None, str | None]:
    for item in due_timers(instance.waiting or [], now):
        return item.get("element_id"), item.get("name") or item.get("element_id")
    return None, None


def _move(instance: ProcessInstance, status: InstanceStatus) -> None:
    instance.status = InstanceStatus(instance.status).to(status)


@dataclass
class IncidentRow:
    """One incident as the admin lists show it."""

    id: int
    instance_id: int
    process_key: str
    business_key: str | None
    instance_status: str
    element_id: str | None
    element_name: str | None
    kind: str
    error: str
    attempts: int
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None

    def as_dict(self) -> dict:
        return {
            "id": self.id, "instance_id": self.instance_id, "process_key": self.process_key,
            "business_key": self.business_key, "instance_status": self.instance_status,
            "element_id": self.element_id, "element_name": self.element_name, "kind": self.kind,
            "error": self.error, "attempts": self.attempts, "since": self.created_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by,
        }


def _rows_query():
    return (select(Incident, ProcessInstance.process_key, ProcessInstance.business_key, ProcessInstance.status)
            .join(ProcessInstance, ProcessInstance.id == Incident.instance_id))


def _as_rows(result) -> list[IncidentRow]:
    return [IncidentRow(
        incident.id, incident.instance_id, process_key, business_key, InstanceStatus(status).value,
        incident.element_id, incident.element_name, IncidentKind(incident.kind).value, incident.error,
        incident.attempts, incident.created_at, incident.resolved_at, incident.resolved_by)
        for incident, process_key, business_key, status in result]


def incident_row(session: Session, incident_id: int) -> IncidentRow | None:
    rows = _as_rows(session.execute(_rows_query().where(Incident.id == incident_id)))
    return rows[0] if rows else None


def list_incidents(session: Session, *, resolved: bool = False, limit: int = 200,
                   offset: int = 0) -> list[IncidentRow]:
    """Open incidents (oldest first) or resolved ones (latest first)."""
    stmt = _rows_query()
    if resolved:
        stmt = stmt.where(Incident.resolved_at.is_not(None)).order_by(Incident.resolved_at.desc(), Incident.id.desc())
    else:
        stmt = stmt.where(Incident.resolved_at.is_(None)).order_by(Incident.created_at, Incident.id)
    return _as_rows(session.execute(stmt.limit(limit).offset(offset)))


def count_open_incidents(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)))
               or 0)


def open_incident_of(session: Session, instance_id: int) -> Incident | None:
    return session.scalars(select(Incident).where(Incident.instance_id == instance_id,
                                                  Incident.resolved_at.is_(None))
                           .order_by(Incident.id.desc()).limit(1)).first()


class Incidents(StepKernel):
    """Opening and retrying incidents; part of the Engine (engine/runtime.py)."""

    def open_incident(self, instance_id: int, kind: IncidentKind, exc: BaseException) -> Incident | None:
        """Record that background work of `instance_id` failed with `exc` (its step has rolled back).

        Its own transaction: the instance becomes `incident`, or — already in incident — its open incident counts
        one more attempt. Returns None when the instance is gone or has ended meanwhile.
        """
        session = self.session
        session.rollback()
        error = describe_error(exc)
        element_id, element_name = failed_element(exc)
        with self._transaction(session):
            instance = session.scalars(ProcessInstance.locked(instance_id)).first()
            if instance is None:
                return None
            now = self.now()
            incident = open_incident_of(session, instance_id)
            if incident is not None:
                incident.attempts += 1
                incident.error = error
                if instance.status == InstanceStatus.RUNNING:
                    _move(instance, InstanceStatus.INCIDENT)
                    instance.updated_at = now
                return incident
            if instance.status != InstanceStatus.RUNNING:
                return None
            if element_id is None:
                element_id, element_name = _due_timer(instance, now)
            _move(instance, InstanceStatus.INCIDENT)
            instance.updated_at = now
            incident = Incident(instance_id=instance_id, element_id=element_id, element_name=element_name,
                                error=error, kind=kind, created_at=now, attempts=1)
            session.add(incident)
            session.flush()
            self._record(session, instance, now, SYSTEM, AuditAction.INCIDENT_OPENED, incident,
                         "process.incident")
            log.warning("instance %s: incident %s opened (%s): %s", instance_id, incident.id, kind.value, error)
            return incident

    def retry_incident(self, incident_id: int, *, actor: str) -> Incident:
        """Set the instance running again and run the failed work now; IncidentStillFailing if it fails again."""
        session = self.session
        session.rollback()
        with self._transaction(session):
            incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
            if incident is None:
                raise NotFound("故障记录不存在")
            if incident.resolved_at is not None:
                raise Conflict("该故障已处理")
            instance = session.scalars(ProcessInstance.locked(incident.instance_id)).one()
            if instance.status == InstanceStatus.INCIDENT:
                _move(instance, InstanceStatus.RUNNING)
                instance.updated_at = self.now()
            elif instance.status != InstanceStatus.RUNNING:
                raise Conflict("流程实例已结束，无法重试")
            instance_id, kind = incident.instance_id, IncidentKind(incident.kind)
        try:
            self._run_again(instance_id, kind)
        except Exception as exc:
            log.warning("retry of incident %s failed", incident_id, exc_info=True)
            self.open_incident(instance_id, kind, exc)
            raise IncidentStillFailing(f"重试失败，故障仍未排除：{describe_error(exc)}") from exc
        with self._transaction(session):
            incident = session.get(Incident, incident_id, with_for_update=True, populate_existing=True)
            parked = session.get(ProcessInstance, instance_id, populate_existing=True)
            assert incident is not None and parked is not None
            now = self.now()
            incident.attempts += 1
            incident.resolved_at = now
            incident.resolved_by = actor
            self._record(session, parked, now, actor, AuditAction.INCIDENT_RESOLVED, incident,
                         "process.incident_resolved")
        return incident

    def _run_again(self, instance_id: int, kind: IncidentKind) -> None:
        # Timers: fire what is due (nothing due any more is fine). A message's payload was never stored, so a
        # message incident is resolved by letting the instance run again; its sender re-sends.
        if kind == IncidentKind.TIMER:
            cast("Engine", self).fire_timers(instance_id)

    def _record(self, session: Session, instance: ProcessInstance, now: datetime, actor: str, action: AuditAction,
                incident: Incident, event_type: str) -> None:
        detail = {"incident_id": incident.id, "kind": IncidentKind(incident.kind).value, "error": incident.error,
                  "attempts": incident.attempts}
        session.execute(insert(AuditEntry), [{
            "instance_id": instance.id, "task_id": None, "at": now, "actor": actor, "action": action,
            "element_id": incident.element_id, "element_name": incident.element_name, "opinion": None,
            "detail": detail}])
        session.execute(insert(OutboxEvent), [outbox_row(event_type, {
            "process_key": instance.process_key, "element_id": incident.element_id,
            "element_name": incident.element_name, **detail}, now, instance)])
