"""Designed forms' versions and pins: saving a form (a new version only when the schema changed), finding the
version a task uses, and pinning versions when a process definition is deployed.

Pinning runs in the deploying session's flush (a ``before_flush`` listener): every deploy path — the REST API,
``jiuzhu deploy``, the catalog deployed at start-up — stores its definition through ``engine.deploy``, and the pins
commit with the definition or not at all, without the engine knowing about forms. Redeploying an unchanged
diagram makes no new definition and so keeps its pins; a form's new version reaches new cases when the diagram
is deployed again with a change, and running cases keep the version their definition pinned.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import InvalidInput, NotFound
from engine.models import HumanTask, ProcessDefinition, ProcessInstance

from .designed import DesignedSchema, DesignError, json_schema_of, read_schema, validate_designed
from .designed_models import DesignedForm, DesignedFormPin
from .registry import FORMS

FORM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
MAX_NAME = 200


def content_hash(schema: dict) -> str:
    canonical = json.dumps(schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


# --- reading ----------------------------------------------------------------------------------------------------


def latest(session: Session, key: str) -> DesignedForm | None:
    return session.scalars(select(DesignedForm).where(DesignedForm.key == key)
                           .order_by(DesignedForm.version.desc()).limit(1)).first()


def version_of(session: Session, key: str, version: int | None = None) -> DesignedForm:
    """One version (None: the latest); NotFound in Chinese when there is none."""
    row = latest(session, key) if version is None else session.scalars(
        select(DesignedForm).where(DesignedForm.key == key, DesignedForm.version == version)).first()
    if row is None:
        raise NotFound(f"表单 {key} 没有第 {version} 版" if version is not None and latest(session, key)
                       else f"表单 {key} 不存在")
    return row


def latest_forms(session: Session) -> list[DesignedForm]:
    """The latest version of every designed form, by key."""
    newest = (select(DesignedForm.key, func.max(DesignedForm.version).label("version"))
              .group_by(DesignedForm.key).subquery())
    return list(session.scalars(select(DesignedForm).join(
        newest, (newest.c.key == DesignedForm.key) & (newest.c.version == DesignedForm.version))
        .order_by(DesignedForm.key)))


def designed_keys(session: Session) -> set[str]:
    return set(session.scalars(select(DesignedForm.key).distinct()))


def form_keys(session: Session) -> set[str]:
    """Every form a diagram's ``formKey`` may name: the registered ones and the designed ones."""
    return set(FORMS) | designed_keys(session)


_RULES: dict[str, DesignedSchema] = {}


def rules_of(row: DesignedForm) -> DesignedSchema:
    """The row's rules, read once per schema content (keyed by its hash: a stored version never changes)."""
    rules = _RULES.get(row.content_hash)
    if rules is None:
        rules = read_schema(row.schema)
        if len(_RULES) > 500:
            _RULES.clear()
        _RULES[row.content_hash] = rules
    return rules


def form_for_task(session: Session, task: HumanTask) -> DesignedForm | None:
    """The designed form version a task opens with: the one its process definition pinned (None for a task whose
    form is registered, or names no form)."""
    key = task.form_key
    if not key or key in FORMS:
        return None
    pinned = session.scalar(
        select(DesignedFormPin.form_version)
        .join(ProcessInstance, ProcessInstance.definition_id == DesignedFormPin.definition_id)
        .where(ProcessInstance.id == task.instance_id, DesignedFormPin.form_key == key))
    if pinned is not None:
        return version_of(session, key, pinned)
    # A definition deployed before this form existed cannot name it (the deploy check refuses), so this is a task
    # of a definition stored some other way: the latest version is the best answer there is.
    return latest(session, key)


def json_schema_for(row: DesignedForm) -> dict:
    """The JSON Schema of a version, for the task page's renderer (as registered forms give theirs)."""
    return json_schema_of(rules_of(row), row.name)


def validate_with(row: DesignedForm, data, now: datetime) -> dict:
    """Clean a task's submission against this version; FormError with per-field messages. `now` is the engine's
    clock (a date field that refuses past days compares with today in Beijing)."""
    return validate_designed(rules_of(row), data, today=now.astimezone(SHANGHAI).date())


def form_json(row: DesignedForm, *, with_schema: bool = True) -> dict:
    item = {"key": row.key, "kind": "designed", "name": row.name, "version": row.version}
    if with_schema:
        item["schema"] = row.schema
    return item


# --- saving -----------------------------------------------------------------------------------------------------


def save_form(session: Session, *, key, name, schema, user: str | None, now: datetime) -> tuple[DesignedForm, bool]:
    """Store a form; (row, created). An unchanged schema and name answer the latest version."""
    errors: dict[str, list[str]] = {}
    if not isinstance(key, str) or not FORM_KEY.match(key):
        errors["key"] = ["表单标识须以字母开头，只含字母、数字、下划线、点或连字符（不超过 100 个字符）"]
    elif key in FORMS:
        errors["key"] = [f"{key} 是系统内置表单（{FORMS[key].title}）的标识，请换一个"]
    if name is not None and (not isinstance(name, str) or len(name.strip()) > MAX_NAME):
        errors["name"] = [f"名称须为不超过 {MAX_NAME} 个字符的文本"]
    try:
        read_schema(schema)
    except DesignError as exc:
        errors["schema"] = exc.problems
    if errors:
        raise InvalidInput("表单定义有误", errors)
    digest = content_hash(schema)
    for _attempt in range(3):
        current = latest(session, key)
        title = (name or "").strip() or (current.name if current else key)
        if current is not None and current.content_hash == digest and current.name == title:
            return current, False
        row = DesignedForm(key=key, version=(current.version if current else 0) + 1, name=title, schema=schema,
                           content_hash=digest, created_by=user, created_at=now)
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()  # someone saved the same key at the same moment: take the next number
            continue
        return row, True
    raise RuntimeError(f"could not allocate a version for form {key}")


# --- pinning at deploy ------------------------------------------------------------------------------------------


def _pins_for(session: Session, definition: ProcessDefinition) -> list[DesignedFormPin]:
    keys = {t.get("form_key") for t in definition.user_tasks or [] if isinstance(t, dict)} - set(FORMS) - {None}
    if not keys:
        return []
    newest = session.execute(select(DesignedForm.key, func.max(DesignedForm.version))
                             .where(DesignedForm.key.in_(keys)).group_by(DesignedForm.key)).all()
    return [DesignedFormPin(definition=definition, form_key=key, form_version=version) for key, version in newest]


@event.listens_for(Session, "before_flush")
def _pin_deployed_forms(session: Session, _context, _instances) -> None:
    for obj in list(session.new):
        if isinstance(obj, ProcessDefinition):
            with session.no_autoflush:
                for pin in _pins_for(session, obj):
                    session.add(pin)
