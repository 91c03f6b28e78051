"""Storing deployed definitions: one version per distinct content of a process key."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .definitions import compile_bpmn
from .errors import Problem
from .models import InstanceStatus, ProcessDefinition, ProcessInstance
from .serialization import dump_spec


@dataclasses.dataclass
class Deployment:
    definition: ProcessDefinition
    created: bool
    warnings: list[Problem] = dataclasses.field(default_factory=list)


def content_hash(xml: bytes, dmn: Sequence[bytes] = ()) -> str:
    digest = hashlib.sha256(xml)
    for table in dmn:
        digest.update(b"\0dmn\0" + table)
    return digest.hexdigest()


def deploy(
    session: Session,
    xml: bytes | str,
    *,
    now: datetime,
    deployed_by: str | None = None,
    process_key: str | None = None,
    dmn: Sequence[bytes] = (),
    roles: Collection[str] | None = None,
    form_keys: Collection[str] | None = None,
    lint: bool = True,
    agencies: Collection[str] | None = None,
) -> Deployment:
    """Validate and store a diagram. Unchanged content returns the latest version instead of making one.

    The checks are `compile_bpmn`'s with bpmnlint (engine/lint.py): the same the modeler shows.
    """
    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    digest = content_hash(raw, dmn)
    compiled, spec_json = _compiled(raw, digest, process_key=process_key, dmn=dmn, roles=roles,
                                    form_keys=form_keys, lint=lint, agencies=agencies)
    for _attempt in range(3):
        latest = session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.key == compiled.process_key)
            .order_by(ProcessDefinition.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.content_hash == digest:
            return Deployment(latest, created=False, warnings=compiled.warnings)
        definition = ProcessDefinition(
            key=compiled.process_key,
            version=(latest.version if latest else 0) + 1,
            name=compiled.name or compiled.process_key,
            content_hash=digest,
            bpmn_xml=raw.decode("utf-8"),
            spec_json=spec_json,
            user_tasks=[dataclasses.asdict(t) for t in compiled.user_tasks],
            deployed_at=now,
            deployed_by=deployed_by,
        )
        session.add(definition)
        try:
            session.commit()
        except IntegrityError:
            # Another process deployed the same key at the same moment: take the next number.
            session.rollback()
            continue
        return Deployment(definition, created=True, warnings=compiled.warnings)
    raise RuntimeError(f"could not allocate a version for {compiled.process_key}")


# Compiling a diagram (parse, checks, bpmnlint, spec serialization) is a pure function of its content and the
# catalogs it is checked against, and the costliest part of a deploy: a catalog file of a dozen processes takes
# over half a second. Remembered per content and catalogs, so start-up and every test's fresh database re-deploy
# the shipped catalog without recompiling it.
_COMPILED: dict[tuple, tuple[Any, str]] = {}
_COMPILED_MAX = 64


def _compiled(raw: bytes, digest: str, *, process_key: str | None, dmn: Sequence[bytes],
              roles: Collection[str] | None, form_keys: Collection[str] | None, lint: bool,
              agencies: Collection[str] | None) -> tuple[Any, str]:
    def frozen(items: Collection[str] | None) -> frozenset[str] | None:
        return None if items is None else frozenset(items)

    key = (digest, process_key, lint, frozen(roles), frozen(form_keys), frozen(agencies))
    found = _COMPILED.get(key)
    if found is None:
        compiled = compile_bpmn(raw, process_key=process_key, dmn=dmn, roles=roles, form_keys=form_keys, lint=lint,
                                agencies=agencies)
        found = (compiled, dump_spec(compiled.spec, compiled.subprocess_specs))
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = found
    return found


def list_definitions(session: Session) -> list[tuple[ProcessDefinition, int]]:
    """Every version of every key with its count of running instances."""
    running = (
        select(ProcessInstance.definition_id, func.count().label("n"))
        .where(ProcessInstance.status == InstanceStatus.RUNNING)
        .group_by(ProcessInstance.definition_id)
        .subquery()
    )
    rows = session.execute(
        select(ProcessDefinition, func.coalesce(running.c.n, 0))
        .outerjoin(running, running.c.definition_id == ProcessDefinition.id)
        .order_by(ProcessDefinition.key, ProcessDefinition.version)
    ).all()
    return [(d, int(n)) for d, n in rows]


def versions_of(session: Session, key: str) -> list[tuple[ProcessDefinition, int]]:
    """The versions of one process key, newest first, with their running-instance counts."""
    return sorted((item for item in list_definitions(session) if item[0].key == key),
                  key=lambda item: item[0].version, reverse=True)
