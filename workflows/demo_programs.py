"""Demo cases of the other 13 programs (特困, 临时救助, the specialised projects and charity), each opened by whoever
takes such applications and left at its first step, so every agency's demo user (jiaowei, canlian …) finds work in
its 待办 on `make run`."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.errors import EngineError

from .cases import open_case
from .demo_cases import People
from .models import Case, User

# A serial far from the 低保 demo households', so these people are not the same as theirs.
FIRST_SERIAL = 4000


def _details(program: str, members: list[dict]) -> dict:
    head, last = members[0], members[-1]
    return {
        "tekun": {"has_supporter": False, "preferred_care": "dispersed"},
        "linshi": {"kind": "emergency", "requested_amount": 2000, "reason": "家中突发火灾，急需基本生活费用"},
        "zhukun": {"hardship": "失业后家中积蓄耗尽，房租拖欠", "cause": "失业", "requested_amount": 3000},
        "zhuyi": {"patient_name": head["name"], "diagnosis": "急性心肌梗死", "hospital": "区人民医院",
                  "admitted_on": "2026-02-10", "total_cost": 50000, "insurance_reimbursed": 32000, "self_paid": 18000},
        "zhulao": {"elder_name": head["name"], "elder_id_number": head["id_number"], "need": "助餐",
                   "living_alone": True},
        "zhuxue": {"student_name": last["name"], "student_id_number": last["id_number"], "school": "区第一中学",
                   "stage": "初中", "grade": "初二", "tuition": 1200, "fees": 800},
        "zhucan": {"disabled_name": head["name"], "disability_grade": 3, "disability_category": "肢体",
                   "aid_item": "辅具", "requested_amount": 5000},
        "jiuye": {"member_name": head["name"], "member_id_number": head["id_number"], "skills": "驾驶、仓储",
                  "education": "初中", "wish": "公益性岗位"},
        "zhufang": {"housing_situation": "危旧房", "area_per_person": 8.5, "requested_type": "修缮"},
        "jiuzai": {"disaster_type": "火灾", "occurred_on": "2026-02-28", "loss_description": "厨房起火，家具家电烧毁",
                   "estimated_loss": 20000},
        "falv": {"matter": "劳动争议", "opposing_party": "某建筑公司", "stage": "仲裁", "description": "拖欠工资八个月"},
        "xinli": {"situation": "丧偶后情绪低落，独居", "preferred_contact": "上门"},
        "cishan": {"need": "子女重病，医疗费缺口较大", "requested_amount": 8000},
    }[program]


# program → (household kind, who opens it, street, community)
PLANS = {
    "tekun": ("elderly_single", "jd_heping", "和平街道", "和平里社区"),
    "linshi": ("single_mother", "jd_anding", "安定街道", "安定门社区"),
    "zhukun": ("unemployed_single", "jd_heping", "和平街道", "和平东社区"),
    "zhuyi": ("couple_ill", "jd_anding", "安定街道", "安定西社区"),
    "zhulao": ("elderly_single", "jd_heping", "和平街道", "和平里社区"),
    "zhuxue": ("grandparent", "jiaowei", "和平街道", "和平东社区"),
    "zhucan": ("unemployed_single", "canlian", "安定街道", "安定门社区"),
    "jiuye": ("unemployed_single", "jd_anding", "安定街道", "安定西社区"),
    "zhufang": ("three_gen", "jd_heping", "和平街道", "和平里社区"),
    "jiuzai": ("elderly_couple", "jd_anding", "安定街道", "安定门社区"),
    "falv": ("unemployed_single", "sifa", "和平街道", "和平东社区"),
    "xinli": ("elderly_single", "jd_heping", "和平街道", "和平里社区"),
    "cishan": ("disabled_child", "cishan", "安定街道", "安定西社区"),
}


def seed_program_cases(session: Session, engine: Any, echo: Callable[[str], None] = lambda _text: None) -> int:
    """Open one case of each program (once: skipped when any non-低保 case exists); returns how many opened."""
    if session.scalar(select(func.count()).select_from(Case).where(Case.program != "dibao")):
        return 0
    today: date = engine.now().astimezone(SHANGHAI).date()
    people = People(today)
    people.serial = FIRST_SERIAL
    users = {u.username: u for u in session.scalars(select(User))}
    opened = 0
    for program, (kind, opener, street, community) in PLANS.items():
        applicant, members, income = people.household(kind)
        payload = {"program": program, "street": street, "community": community, "applicant": applicant,
                   "household": {"members": members, "monthly_income": income, "assets": {}},
                   "details": _details(program, members)}
        try:
            open_case(session, engine, payload, users[opener])
            session.commit()
            opened += 1
        except (EngineError, KeyError) as exc:  # a demo case that cannot open must not stop the others
            session.rollback()
            echo(f"  演示案件 {program} 未能创建：{exc}")
    echo(f"其他救助项目演示案件：{opened} 件（各成员单位待办中可见）")
    return opened
