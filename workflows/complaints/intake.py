"""Lodging a complaint (投诉举报受理): the public intake (page or API, no login, throttled per source address) and the
staff intake (a street or community worker records a complaint taken by phone, letter or visit, in their own
jurisdiction, throttled per user). `submit` is the one entry both the API and the public page call.

The household is found by the ID number given (the register's head of household, a member the aid register knows,
or an applicant) or by a case number, and the complaint goes to that household's street. The public answer must not
tell whether an ID number is known here: a public complaint whose household is not found is accepted all the same
(201 with a reference) and kept unmatched (待分派: status received, no street, no process) for the district staff to
sort out; only malformed input (checksum, lengths) is a 422. Staff know their own jurisdiction: a household not
found in it is a field error for them.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import EngineError, Forbidden, InvalidInput
from engine.runtime import Engine

from .. import access
from ..aid.models import AidRecord, AidRecordMember
from ..aid.records import household_id_numbers
from ..cases import _id_number
from ..idcard import mask_name, validate_id_number
from ..models import Case, User
from ..register.models import Recipient, RecipientStatus
from ..register.queries import recipient_for_case
from .models import Complaint, ComplaintChannel, ComplaintIntakeCount, ComplaintStatus

PROCESS_KEY = "complaint"
KEY_PREFIX = "complaint:"
# Who may record a complaint for someone else (channel staff): the street office and the community workers who
# take complaints in person, and the supervisors and admins behind the hotline.
STAFF_INTAKE_ROLES = frozenset({"community_worker", "street_clerk", "street_reviewer", "supervisor", "admin"})
# Public submissions per source address and window (refused ones count too); staff submissions per user.
PUBLIC_LIMIT = 5
STAFF_LIMIT = 30
PUBLIC_WINDOW = timedelta(minutes=10)
# Staff only: the public never learns whether a household is known.
UNKNOWN_HOUSEHOLD = "本辖区未找到该身份证号或案件对应的救助申请或保障对象，请核对后重新填写"


class TooManySubmissions(EngineError):
    """Too many complaints from one address (public) or one user (staff) in the window; retry_after in seconds."""

    code = "too_many_requests"

    def __init__(self, retry_after: int):
        self.retry_after = max(1, retry_after)
        super().__init__("提交过于频繁，请稍后再试，或拨打 12345 热线、到街道办事处当面反映")


def complaint_business_key(complaint_id: int) -> str:
    return f"{KEY_PREFIX}{complaint_id}"


class ComplaintSchema(Schema):
    household_id_number = fields.String(
        load_default=None, allow_none=True, validate=_id_number,
        metadata={"description": "被举报家庭成员的身份证号（或填 case_id）"})
    case_id = fields.Integer(strict=True, load_default=None, allow_none=True,
                             validate=validate.Range(min=1, max=2**63 - 1, error="案件编号无效"),
                             metadata={"description": "被举报案件的编号（公示页可见）"})
    text = fields.String(required=True, validate=validate.Length(min=5, max=2000,
                                                                 error="请具体说明举报内容（5 到 2000 字）"),
                         metadata={"description": "举报内容"})
    reporter = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(max=100, error="不能超过 100 字"))
    contact = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=100, error="不能超过 100 字"))

    @validates_schema(skip_on_field_errors=False)
    def _household_named(self, data, **kwargs):
        if not (data.get("household_id_number") or "").strip() and data.get("case_id") is None:
            if "household_id_number" not in data and "case_id" not in data:
                return  # both failed their own checks: those messages say it already
            raise ValidationError("请填写被举报家庭成员的身份证号或案件编号", field_name="household_id_number")


def _clean(payload) -> dict:
    if not isinstance(payload, dict):
        raise InvalidInput("举报信息有误", {"body": ["应为 JSON 对象"]})
    try:
        data = ComplaintSchema().load(payload)
    except ValidationError as exc:
        raise InvalidInput("举报信息有误", exc.normalized_messages()) from exc
    for name in ("text", "reporter", "contact"):
        value = (data.get(name) or "").strip()
        data[name] = value or None
    if data["text"] is None or len(data["text"]) < 5:
        raise InvalidInput("举报信息有误", {"text": ["请具体说明举报内容（5 到 2000 字）"]})
    number = (data.get("household_id_number") or "").strip()
    data["household_id_number"] = validate_id_number(number) if number else None
    return data


# -- finding the household ---------------------------------------------------------------------------------------

@dataclass
class Household:
    case: Case
    recipient: Recipient | None
    id_number: str

    @property
    def place(self) -> tuple[str, str, str]:
        # The register's place when the household is on it (it is kept up to date), else the application's.
        source = self.recipient or self.case
        return source.district, source.street, source.community


def _case_of_id_number(session: Session, number: str) -> Case | None:
    recipients = list(session.scalars(select(Recipient).where(Recipient.head_id_number == number)
                                      .order_by(Recipient.id.desc()).limit(20)))
    current = [r for r in recipients if r.status != RecipientStatus.STOPPED] or recipients
    if current:
        return session.get(Case, current[0].case_id)
    # A member other than the head: the aid register keeps every member's number.
    case_id = session.scalar(select(AidRecord.case_id).join(AidRecordMember, AidRecordMember.aid_id == AidRecord.id)
                             .where(AidRecordMember.id_number == number, AidRecord.case_id.is_not(None))
                             .order_by(AidRecord.id.desc()).limit(1))
    if case_id is not None:
        return session.get(Case, case_id)
    return session.scalars(select(Case).where(Case.applicant_id_number == number)
                           .order_by(Case.id.desc()).limit(1)).first()


def find_household(session: Session, id_number: str | None, case_id: int | None) -> Household | None:
    """The household the complaint is about, or None when what was given names none known here (an ID number
    nobody here has, or one that is not of the named case's household). A case number that does not exist is a
    field error: case numbers are published on the notice page, so that answer tells nothing about a person."""
    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None:
            raise InvalidInput("未找到被举报的案件", {"case_id": ["案件编号不存在，请核对"]})
        if id_number and id_number.upper() not in household_id_numbers(case):
            return None
        return Household(case, recipient_for_case(session, case.id), id_number or case.applicant_id_number)
    assert id_number is not None
    case = _case_of_id_number(session, id_number)
    if case is None:
        return None
    return Household(case, recipient_for_case(session, case.id), id_number)


# -- throttling --------------------------------------------------------------------------------------------------

def _source_key(source: str) -> str:
    return hashlib.sha256(f"complaint\0{source}".encode()).hexdigest()


def count_submission(session: Session, source: str, now: datetime) -> tuple[int, int]:
    """Count one submission from `source` (an address, or "user:<name>"): (submissions in the current window,
    seconds until it ends). Atomic (one UPDATE … RETURNING, or the INSERT that opens a window), and committed at
    once, so a submission refused later still counts."""
    table, key, expired = ComplaintIntakeCount, _source_key(source), now - PUBLIC_WINDOW
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for _ in range(3):
        row = session.execute(
            update(table).where(table.key == key, table.window_start > expired).values(count=table.count + 1)
            .returning(table.count, table.window_start).execution_options(synchronize_session=False)).first()
        if row is None:
            row = session.execute(
                insert(table).values(key=key, window_start=now, count=1)
                .on_conflict_do_update(index_elements=["key"], set_={"window_start": now, "count": 1},
                                       where=table.window_start <= expired)
                .returning(table.count, table.window_start)).first()
        if row is not None:
            session.commit()
            count, window_start = row[0], row[1]  # by position: Row.count is tuple's method
            window_end = window_start.astimezone(SHANGHAI) + PUBLIC_WINDOW
            return count, max(1, int((window_end - now).total_seconds()))
        session.commit()  # a parallel submission opened the window just now: count into it
    return STAFF_LIMIT + 1, int(PUBLIC_WINDOW.total_seconds())  # pragma: no cover - the row kept changing


# -- lodging -----------------------------------------------------------------------------------------------------

def _reference(session: Session, now: datetime) -> str:
    day = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    while True:
        reference = f"TS{day}{secrets.token_hex(4).upper()}"
        if session.scalar(select(Complaint.id).where(Complaint.reference == reference)) is None:
            return reference


def submit(session: Session, engine: Engine, payload, *, user: User | None, source: str) -> Complaint:
    """The intake both the API and the public page call: checks the role, throttles (the public per source
    address, staff per user; every submission counts, refused ones too), then lodges. Raises Forbidden,
    TooManySubmissions or InvalidInput."""
    if user is not None and user.role not in STAFF_INTAKE_ROLES:
        raise Forbidden("当前角色不能登记投诉举报")
    limit = STAFF_LIMIT if user is not None else PUBLIC_LIMIT
    count, retry_after = count_submission(session, f"user:{user.username}" if user is not None else source,
                                          engine.now())
    if count > limit:
        raise TooManySubmissions(retry_after)
    return lodge(session, engine, payload, user=user)


def lodge(session: Session, engine: Engine, payload, *, user: User | None) -> Complaint:
    """Record a complaint and start its process in the household's street (or keep it unmatched, public only);
    commits. `user` None is the public intake; `submit` has checked the role and counted the submission."""
    data = _clean(payload)
    household = find_household(session, data["household_id_number"], data["case_id"])
    if user is not None and (household is None or not access.in_scope(user, *household.place)):
        # The same answer for unknown and for outside the jurisdiction: staff learn nothing beyond their own.
        field = "case_id" if data["case_id"] is not None and not data["household_id_number"] else \
            "household_id_number"
        raise InvalidInput("未找到被举报的家庭", {field: [UNKNOWN_HOUSEHOLD]})
    now = engine.now()
    common = dict(reference=_reference(session, now), text=data["text"], reporter=data["reporter"],
                  contact=data["contact"], channel=ComplaintChannel.STAFF if user is not None else ComplaintChannel.PUBLIC,
                  received_by=user.username if user is not None else None, status=ComplaintStatus.RECEIVED,
                  created_at=now)
    if household is None:
        # 待分派: no street to route it to. The case named (if any) stays on it, so the case's next decision is
        # still spot-checked (workflows.complaints.rules).
        complaint = Complaint(household_id_number=data["household_id_number"], case_id=data["case_id"],
                              district=None, street=None, community=None, **common)
        session.add(complaint)
        session.commit()
        return complaint
    district, street, community = household.place
    complaint = Complaint(
        household_id_number=household.id_number, case_id=household.case.id,
        recipient_id=household.recipient.id if household.recipient else None, district=district, street=street,
        community=community, **common)
    session.add(complaint)
    session.flush()
    recipient = household.recipient
    instance = engine.start(
        PROCESS_KEY,
        business_key=complaint_business_key(complaint.id),
        started_by=user.username if user is not None else "public",
        scope={"district": district, "street": street, "community": community},
        # What the street needs to work it — never the ID number (task data is shown and copied around).
        data={"complaint_id": complaint.id, "reference": complaint.reference, "case_id": household.case.id,
              "recipient_id": recipient.id if recipient else None, "program": household.case.program,
              "head_name": mask_name(household.case.applicant_name), "district": district, "street": street,
              "community": community, "complaint_text": complaint.text, "channel": complaint.channel.value,
              "monthly_amount": float(recipient.monthly_amount) if recipient else None,
              "recipient_status": recipient.status.value if recipient else None},
    )
    complaint.process_instance_id = instance.id
    session.commit()
    return complaint
