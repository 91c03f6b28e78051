"""Reading complaints: the staff list scoped by jurisdiction, one complaint with its receivable, the answers'
shape. ID numbers are masked in every answer. The reporter's name and contact are kept confidential (the public
page promises 举报人信息依法予以保密): only the street reviewer and the district roles see them, in one complaint's
detail. Unmatched complaints (待分派: no household found, so no street) are seen by the district roles only."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, NotFound

from .. import access
from ..idcard import mask_id_number
from ..models import User
from ..money import multiple_text
from ..register.amounts import money_text
from ..register.queries import _iso as iso  # one ISO-8601 rule for the staff answers
from .models import Complaint, ComplaintOutcome, ComplaintStatus, Receivable

# Complaints are worked by the street office and the district; community workers see their community's (they
# take complaints in person). Agency staff work other matters.
READERS = frozenset({"community_worker", "street_clerk", "street_reviewer", "district_inspector",
                     "district_approver", "supervisor", "admin"})
# Who sorts out unmatched complaints (待分派), and who may read the reporter's name and contact.
DISTRICT_READERS = frozenset({"district_inspector", "district_approver", "supervisor", "admin"})
REPORTER_READERS = DISTRICT_READERS | {"street_reviewer"}
UNMATCHED_LABEL = "待分派"


def _check_reader(user: User) -> None:
    if user.role not in READERS:
        raise Forbidden("当前角色无权查看投诉举报")


@dataclass
class ComplaintFilter:
    status: str | None = None
    outcome: str | None = None
    street: str | None = None
    unmatched: bool | None = None

    def conditions(self, user: User) -> list:
        scope = access.scope_filter(user, Complaint)
        if user.role in DISTRICT_READERS:
            scope = or_(scope, Complaint.street.is_(None))
        found = [scope]
        if self.unmatched is not None:
            found.append(Complaint.street.is_(None) if self.unmatched else Complaint.street.is_not(None))
        if self.status:
            found.append(Complaint.status == ComplaintStatus(self.status))
        if self.outcome:
            found.append(Complaint.outcome == ComplaintOutcome(self.outcome))
        if self.street:
            found.append(Complaint.street == self.street)
        return found


def list_complaints(session: Session, user: User, flt: ComplaintFilter, *, limit: int, offset: int
                    ) -> tuple[list[Complaint], int]:
    _check_reader(user)
    where = and_(*flt.conditions(user))
    rows = list(session.scalars(select(Complaint).where(where).order_by(Complaint.id.desc())
                                .limit(limit).offset(offset)))
    total = session.scalar(select(func.count()).select_from(Complaint).where(where)) or 0
    return rows, total


def get_complaint(session: Session, user: User, complaint_id: int) -> Complaint:
    _check_reader(user)
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound("投诉举报不存在")
    if complaint.street is None:
        if user.role not in DISTRICT_READERS:
            raise NotFound("投诉举报不存在")
    elif not access.in_scope(user, complaint.district, complaint.street, complaint.community):
        raise NotFound("投诉举报不存在")
    return complaint


STATUS_NAMES = {ComplaintStatus.RECEIVED: "已受理", ComplaintStatus.INVESTIGATING: "核查中",
                ComplaintStatus.CLOSED: "已办结"}


def complaint_item(complaint: Complaint) -> dict:
    return {
        "id": complaint.id,
        "reference": complaint.reference,
        "household_id_number": mask_id_number(complaint.household_id_number) if complaint.household_id_number
        else None,
        "case_id": complaint.case_id,
        "recipient_id": complaint.recipient_id,
        "district": complaint.district,
        "street": complaint.street,
        "community": complaint.community,
        "channel": complaint.channel.value,
        "received_by": complaint.received_by,
        "status": complaint.status.value,
        "unmatched": complaint.street is None,
        "status_name": UNMATCHED_LABEL if complaint.street is None else STATUS_NAMES[complaint.status],
        "outcome": complaint.outcome.value if complaint.outcome else None,
        "process_instance_id": complaint.process_instance_id,
        "created_at": iso(complaint.created_at),
        "closed_at": iso(complaint.closed_at),
    }


def receivable_item(receivable: Receivable) -> dict:
    return {
        "id": receivable.id,
        "case_id": receivable.case_id,
        "recipient_id": receivable.recipient_id,
        "obtained_amount": money_text(receivable.obtained_amount),
        "fine_multiple": multiple_text(receivable.fine_multiple),
        "fine_amount": money_text(receivable.fine_amount),
        "total": money_text(receivable.total),
        "status": receivable.status.value,
        "created_by": receivable.created_by,
        "created_at": iso(receivable.created_at),
    }


def complaint_detail(session: Session, complaint: Complaint, user: User) -> dict:
    body = complaint_item(complaint)
    body.update(text=complaint.text, finding=complaint.finding)
    if user.role in REPORTER_READERS:
        body.update(reporter=complaint.reporter, contact=complaint.contact)
    receivable = session.scalars(select(Receivable).where(Receivable.complaint_id == complaint.id)).first()
    body["receivable"] = receivable_item(receivable) if receivable is not None else None
    return body
