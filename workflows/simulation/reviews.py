"""Periodic reviews (定期复核) in the simulation: the scenario's `reviews.per_month`, each a review of a household
on the register through the real review process (`workflows.register.reviews.start_review`, bpmn/dibao_review.bpmn).

The scratch database starts without a register, so every review gets a household put on it the way an approval
does (`workflows.register.enrolment.enrol` on an approved case row), due that day; then the review is started as
the due-review sweep would. Reviews are spread over the month's working days and the streets like applications
(`plan.spread`, `plan.split`, the streets' shares of the first program's arrivals). The simulated staff re-verify the
same income, so every review ends "维持原待遇": the load, not the outcomes, is what the simulation is about.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from engine.clock import SHANGHAI
from engine.models import HumanTask
from engine.runtime import Engine

from ..demo_cases import People
from ..models import Case, CaseStatus
from ..register.enrolment import enrol
from ..register.models import Review
from ..register.reviews import start_review
from ..subsidy import DEFAULT_TOPUP_RATES, compute_subsidy
from .plan import month_days, months_between, split, spread
from .scenario import Scenario

REVIEW_FORMS = ("dibao_review_survey", "dibao_review_proposal", "dibao_review_decision", "dibao_review_stop_notice")


@dataclass(frozen=True)
class ReviewArrival:
    number: int
    day: date
    street: str
    community: str
    household: str


def review_plan(scenario: Scenario, is_workday, households: list[str]) -> dict[date, list[ReviewArrival]]:
    """Working day → the reviews that fall due that day."""
    shares = dict(scenario.arrivals[0].shares) if scenario.arrivals else \
        {street: 1 / len(scenario.streets) for street in scenario.streets}
    plan: dict[date, list[ReviewArrival]] = {}
    turn = {street: 0 for street in scenario.streets}
    number = 0
    for year, month in months_between(scenario.start, scenario.end):
        workdays = [d for d in month_days(year, month) if is_workday(d)]
        for street, count in split(scenario.reviews.of(year, month), shares).items():
            for day, n in zip(workdays, spread(count, len(workdays)), strict=True):
                if not scenario.start <= day < scenario.end:
                    continue
                for _ in range(n):
                    number += 1
                    communities = scenario.streets[street]
                    community = communities[turn[street] % len(communities)]
                    turn[street] += 1
                    plan.setdefault(day, []).append(ReviewArrival(number, day, street, community,
                                                                  households[number % len(households)]))
    for items in plan.values():
        items.sort(key=lambda r: r.number)
    return plan


def start(session: Session, engine: Engine, scenario: Scenario, arrival: ReviewArrival, people: People,
          standard: Decimal, now: datetime) -> tuple[Review, int]:
    """Put a household on the register (as an approval a while ago would have) and start its review, due today."""
    applicant, members, income = people.household(arrival.household)
    today = now.astimezone(SHANGHAI).date()
    household = {"members": members}
    amount = compute_subsidy(household, income, standard, DEFAULT_TOPUP_RATES, today=today)
    case = Case(program="dibao", district=scenario.district, street=arrival.street, community=arrival.community,
                applicant_name=applicant["name"], applicant_id_number=applicant["id_number"],
                applicant_phone=applicant.get("phone"), household=household, household_size=len(members),
                declared_monthly_income=Decimal(income), status=CaseStatus.APPROVED, stage="已批准",
                amount=amount, created_by="simulation", created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    recipient = enrol(session, case, {"household": household, "assessed_monthly_income": income,
                                      "local_standard": float(standard), "topup_rates": dict(DEFAULT_TOPUP_RATES),
                                      "bank_name": "北京银行", "account_number": f"6222{arrival.number:012d}"},
                      rule_set="dibao", actor="simulation", now=now)
    assert recipient is not None  # 低保 is paid monthly: enrol always answers a recipient
    session.commit()
    review = start_review(session, engine, recipient, trigger="periodic", due_date=today, now=now,
                          actor="simulation")
    return review, income


def form_data(task: HumanTask, income: Decimal | int | None, today: date, number: int) -> dict | None:
    """The review forms' data (None: not a review form). The survey finds the income on the register again."""
    key = task.form_key
    if key == "dibao_review_survey":
        names = ["陈静", "赵刚", "周敏"]
        first = number % len(names)
        return {"investigators": [names[first], names[(first + 1) % len(names)]],
                "income_items": [{"type": "wage", "amount": float(income or 0), "note": "复核入户核实"}],
                "income_from_work": False, "findings": "家庭人口和收入与台账一致", "visited_on": today.isoformat()}
    if key == "dibao_review_proposal":
        return {"proposal": "continue", "opinion": "家庭情况无变化，建议维持原待遇"}
    if key == "dibao_review_decision":
        return {"outcome": "continue", "opinion": "同意维持原待遇"}
    if key == "dibao_review_stop_notice":
        return {"delivered_on": today.isoformat(), "note": "本人签收"}
    return None
