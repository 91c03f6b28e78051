"""What the simulated staff write into each form: valid data per form key, with the decision the case's fate asks for.

The data goes through the task service like a form posted from the page, so it must pass the same validation; it
is keyed by form key, not by BPMN element, so both 低保 rule sets (and any diagram using these forms) are covered.
A form the simulation does not know (a form designed in the browser) stops the run with the task's name rather
than guessing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.models import HumanTask

from ..demo_cases import BANKS, DISTRICT_VISITORS, STREET_INVESTIGATORS
from .plan import Arrival

# Investigators of a street that the demo table does not name.
OTHER_INVESTIGATORS = ["调查员甲", "调查员乙", "调查员丙"]
# What a failed economic check adds to the household's income (a vehicle's value counted as income, an undeclared
# wage): enough to push any demo household above the standard.
CHECK_FAILED_EXTRA = 2600


class UnknownForm(Exception):
    def __init__(self, task: HumanTask):
        super().__init__(f"推演不会填写表单 {task.form_key}（{task.name}，流程 {task.process_key}）")


@dataclass
class CaseState:
    """What the simulation knows of one running case."""

    arrival: Arrival
    instance_id: int
    income: int  # the declared household income (yuan a month)
    objection_sent: bool = False


def review(approve: bool, reason: str) -> dict:
    return {"decision": "approve", "opinion": "同意"} if approve else {"decision": "reject", "opinion": reason}


def form_data(task: HumanTask, case: CaseState | None, today: date) -> dict:
    """The completed form for `task` on `today`."""
    key = task.form_key or "generic"
    fate = case.arrival.fate if case else None
    number = case.arrival.number if case else task.id
    if key == "dibao_accept":
        if fate and fate.not_accepted:
            return {"decision": "reject", "opinion": "申请人户籍不在本街道，应向户籍所在地街道申请"}
        return {"decision": "accept", "opinion": "材料齐全，予以受理"}
    if key == "dibao_relatives":
        filed = bool(fate and fate.relatives_filed)
        return {"relatives_filed": filed, "note": "申请人亲属为社区居委会委员，已按规定备案" if filed else None}
    if key == "dibao_survey":
        names = STREET_INVESTIGATORS.get(task.street or "", OTHER_INVESTIGATORS)
        first = number % len(names)
        income = case.income if case else 0
        # The income as items (收入认定, workflows.income); forms ignore fields they do not declare, so the total
        # rides along for a survey form that still takes it typed.
        return {"investigators": [names[first], names[(first + 1) % len(names)]],
                "income_items": [{"type": "wage", "amount": income, "note": "入户核实"}],
                "verified_monthly_income": float(income),
                "findings": "入户核实家庭成员、住房和收入情况，与申报一致", "visited_on": today.isoformat()}
    if key == "dibao_appraisal":
        total = 12 + number % 6
        return {"representatives_present": total - number % 3, "representatives_total": total,
                "result": "pass", "opinion": "到会代表一致同意"}
    if key == "dibao_street_review":
        if fate and fate.check_failed:
            return review(False, "经家庭经济状况核对，家庭收入超过低保标准，不符合条件")
        return review(not (fate and fate.street_refused), "经审核家庭有赡养能力的子女，不符合低保条件")
    if key == "dibao_spot_check":
        return {"visited_on": today.isoformat(), "visitors": DISTRICT_VISITORS, "conclusion": "confirm",
                "findings": "入户查看居住和生活情况，与街道审核意见一致"}
    if key == "dibao_approval":
        return review(not (fate and fate.district_refused), "抽查发现家庭有未申报的经营性收入")
    if key == "dibao_payment_setup":
        month = today.replace(day=1) + timedelta(days=32)
        return {"bank_name": BANKS[number % len(BANKS)], "account_number": f"6222{number:012d}",
                "first_payment_month": f"{month:%Y-%m}"}
    if key == "dibao_refusal_notice":
        return {"reason": "经审核不符合低保条件，已书面告知并说明理由", "delivered_on": today.isoformat()}
    if key in ("generic", "review"):
        return review(True, "")
    raise UnknownForm(task)


def flag_decisions(flags: list[dict], data: dict) -> dict:
    """The street review's decision on each flag the assessment raised: upheld when the review refuses."""
    upheld = data.get("decision") == "reject"
    opinion = "核对结果属实，家庭收入超过标准" if upheld else "经入户核实，情况可以排除"
    return {f["key"]: {"decision": "upheld" if upheld else "cleared", "opinion": opinion} for f in flags}


def check_reply(case: CaseState) -> dict:
    """The district verification centre's answer (`economic_check.completed`)."""
    failed = case.arrival.fate.check_failed
    return {"passed": not failed, "monthly_income": float(case.income + (CHECK_FAILED_EXTRA if failed else 0)),
            "findings": ("车辆登记部门核对：申请人名下有小型轿车一辆" if failed
                         else "民政、人社、公积金、车辆、工商等部门核对无异常")}


def objection(case: CaseState) -> dict:
    """An objection lodged on the public notice page during the 7-day notice."""
    return {"reason": "邻居反映申请人家中有未申报的收入", "reporter": f"{case.arrival.community}居民", "contact": None,
            "recorded_by": "public", "channel": "公示页面"}
