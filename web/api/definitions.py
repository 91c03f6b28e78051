"""Process definitions: deploy, validate, drafts, versions, differences between versions, instance migration."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from engine.definitions import choose_process, compile_bpmn, parse_xml_safely
from engine.deploy import deploy, list_definitions, versions_of
from engine.errors import Conflict, InvalidDefinition, InvalidInput, NotFound, Problem
from engine.migration import migrate_many, preview, select_instances
from engine.models import DiagramDraft, ProcessDefinition
from engine.versions import diff_versions
from workflows.agencies import AGENCIES
from workflows.forms.designed_store import form_keys
from workflows.roles import TASK_ROLES

from ..auth import current_user, roles_required
from ..extensions import db
from .common import API_PREFIX, doc, engine, iso, json_body, load

bp = Blueprint("api_definitions", __name__, url_prefix=f"{API_PREFIX}/process-definitions")

DESIGNERS = ("process_designer",)
UPLOAD_LIMIT = 16 * 1024 * 1024  # a request body; the diagram itself is held to engine.definitions.MAX_BPMN_BYTES


@bp.before_request
def _cap_uploads():
    """Uploads are capped here whatever the application-wide setting says (CSRF for session callers: web.app)."""
    if request.max_content_length is None or request.max_content_length > UPLOAD_LIMIT:
        request.max_content_length = UPLOAD_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc):
    limit = (request.max_content_length or UPLOAD_LIMIT) // (1024 * 1024)
    return jsonify({"error": {"code": "payload_too_large",
                              "message": f"上传内容过大：请求体上限为 {limit} MB，BPMN 文件上限为 5 MB"}}), 413


def definition_json(d: ProcessDefinition, running: int | None = None) -> dict:
    item = {"key": d.key, "version": d.version, "name": d.name, "deployed_at": iso(d.deployed_at),
            "deployed_by": d.deployed_by, "user_tasks": d.user_tasks}
    if running is not None:
        item["running_instances"] = running
    return item


def problems_json(problems: list[Problem]) -> list[dict]:
    return [p.as_dict() for p in problems]


@bp.get("")
@doc(tag="definitions")
def index():
    """Every deployed version of every process, with its count of running instances."""
    current_user()
    return jsonify([definition_json(d, n) for d, n in list_definitions(db.session)])


def _uploaded_xml() -> bytes:
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput("请以 file 字段上传 BPMN 文件", {"file": ["缺少文件"]})
        return upload.read()
    if request.is_json:
        body = json_body()
        if not isinstance(body.get("xml"), str) or not body["xml"].strip():
            raise InvalidInput("请在 xml 字段提交 BPMN XML", {"xml": ["缺少 BPMN XML"]})
        return body["xml"].encode("utf-8")
    if not request.data:
        raise InvalidInput("请求体为空：请提交 BPMN XML", {"body": ["缺少 BPMN XML"]})
    return request.data


def _process_param() -> str | None:
    value = (request.args.get("process") or "").strip()
    return value or None


@bp.post("")
@roles_required(*DESIGNERS)
@doc(tag="definitions", responses={201: "deployed", 200: "unchanged", 422: "problems"})
def create():
    """Deploy a BPMN diagram (XML body, JSON `{xml}` or multipart `file`; `?process=` picks one of several pools).

    Unchanged content makes no new version; the answer lists bpmnlint warnings that did not stop the deploy.
    """
    user = current_user()
    result = deploy(db.session, _uploaded_xml(), now=engine().now(), deployed_by=user.username,
                    roles=TASK_ROLES, form_keys=form_keys(db.session), agencies=set(AGENCIES),
                    process_key=_process_param())
    body = {"key": result.definition.key, "version": result.definition.version, "created": result.created,
            "warnings": problems_json(result.warnings)}
    if result.created:
        _drop_draft(result.definition.key, request.args.get("draft_revision"))
    return jsonify(body), 201 if result.created else 200


def _drop_draft(key: str, revision: str | None) -> None:
    """Deploying from the modeler retires the draft it came from (only that revision: a newer save stays)."""
    if not revision or not revision.isdecimal():
        return
    draft = db.session.scalars(select(DiagramDraft).where(DiagramDraft.key == key)).first()
    if draft is not None and draft.revision == int(revision):
        db.session.delete(draft)
        db.session.commit()


def validation_json(xml: bytes, process_key: str | None) -> dict:
    """Every problem and warning of a diagram, as the modeler shows them; never raises for a bad diagram."""
    key = None
    try:
        compiled = compile_bpmn(xml, process_key=process_key, roles=TASK_ROLES, form_keys=form_keys(db.session),
                                lint=True, agencies=set(AGENCIES))
    except InvalidDefinition as exc:
        problems, warnings = exc.problems, getattr(exc, "warnings", [])
    else:
        problems, warnings, key = [], compiled.warnings, compiled.process_key
    return {"valid": not problems, "process_key": key, "problems": problems_json(problems),
            "warnings": problems_json(warnings)}


@bp.post("/validate")
@roles_required(*DESIGNERS)
@doc(tag="definitions", responses={200: "`{valid, problems[], warnings[]}`"})
def validate_only():
    """Validate a diagram without deploying it: the same checks as a deploy (parser, dialect, bpmnlint)."""
    return jsonify(validation_json(_uploaded_xml(), _process_param()))


# -- drafts ------------------------------------------------------------------------------------------------------

def draft_json(draft: DiagramDraft, *, with_xml: bool = False) -> dict:
    item = {"key": draft.key, "name": draft.name, "revision": draft.revision,
            "based_on_version": draft.based_on_version, "problem_count": draft.problem_count,
            "updated_at": iso(draft.updated_at), "updated_by": draft.updated_by}
    if with_xml:
        item["xml"] = draft.bpmn_xml
    return item


class DraftRequest(Schema):
    xml = fields.String(required=True, validate=validate.Length(min=1))
    revision = fields.Integer(load_default=None, allow_none=True)
    based_on_version = fields.Integer(load_default=None, allow_none=True)


@bp.get("/drafts")
@roles_required(*DESIGNERS)
@doc(tag="definitions")
def drafts():
    """Saved drafts, one per process key, newest first."""
    rows = db.session.scalars(select(DiagramDraft).order_by(DiagramDraft.updated_at.desc())).all()
    return jsonify([draft_json(d) for d in rows])


@bp.post("/drafts")
@roles_required(*DESIGNERS)
@doc(body=DraftRequest, tag="definitions", responses={409: "someone saved a newer revision"})
def save_draft():
    """Save a draft `{xml, revision?, based_on_version?}`; it may have problems, they are returned with it.

    `revision` is the revision the designer started from (none for a new draft): a stale one answers 409.
    """
    user = current_user()
    body = load(DraftRequest(), json_body())
    raw = body["xml"].encode("utf-8")
    root = parse_xml_safely(raw)  # a draft may be wrong, but it must be safe, well-formed BPMN
    process = choose_process(root, _process_param())
    key = (process.get("id") or "").strip()
    if not key or len(key) > 100:
        raise InvalidDefinition([Problem(process.get("id"), "流程 id 须为 1–100 个字符")])
    validation = validation_json(raw, key)
    now = engine().now()
    draft = db.session.scalars(select(DiagramDraft).where(DiagramDraft.key == key)).first()
    if draft is None:
        draft = DiagramDraft(key=key, created_at=now, revision=0)
        db.session.add(draft)
    elif body["revision"] is not None and body["revision"] != draft.revision:
        raise Conflict(f"草稿已被 {draft.updated_by or '他人'} 更新（第 {draft.revision} 版），请先重新打开")
    draft.name = (process.get("name") or key)[:200]
    draft.bpmn_xml = body["xml"]
    draft.revision = (draft.revision or 0) + 1
    if body["based_on_version"] is not None:
        draft.based_on_version = body["based_on_version"]
    draft.problem_count = len(validation["problems"])
    draft.updated_at = now
    draft.updated_by = user.username
    db.session.commit()
    return jsonify({**draft_json(draft), **{k: validation[k] for k in ("valid", "problems", "warnings")}})


def _draft_or_404(key: str) -> DiagramDraft:
    draft = db.session.scalars(select(DiagramDraft).where(DiagramDraft.key == key)).first()
    if draft is None:
        raise NotFound("没有该流程的草稿")
    return draft


@bp.get("/drafts/<key>")
@roles_required(*DESIGNERS)
@doc(tag="definitions")
def show_draft(key: str):
    """One draft with its XML."""
    return jsonify(draft_json(_draft_or_404(key), with_xml=True))


@bp.delete("/drafts/<key>")
@roles_required(*DESIGNERS)
@doc(tag="definitions")
def delete_draft(key: str):
    """Discard a draft."""
    db.session.delete(_draft_or_404(key))
    db.session.commit()
    return jsonify({"deleted": key})


# -- versions ------------------------------------------------------------------------------------------------------

def _version(key: str, version: str | int | None) -> ProcessDefinition:
    stmt = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if version not in (None, ""):
        if not str(version).isdecimal():
            raise InvalidInput("version 须为正整数", {"version": ["须为正整数"]})
        stmt = stmt.where(ProcessDefinition.version == int(version))
    definition = db.session.scalars(stmt.order_by(ProcessDefinition.version.desc()).limit(1)).first()
    if definition is None:
        raise NotFound(f"流程 {key} 没有版本 {version}" if version else "流程定义不存在")
    return definition


@bp.get("/<key>/xml")
@doc(tag="definitions")
def xml(key: str):
    """The BPMN XML of a version (`?version=`, default the latest)."""
    current_user()
    definition = _version(key, request.args.get("version"))
    return definition.bpmn_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


@bp.get("/<key>/versions")
@doc(tag="definitions")
def versions(key: str):
    """The versions of one process, newest first: who deployed when, running instances on each."""
    current_user()
    items = versions_of(db.session, key)
    if not items:
        raise NotFound("流程定义不存在")
    return jsonify([definition_json(d, n) for d, n in items])


@bp.get("/<key>/diff")
@doc(tag="definitions")
def diff(key: str):
    """Elements added, removed and changed between two versions (`?from=1&to=2`, default previous → latest)."""
    current_user()
    new = _version(key, request.args.get("to"))
    old_version = request.args.get("from")
    if old_version in (None, ""):
        if new.version <= 1:
            raise InvalidInput("只有一个版本，无从比较", {"from": ["请指定要比较的版本"]})
        old_version = str(new.version - 1)
    old = _version(key, old_version)
    return jsonify({"key": key, "from": old.version, "to": new.version,
                    **diff_versions(old.bpmn_xml, new.bpmn_xml, key)})


# -- migration -----------------------------------------------------------------------------------------------------

class MigrationRequest(Schema):
    to_version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    from_version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1))
    instance_ids = fields.List(fields.Integer(), load_default=None, allow_none=True,
                               validate=validate.Length(max=5000))
    element_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    street = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    keep_timers = fields.Boolean(load_default=True)
    keep_deadlines = fields.Boolean(load_default=True)


def _migration_request(key: str) -> tuple[dict, int, list]:
    body = load(MigrationRequest(), json_body())
    target = _version(key, body["to_version"])
    chosen = select_instances(engine(), key, from_version=body["from_version"], element_id=body["element_id"],
                              street=body["street"], instance_ids=body["instance_ids"])
    return body, target.version, [i.id for i in chosen]


def _summary(results) -> dict:
    items = [r.as_dict() for r in results]
    return {"items": items, "count": len(items), "ok": sum(1 for r in results if r.ok),
            "refused": sum(1 for r in results if not r.ok)}


@bp.post("/<key>/migrations/preview")
@roles_required(*DESIGNERS)
@doc(body=MigrationRequest, tag="definitions")
def migration_preview(key: str):
    """What migrating the matching running instances to `to_version` would do to each; nothing is changed."""
    body, target, ids = _migration_request(key)
    results = [preview(engine(), i, target, keep_timers=body["keep_timers"], keep_deadlines=body["keep_deadlines"])
               for i in ids]
    return jsonify({"to_version": target, **_summary(results)})


@bp.post("/<key>/migrations")
@roles_required(*DESIGNERS)
@doc(body=MigrationRequest, tag="definitions")
def migration_execute(key: str):
    """Migrate the matching running instances (filter: `from_version`, `instance_ids`, `element_id`, `street`).

    Each instance in its own transaction: fully migrated or untouched; refusals carry their reason.
    """
    user = current_user()
    body, target, ids = _migration_request(key)
    results = migrate_many(engine(), ids, target, actor=user.username, keep_timers=body["keep_timers"],
                           keep_deadlines=body["keep_deadlines"])
    return jsonify({"to_version": target, **_summary(results)})
