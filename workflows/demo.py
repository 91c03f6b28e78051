"""Demo data (DESIGN.md): district 示范区, two streets with two communities each, one user per role."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from .agencies import AGENCIES, DEMO_AGENCIES
from .linshi import LinshiLimits
from .models import Jurisdiction, LocalStandard, User
from .subsidy import DEFAULT_TOPUP_RATES

DISTRICT = "示范区"
STREETS = {
    "和平街道": ["和平里社区", "和平东社区"],
    "安定街道": ["安定门社区", "安定西社区"],
}
# Beijing's urban and rural 低保 standard since 2024-07 (yuan per person per month).
DIBAO_STANDARD = Decimal("1395")
LAST_YEAR_AVERAGE_MONTHLY_INCOME = Decimal("7117.92")

DEMO_USERS = [
    # username, display name, role, street, community
    ("admin", "系统管理员", "admin", None, None),
    ("designer", "流程设计员", "process_designer", None, None),
    ("sq_heping", "和平里社区 王芳", "community_worker", "和平街道", "和平里社区"),
    ("sq_anding", "安定门社区 李娜", "community_worker", "安定街道", "安定门社区"),
    ("jd_heping", "和平街道 张伟", "street_clerk", "和平街道", None),
    ("jd_heping_lead", "和平街道 刘洋（科长）", "street_reviewer", "和平街道", None),
    ("jd_anding", "安定街道 陈静", "street_clerk", "安定街道", None),
    ("jd_anding_lead", "安定街道 杨帆（科长）", "street_reviewer", "安定街道", None),
    ("qu_inspector", "区民政局 赵磊", "district_inspector", None, None),
    ("qu_approver", "区民政局 孙敏（科长）", "district_approver", None, None),
    ("cz_payer", "区财政局 周强", "finance_officer", None, None),
    ("supervisor", "领导小组办公室 吴刚", "supervisor", None, None),
]

# Member agencies (DESIGN.md Contract v2): `<short>` is the agency's 办理 (agency_officer), `<short>_lead` its 审核
# (agency_lead). username, display name, role, agency.
AGENCY_USERS = [
    user
    for agency in DEMO_AGENCIES
    for user in (
        (AGENCIES[agency].short, f"{agency} 经办人", "agency_officer", agency),
        (f"{AGENCIES[agency].short}_lead", f"{agency} 负责人", "agency_lead", agency),
    )
]

ROLE_AGENCY = {
    "community_worker": "社区居委会",
    "street_clerk": "街道办事处",
    "street_reviewer": "街道办事处",
    "finance_officer": "区财政局",
}


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(User))


def seed(session: Session, *, password: str = "demo", today: date | None = None) -> int:
    """Create the demo data; returns the number of users created. Safe to run twice."""
    district = _place(session, DISTRICT, "district", None)
    for street_name, communities in STREETS.items():
        street = _place(session, street_name, "street", district.id)
        for community in communities:
            _place(session, community, "community", street.id)
    created = 0
    # One hash shared by all demo users: hashing is deliberately slow and they all use the same password.
    password_hash = generate_password_hash(password)
    existing = set(session.scalars(select(User.username)))
    for username, display, role, street_name, community in DEMO_USERS:
        if username in existing:
            continue
        session.add(User(username=username, display_name=display, password_hash=password_hash, role=role,
                         agency=ROLE_AGENCY.get(role, "区民政局"), district=DISTRICT if role != "admin" else None,
                         street=street_name, community=community, active=True, failed_logins=0))
        created += 1
    for username, display, role, agency in AGENCY_USERS:
        if username in existing:
            continue
        session.add(User(username=username, display_name=display, password_hash=password_hash, role=role,
                         agency=agency, district=DISTRICT, active=True, failed_logins=0))
        created += 1
    has_standard = session.scalar(
        select(func.count()).select_from(LocalStandard)
        .where(LocalStandard.district == DISTRICT, LocalStandard.program == "dibao")
    )
    if not has_standard:
        for program in ("dibao", "tekun", "linshi"):
            session.add(LocalStandard(district=DISTRICT, program=program, amount=DIBAO_STANDARD,
                                      effective_from=date(2024, 7, 1), topup_rates=dict(DEFAULT_TOPUP_RATES)))
    session.commit()
    return created


def seed_linshi_limits(session: Session) -> None:
    """The demo district's 临时救助 settings for `make run` (tests start without them): the 支出型 income test's line
    is Beijing's 2024 per-capita disposable income, 85,415 yuan a year, per month."""
    if not session.scalar(select(func.count()).select_from(LinshiLimits).where(LinshiLimits.district == DISTRICT)):
        session.add(LinshiLimits(district=DISTRICT, last_year_average_income=LAST_YEAR_AVERAGE_MONTHLY_INCOME,
                                 updated_by="demo"))
        session.commit()


def _place(session: Session, name: str, level: str, parent_id: int | None) -> Jurisdiction:
    row = session.scalars(
        select(Jurisdiction).where(Jurisdiction.name == name, Jurisdiction.parent_id.is_(None) if parent_id is None
                                   else Jurisdiction.parent_id == parent_id)
    ).first()
    if row is None:
        row = Jurisdiction(name=name, level=level, parent_id=parent_id)
        session.add(row)
        session.flush()
    return row
