"""Opening a case: validate the application, find its jurisdiction and standard, start the program's process."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.runtime import Engine

from . import access, messages, program_details, rulesets
from .idcard import validate_id_number
from .listener import case_business_key
from .models import Case, CaseStatus, Jurisdiction, LocalStandard, User
from .programs import PROGRAMS
from .register.enrolment import area_of
from .register.months import month_of
from .register.standards import amount_program, standard_in_force
from .subsidy import DEFAULT_TOPUP_RATES


def _id_number(value: str) -> None:
    try:
        validate_id_number(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


# Bounds on what an application may carry: the household is stored on the case and in the workflow state, and
# every step of the case carries it along.
MAX_ASSET_ITEMS = 50
MAX_ASSET_KEY = 50
MAX_ASSET_TEXT = 2000
MAX_ASSETS_BYTES = 16 * 1024


def _assets(value: dict) -> None:
    """`household.assets`: at most 50 items with short names, texts of at most 2000 characters, 16 KB in all."""
    if len(value) > MAX_ASSET_ITEMS:
        raise ValidationError(messages.TOO_MANY_ITEMS.format(max=MAX_ASSET_ITEMS))
    problems = []
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_ASSET_KEY:
            problems.append(f"项目名称{messages.LENGTH_BETWEEN.format(min=1, max=MAX_ASSET_KEY)}")
        elif isinstance(item, str) and len(item) > MAX_ASSET_TEXT:
            problems.append(f"{key}：{messages.LENGTH_MAX.format(max=MAX_ASSET_TEXT)}")
    if problems:
        raise ValidationError(problems[:10])
    try:
        size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        raise ValidationError(messages.INVALID) from None
    if size > MAX_ASSETS_BYTES:
        raise ValidationError(messages.CONTENT_TOO_LARGE.format(limit=MAX_ASSETS_BYTES // 1024))


class ApplicantSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    id_number = fields.String(required=True, validate=_id_number)
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9+\- ]{5,20}$", error="电话号码格式不正确"))


class MemberSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    id_number = fields.String(required=True, validate=_id_number)
    relation = fields.String(required=True, validate=validate.Length(min=1, max=20))
    birth_date = fields.Date(required=True)
    work_capacity = fields.String(required=True, validate=validate.OneOf(["full", "partial", "none"]))
    disability_grade = fields.Integer(load_default=None, validate=validate.Range(min=1, max=4))
    serious_illness = fields.Boolean(load_default=False)


class HouseholdSchema(Schema):
    members = fields.List(fields.Nested(MemberSchema), required=True, validate=validate.Length(min=1, max=30))
    monthly_income = fields.Decimal(required=True, validate=validate.Range(min=0), places=2, as_string=False)
    assets = fields.Dict(load_default=dict, validate=_assets)

    @validates_schema
    def _distinct_members(self, data, **kwargs):
        ids = [m["id_number"].upper() for m in data.get("members", [])]
        if len(ids) != len(set(ids)):
            raise ValidationError("家庭成员身份证号重复", "members")


class CaseSchema(Schema):
    program = fields.String(required=True, validate=validate.Length(max=50))
    street = fields.String(required=True, validate=validate.Length(max=50))
    community = fields.String(required=True, validate=validate.Length(max=50))
    applicant = fields.Nested(ApplicantSchema, required=True)
    household = fields.Nested(HouseholdSchema, required=True)
    # Checked by the program's own schema (workflows.program_details) once the program is known.
    details = fields.Raw(load_default=None)


def _json_ready(value):
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def locate(session: Session, street: str, community: str) -> tuple[str, str, str]:
    """(district, street, community) for names given by a client, or InvalidInput naming the wrong field."""
    street_row = session.scalars(
        select(Jurisdiction).where(Jurisdiction.level == "street", Jurisdiction.name == street)
    ).first()
    if street_row is None:
        raise InvalidInput("街道不存在", {"street": [f"未知街道：{street}"]})
    community_row = session.scalars(
        select(Jurisdiction).where(Jurisdiction.parent_id == street_row.id, Jurisdiction.name == community)
    ).first()
    if community_row is None:
        raise InvalidInput("社区不属于该街道", {"community": [f"{street} 下没有社区：{community}"]})
    district_row = session.get(Jurisdiction, street_row.parent_id)
    return district_row.name if district_row else "", street, community


def streets_with_communities(session: Session) -> list[tuple[str, Jurisdiction, list[Jurisdiction]]]:
    """(district name, street, its communities) for every street, in catalogue order, from one query."""
    rows = session.scalars(select(Jurisdiction).order_by(Jurisdiction.id)).all()
    names = {r.id: r.name for r in rows}
    children: dict[int, list[Jurisdiction]] = {}
    for r in rows:
        if r.parent_id is not None:
            children.setdefault(r.parent_id, []).append(r)
    return [(names.get(r.parent_id or 0, ""), r, children.get(r.id, [])) for r in rows if r.level == "street"]


def local_standard(session: Session, district: str, program: str, on: date,
                   area: str = "urban") -> LocalStandard | None:
    """The standard in force on the calendar day `on` (standards take effect from a month's first day)."""
    return standard_in_force(session, district, program, area, month_of(on))


def open_case(session: Session, engine: Engine, payload, user: User) -> Case:
    try:
        data = CaseSchema().load(payload if isinstance(payload, dict) else {})
    except ValidationError as exc:
        raise InvalidInput("申请信息有误", exc.normalized_messages()) from exc
    program = PROGRAMS.get(data["program"])
    if program is None:
        raise InvalidInput("未知救助项目", {"program": [f"未知项目：{data['program']}"]})
    if program.process_key is None:
        raise InvalidInput("该项目尚未配置审批流程", {"program": [f"{program.name} 暂未开通线上审批"]})
    details = program_details.load_details(program.key, data.get("details"))
    district, street, community = locate(session, data["street"], data["community"])
    # The district's rule set (e.g. 低保 under the 2012 or the 2021 procedure): see workflows.rulesets.
    process_key = rulesets.process_key_for(session, district, program.key) or program.process_key
    if not access.can_open_case(user, street, community, district, program.key):
        raise Forbidden("无权在该辖区受理申请")
    now = engine.now()
    # The standard in force on the Shanghai calendar day (a UTC date is yesterday before 08:00 there).
    # Programs without a standard of their own (the specialised projects) still see the 低保 standard: tiers and
    # income tests are multiples of it.
    area = area_of(session, district, street, community)
    today = now.astimezone(SHANGHAI).date()
    # 特困 amounts are multiples of the 低保 standard, not of 特困's own (register.standards.AMOUNT_STANDARD).
    standard_program = amount_program(program.key) if program.has_local_standard else "dibao"
    standard = local_standard(session, district, standard_program, today, area)
    if standard is None and program.has_local_standard:
        raise NotFound(f"{district} 未设置 {PROGRAMS[standard_program].name} 的保障标准")
    applicant = data["applicant"]
    household = _json_ready(data["household"])
    applicant_json = _json_ready(applicant)
    applicant_json["id_number"] = validate_id_number(applicant["id_number"])
    case = Case(
        program=program.key,
        district=district,
        street=street,
        community=community,
        applicant_name=applicant["name"],
        applicant_id_number=applicant_json["id_number"],
        applicant_phone=applicant.get("phone"),
        household=household,
        household_size=len(household["members"]),
        details=details or None,
        declared_monthly_income=data["household"]["monthly_income"],
        status=CaseStatus.IN_PROGRESS,
        stage="已提交",
        created_by=user.username,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    engine.start(
        process_key,
        business_key=case_business_key(case.id),
        started_by=user.username,
        scope={"district": district, "street": street, "community": community},
        data={
            "case_id": case.id,
            "program": program.key,
            "program_name": program.name,
            "lead_agency": program.lead_agency,
            "details": details,
            "district": district,
            "street": street,
            "community": community,
            "applicant": applicant_json,
            "household": household,
            "local_standard": float(standard.amount) if standard is not None else None,
            "topup_rates": (standard.topup_rates if standard is not None else None) or dict(DEFAULT_TOPUP_RATES),
        },
    )
    return case
