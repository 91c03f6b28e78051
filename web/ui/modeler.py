"""流程设计: the BPMN modeler, versions and their differences, instance migration, and the instance viewer.

For `process_designer` (and `admin`). The modeler page itself talks to the REST API with the login session (and the
page's CSRF token); versions, differences and migration are server-rendered pages with plain forms.
"""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_wtf.csrf import generate_csrf
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.clock import SHANGHAI
from engine.deploy import list_definitions, versions_of
from engine.errors import EngineError
from engine.migration import migrate_many, preview, select_instances
from engine.models import AuditEntry, DiagramDraft, InstanceStatus, ProcessDefinition, ProcessInstance
from engine.versions import diff_versions
from workflows.agencies import AGENCIES
from workflows.forms import FORMS
from workflows.forms.designed_store import latest_forms
from workflows.roles import ROLES, TASK_ROLES

from ..engine_access import engine
from ..extensions import db
from .common import page_user, roles_required
from .labels import ACTIONS

bp = Blueprint("modeler", __name__, url_prefix="/modeler")

DESIGNERS = ("process_designer",)


def _beijing(value) -> str:
    """An instant (datetime or ISO string) as Beijing wall time, minutes."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


@bp.context_processor
def _globals():
    return {"shanghai": SHANGHAI, "beijing": _beijing, "action_names": ACTIONS}


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def _catalog() -> dict:
    return {
        "roles": [{"key": key, "name": ROLES[key].name} for key in sorted(TASK_ROLES)],
        "forms": [{"key": f.key, "title": f.title} for f in FORMS.values()]
        # designed (form-js) forms beside the registered ones: the version is pinned when the diagram deploys
        + [{"key": f.key, "title": f"{f.name}（设计表单 第 {f.version} 版）"} for f in latest_forms(db.session)],
        "agencies": [{"name": name} for name in AGENCIES],  # a user task's `agency` (workflows.agencies)
    }


@bp.get("/")
@roles_required(*DESIGNERS)
def index():
    """Processes with their latest version, running instances, drafts; start a new diagram."""
    processes: dict[str, dict] = {}
    for definition, running in list_definitions(db.session):
        item = processes.setdefault(definition.key, {"key": definition.key, "running": 0, "versions": 0})
        item["running"] += running
        item["versions"] += 1
        item["latest"] = definition
    drafts = db.session.scalars(select(DiagramDraft).order_by(DiagramDraft.updated_at.desc())).all()
    return render_template("modeler/index.html", processes=sorted(processes.values(), key=lambda p: p["key"]),
                           drafts=drafts)


@bp.get("/edit")
@roles_required(*DESIGNERS)
def edit():
    """The modeler: `?key=` (latest version) `&version=`, `?key=&draft=1`, or `?new=1&key=&name=`."""
    key = (request.args.get("key") or "").strip()
    version = request.args.get("version") or ""
    config: dict = {"api": "/api/v1/", "csrf": generate_csrf(), **_catalog(),
                    "versionsUrl": url_for("modeler.versions", key="__KEY__")}
    error = None
    if request.args.get("new"):
        if not _KEY.match(key):
            error = "流程标识须以字母开头，只含字母、数字、下划线、点或连字符（不超过 100 个字符）"
        config.update(open="new", key=key or "new_process", name=(request.args.get("name") or "新流程")[:200])
    elif request.args.get("draft"):
        config.update(open="draft", key=key)
    else:
        latest = db.session.scalar(select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == key))
        if latest is None:
            abort(404)
        if version and not version.isdecimal():
            abort(404)
        config.update(open="version", key=key, version=int(version) if version else None, latestVersion=latest)
    if error:
        return render_template("modeler/index.html", processes=[], drafts=[], error=error), 422
    return render_template("modeler/edit.html", config=config)


def _definition(key: str, version: int | str | None) -> ProcessDefinition:
    if version in (None, "") or not str(version).isdecimal():
        abort(404)
    definition = db.session.scalars(select(ProcessDefinition).where(
        ProcessDefinition.key == key, ProcessDefinition.version == int(version))).first()
    if definition is None:
        abort(404)
    return definition


@bp.get("/<key>/versions")
@roles_required(*DESIGNERS)
def versions(key: str):
    """Versions of one process: who deployed when, running instances; compare two; migrate; running instances."""
    items = versions_of(db.session, key)
    if not items:
        abort(404)
    running = db.session.scalars(
        select(ProcessInstance).where(ProcessInstance.process_key == key,
                                      ProcessInstance.status == InstanceStatus.RUNNING)
        .order_by(ProcessInstance.id.desc()).limit(50)).all()
    return render_template("modeler/versions.html", key=key, items=items, running=running,
                           latest=items[0][0].version)


@bp.get("/<key>/diff")
@roles_required(*DESIGNERS)
def diff(key: str):
    """The readable difference between two versions (`?from=&to=`)."""
    new = _definition(key, request.args.get("to"))
    old = _definition(key, request.args.get("from") or (new.version - 1))
    result = diff_versions(old.bpmn_xml, new.bpmn_xml, key)
    return render_template("modeler/diff.html", key=key, old=old, new=new, diff=result)


def _bool(name: str, default: bool = True) -> bool:
    if request.method == "GET" and name not in request.args:
        return default
    source = request.form if request.method == "POST" else request.args
    return source.get(name) in ("1", "on", "true")


@bp.route("/<key>/migrate", methods=["GET", "POST"])
@roles_required(*DESIGNERS)
def migrate(key: str):
    """Preview and run the migration of running instances to a version (one, a list, or a filter)."""
    items = versions_of(db.session, key)
    if not items:
        abort(404)
    source = request.form if request.method == "POST" else request.args
    latest = items[0][0].version
    form = {
        "to_version": source.get("to_version") or str(latest),
        "from_version": source.get("from_version") or "",
        "element_id": (source.get("element_id") or "").strip(),
        "street": (source.get("street") or "").strip(),
        "instance_ids": (source.get("instance_ids") or "").strip(),
        "keep_timers": _bool("keep_timers"),
        "keep_deadlines": _bool("keep_deadlines"),
    }
    results = None
    executed = False
    error = None
    if request.method == "POST" or source.get("preview"):
        try:
            to_version = int(form["to_version"])
            from_version = int(form["from_version"]) if form["from_version"] else None
            ids = [int(x) for x in re.split(r"[\s,，、]+", form["instance_ids"]) if x] or None
        except ValueError:
            error = "版本号和实例编号须为整数"
        else:
            if to_version not in {d.version for d, _ in items}:
                error = f"流程 {key} 没有版本 {to_version}"
        if error is None:
            bpm = engine()
            try:
                chosen = [i.id for i in select_instances(bpm, key, from_version=from_version,
                                                         element_id=form["element_id"] or None,
                                                         street=form["street"] or None, instance_ids=ids)]
                user = page_user()
                if request.method == "POST" and request.form.get("action") == "execute":
                    results = migrate_many(bpm, chosen, to_version, actor=user.username if user else None,
                                           keep_timers=form["keep_timers"], keep_deadlines=form["keep_deadlines"])
                    executed = True
                else:
                    results = [preview(bpm, i, to_version, keep_timers=form["keep_timers"],
                                       keep_deadlines=form["keep_deadlines"]) for i in chosen]
            except EngineError as exc:
                error = str(exc)
    status = 422 if error else 200
    return render_template("modeler/migrate.html", key=key, items=items, form=form, results=results,
                           executed=executed, error=error), status


def _marks(instance: ProcessInstance) -> dict[str, list[str]]:
    workflow = engine().workflow_of(instance)
    marks: dict[str, set[str]] = {"completed": set(), "active": set(), "waiting": set()}
    for task in workflow.get_tasks():
        element_id = task.task_spec.bpmn_id
        if not element_id:
            continue
        if task.state == TaskState.COMPLETED:
            marks["completed"].add(element_id)
        elif task.state in (TaskState.READY, TaskState.STARTED):
            marks["active"].add(element_id)
        elif task.state == TaskState.WAITING:
            marks["waiting"].add(element_id)
    # A loop back (e.g. objection → re-appraisal) leaves earlier passes completed: the current state wins.
    marks["completed"] -= marks["active"] | marks["waiting"]
    return {k: sorted(v) for k, v in marks.items()}


@bp.get("/instances/<int:instance_id>")
@roles_required(*DESIGNERS)
def instance(instance_id: int):
    """Any instance's diagram with completed, active and waiting elements marked, and its history."""
    found = db.session.get(ProcessInstance, instance_id)
    if found is None:
        abort(404)
    try:
        marks = _marks(found)
    except EngineError:
        marks = {"completed": [], "active": [], "waiting": []}
    history = db.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == found.id)
                                 .order_by(AuditEntry.id)).all()
    config = {"xml": found.definition.bpmn_xml, **marks}
    return render_template("modeler/instance.html", instance=found, config=config, history=history)


@bp.get("/instances")
@roles_required(*DESIGNERS)
def find_instance():
    """Jump to an instance by its number."""
    value = (request.args.get("id") or "").strip()
    if not value.isdecimal():
        abort(404)
    return redirect(url_for("modeler.instance", instance_id=int(value)))
