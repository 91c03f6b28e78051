"""Demo cases: 低保 applications standing in every step of the flow, so that every demo user finds work.

`seed_cases(session, engine)` drives about forty cases through the real services — `workflows.cases.open_case`,
the task service the API and the pages use (claim, complete with validated form data, comment, 退回), the
economic-check and objection messages, the timer sweep (the 7-day notice) and the deadline sweep (reminders,
overdue marks, escalations) — never by writing projection rows.

Time: the cases must look weeks old and some must be overdue, yet the server runs on the system clock. So the
whole run happens on a temporarily installed simulated clock that starts about six weeks ago and is advanced, with
the sweeps run every simulated night, through the plan below; it ends at the real "now" (the clock that was active
when the function was called), and that clock is installed again before returning — also on failure. Every action
of the plan happens on a working day before today, so nothing is ever stamped in the future.

The plan is written in working days counted back from today (`back=9`: the case was opened nine working days
ago), so where each case stands does not depend on the date it runs: an 入户调查 opened 23 working days ago is
past its 10-working-day limit and has climbed the escalation chain to the supervisor whatever today is.

It runs only when the database has no case at all (a second run, or `jiuzhu demo` on a database with cases, does
nothing) and needs `dibao` deployed and the base demo data (`workflows.demo.seed`).

Longer than most modules because about half of it is data — the households and the per-case plan — kept next to the
few functions that play it, so one file tells what the demo shows.
"""
from __future__ import annotations

import random
import time as wall_time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock as clock_module
from engine.clock import SHANGHAI
from engine.deadlines import Deadlines
from engine.errors import NotFound
from engine.models import HumanTask, TaskStatus
from engine.runtime import Engine

from . import escalation
from .cases import open_case
from .demo import DEMO_USERS
from .idcard import check_character
from .income import flags_of_task
from .models import Case, CaseStatus, User
from .tasks import TaskService

PROCESS_KEY = "dibao"
# The district verification centre's answer arrives by the signed inbound webhook in real life.
CHECK_ACTOR = "webhook:hedui"

# -- the plan ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str
    gap: int = 0  # working days after the previous step (0: the same day, a little later)
    # Calendar days after the previous step instead (the 7-day notice counts calendar days, and with make-up
    # workdays six working days can be six calendar days); then the first working day from there, unless any_day.
    days: int | None = None
    any_day: bool = False
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    community: str
    back: int  # opened this many working days before today
    household: str  # a key of HOUSEHOLDS
    steps: tuple[Step, ...]
    relatives: bool = False  # 近亲属备案: the district always visits such a household


STREET_OF = {"和平里社区": "和平街道", "和平东社区": "和平街道", "安定门社区": "安定街道", "安定西社区": "安定街道"}

# The standard path and its gaps in working days; `spot` (done only when the case was picked for a visit) comes
# 8 calendar days after the review: the 7-day notice has ended and the night's timer sweep has moved the case on.
STANDARD = (("accept", 1, None), ("relatives", 0, None), ("survey", 3, None), ("check", 1, None),
            ("appraise", 2, None), ("review", 1, None), ("spot", 0, 8), ("approve", 1, None), ("payment", 1, None))


def flow(stop: str | None = None, *, check_first: bool = False, **args: dict) -> tuple[Step, ...]:
    """The standard path up to (not including) `stop`; None: to the end. `args` gives an action's arguments."""
    order = list(STANDARD)
    if check_first:  # the economic check came back before the household survey was done
        order[2:4] = [("check", 2, None), ("survey", 2, None)]
    steps = []
    for action, gap, days in order:
        if action == stop:
            break
        steps.append(Step(action, gap, days, args=args.get(action, {})))
    return tuple(steps)


def then(*steps: Step) -> tuple[Step, ...]:
    return steps


H1, H2, A1, A2 = "和平里社区", "和平东社区", "安定门社区", "安定西社区"

PLANS: tuple[Plan, ...] = (
    # 受理
    Plan(H1, 1, "elderly_single", ()),
    Plan(A2, 1, "single_mother", ()),
    Plan(H2, 2, "unemployed_single", then(Step("claim", 0, args={"role": "clerk"}))),
    Plan(A1, 3, "three_gen", then(Step("comment", 1, args={"role": "clerk",
                                                           "text": "已电话告知申请人补交户口簿及收入证明复印件"}))),
    # 近亲属备案核查
    Plan(H2, 2, "grandparent", flow("relatives")),
    Plan(A1, 4, "elderly_couple", flow("relatives")),
    # 入户调查 (with or without the economic check back); three of them late and escalated
    Plan(H1, 6, "disabled_child", flow("survey", check_first=True)),
    Plan(A2, 5, "couple_ill", flow("survey")),
    Plan(H2, 24, "three_gen", flow("survey", check_first=True)),
    Plan(A1, 17, "unemployed_single", flow("survey", check_first=True)),
    Plan(A2, 13, "elderly_single", flow("survey")),
    # 等待经济状况核对
    Plan(H1, 9, "single_mother", flow("check")),
    Plan(A2, 8, "grandparent", flow("check")),
    # 民主评议 (one reminded, three late)
    Plan(H1, 8, "elderly_couple", flow("appraise")),
    Plan(H1, 20, "couple_ill", flow("appraise")),
    Plan(A1, 10, "single_mother", flow("appraise")),
    Plan(H2, 11, "elderly_single", flow("appraise")),
    Plan(A2, 18, "disabled_child", flow("appraise")),
    # 街道审核: one commented, one claimed, one sent back (退回) to the survey once and redone
    Plan(H1, 12, "grandparent", flow("review") + then(
        Step("comment", 1, args={"role": "lead", "text": "请补充家庭成员的就业登记情况后再提交审核"}))),
    Plan(A1, 11, "elderly_couple", flow("review") + then(Step("claim", 1, args={"role": "lead"}))),
    Plan(H1, 22, "three_gen", flow("review") + then(
        Step("return", 1, args={"to": "household_survey",
                                "reason": "家庭收入核实依据不足，请补充邻里走访记录后重新调查"}),
        Step("survey", 3, args={"income_delta": 150}),
        Step("appraise", 2),
    )),
    # 公示中 (the 7-day notice timer runs); one objection during the notice → 异议复查
    Plan(H1, 9, "elderly_single", flow("spot")),
    Plan(A1, 11, "couple_ill", flow("spot")),
    Plan(H1, 14, "single_mother", flow("spot") + then(
        Step("object", days=2, any_day=True, args={"reason": "邻居反映申请人家中有一辆私家车", "reporter": "和平里社区居民"}))),
    # 入户抽查 (近亲属备案: the district always visits)
    Plan(H1, 22, "disabled_child", flow("spot"), relatives=True),
    Plan(A1, 19, "elderly_single", flow("spot"), relatives=True),
    # 审批 (two past their 5 working days and escalated to the supervisor)
    Plan(H1, 17, "elderly_couple", flow("approve")),
    Plan(A1, 26, "grandparent", flow("approve")),
    Plan(H1, 24, "unemployed_single", flow("approve")),
    # 发放设置
    Plan(H1, 21, "single_mother", flow("payment")),
    Plan(A1, 19, "three_gen", flow("payment", approve={"amount": 2600.0, "opinion": "同意，按核实情况核定"})),
    # 已批准
    Plan(H1, 30, "elderly_single", flow()),
    Plan(A1, 29, "disabled_child", flow()),
    Plan(H1, 27, "couple_ill", flow(approve={"amount": 1800.0, "opinion": "同意，按抽查核实的收入核定"})),
    Plan(A1, 28, "elderly_couple", flow(), relatives=True),
    # 不予批准: by the street review, by the district, and 不予受理 with its 书面告知 still open (and late)
    Plan(A1, 25, "couple_ill", flow("review", check={"passed": False, "extra": 2600,
                                                        "findings": "车辆登记部门核对：申请人名下有小型轿车一辆"})
         + then(Step("reject_review", 1), Step("refusal", 2))),
    Plan(H1, 29, "three_gen", flow("approve") + then(Step("reject_approval", 1), Step("refusal", 1))),
    Plan(H2, 7, "unemployed_single", then(Step("reject_accept", 1))),
)

# -- households -------------------------------------------------------------------------------------------------

# (relation, sex, age, work capacity, disability grade, serious illness); monthly household income in yuan.
HOUSEHOLDS: dict[str, tuple[tuple[tuple[str, str, int, str, int | None, bool], ...], int]] = {
    "elderly_single": ((("本人", "F", 74, "none", None, False),), 650),
    "elderly_couple": ((("本人", "M", 77, "none", None, False), ("配偶", "F", 72, "none", None, True)), 1500),
    "single_mother": ((("本人", "F", 38, "partial", None, False), ("子", "M", 9, "none", None, False)), 900),
    "disabled_child": ((("本人", "M", 56, "partial", None, False), ("配偶", "F", 54, "full", None, False),
                        ("子", "M", 27, "none", 1, False)), 2100),
    "three_gen": ((("本人", "M", 45, "partial", None, True), ("配偶", "F", 43, "full", None, False),
                   ("女", "F", 15, "none", None, False), ("母", "F", 79, "none", 2, False)), 2600),
    "unemployed_single": ((("本人", "M", 52, "partial", 3, False),), 400),
    "grandparent": ((("本人", "F", 66, "none", None, False), ("孙子", "M", 12, "none", None, False)), 800),
    "couple_ill": ((("本人", "M", 48, "none", None, True), ("配偶", "F", 46, "partial", None, False),
                    ("子", "M", 19, "full", None, False)), 2300),
}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
MALE = ["建国", "志强", "国华", "永刚", "德明", "文斌", "海涛", "立新", "宏伟", "振东", "子轩", "浩然", "宇航", "俊杰",
        "明远", "春生", "长林", "庆丰", "家豪", "博文", "强", "伟", "军", "勇", "涛", "斌", "磊", "刚"]
FEMALE = ["秀兰", "桂英", "玉珍", "淑芬", "丽华", "春梅", "晓燕", "红霞", "美玲", "静怡", "欣悦", "雨涵", "慧敏", "婷婷",
          "雪梅", "凤琴", "桂芳", "文娟", "佳琪", "思雨", "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞"]
REGIONS = ["110101", "110101", "110101", "110102", "110105", "130102"]  # mostly 东城区, a few from elsewhere
BANKS = ["北京银行和平里支行", "中国工商银行安定门支行", "中国农业银行东城支行", "北京农商银行和平里分理处"]
STREET_INVESTIGATORS = {"和平街道": ["张伟", "王磊", "李强"], "安定街道": ["陈静", "赵刚", "周敏"]}
DISTRICT_VISITORS = ["赵磊", "钱进"]


class People:
    """Deterministic names and valid, unique ID numbers (GB 11643 checksum) for the demo households (the capacity
    simulation, workflows.simulation, fills its applications with them too)."""

    def __init__(self, today: date):
        self.today = today
        self.rng = random.Random(20241202)
        self.serial = 0
        self.used: set[str] = set()

    def name(self, sex: str, surname: str | None = None) -> str:
        return (surname or self.rng.choice(SURNAMES)) + self.rng.choice(MALE if sex == "M" else FEMALE)

    def id_number(self, born: date, sex: str) -> str:
        while True:
            self.serial += 1
            region = REGIONS[self.serial % len(REGIONS)]
            # The 17th digit is odd for men and even for women.
            seq = (self.serial * 37 % 500) * 2 + (1 if sex == "M" else 0)
            body = f"{region}{born:%Y%m%d}{seq:03d}"
            number = body + check_character(body)
            if number not in self.used:
                self.used.add(number)
                return number

    def household(self, key: str) -> tuple[dict, list[dict], int]:
        members_spec, income = HOUSEHOLDS[key]
        surname = self.rng.choice(SURNAMES)
        members = []
        for relation, sex, age, capacity, disability, ill in members_spec:
            own = surname if relation in ("本人", "子", "女") else None
            born = date(self.today.year - age, self.rng.randint(1, 12), self.rng.randint(1, 28))
            if born > self.today:  # not yet had this year's birthday: one year older on paper is fine, later is not
                born = born.replace(year=born.year - 1)
            member: dict[str, Any] = {"name": self.name(sex, own), "id_number": self.id_number(born, sex),
                                      "relation": relation, "birth_date": born.isoformat(),
                                      "work_capacity": capacity}
            if disability:
                member["disability_grade"] = disability
            if ill:
                member["serious_illness"] = True
            members.append(member)
        head = members[0]
        applicant = {"name": head["name"], "id_number": head["id_number"],
                     "phone": f"13{self.rng.randint(0, 9)}{self.rng.randint(10_000_000, 99_999_999)}"}
        return applicant, members, income


# -- running it -------------------------------------------------------------------------------------------------


def _staff(role: str, street: str, community: str | None = None) -> str | None:
    """The demo user who holds `role` for the place (workflows.demo.DEMO_USERS), if there is one."""
    for username, _display, user_role, user_street, user_community in DEMO_USERS:
        if user_role != role:
            continue
        if user_street is not None and user_street != street:
            continue
        if user_community is not None and user_community != community:
            continue
        return username
    return None


@dataclass
class _Running:
    plan: Plan
    number: int
    street: str
    case_id: int | None = None
    instance_id: int | None = None
    income: int = 0
    opened_by: str = ""


class _Driver:
    def __init__(self, session: Session, engine: Engine, deadlines: Deadlines, people: People):
        self.session = session
        self.engine = engine
        self.deadlines = deadlines
        self.people = people
        self.users = {u.username: u for u in session.scalars(select(User))}
        self.services: dict[str, TaskService] = {}

    def service(self, username: str) -> TaskService:
        if username not in self.services:
            user = self.users.get(username)
            if user is None:
                raise RuntimeError(f"演示用户 {username} 不存在：请先写入基础演示数据（workflows.demo.seed）")
            self.services[username] = TaskService(self.session, self.engine, user)
        return self.services[username]

    def sweep(self) -> None:
        self.engine.sweep_timers()
        self.deadlines.sweep(self.engine.now())

    # -- actions ----------------------------------------------------------------------------------------------
    def open_task(self, run: _Running, element_id: str | None = None) -> HumanTask | None:
        query = select(HumanTask).where(HumanTask.instance_id == run.instance_id, HumanTask.status == TaskStatus.OPEN)
        if element_id is not None:
            query = query.where(HumanTask.element_id == element_id)
        return self.session.scalars(query.order_by(HumanTask.id)).first()

    def complete(self, run: _Running, element_id: str, username: str, data: dict) -> None:
        task = self.open_task(run, element_id)
        if task is None:
            raise RuntimeError(f"演示案件 {run.number}：没有待办的 {element_id}")
        # Group tasks are completed straight from the group's pool (the API allows it); explicit claims are steps.
        self.service(username).complete(task.id, data)

    def who(self, run: _Running, role: str) -> str:
        key = {"clerk": "street_clerk", "lead": "street_reviewer", "community": "community_worker"}.get(role, role)
        username = _staff(key, run.street, run.plan.community)
        if username is None:
            raise RuntimeError(f"演示案件 {run.number}：{run.plan.community} 没有 {key}")
        return username

    def today(self) -> str:
        return self.engine.now().astimezone(SHANGHAI).date().isoformat()

    def survey_data(self, run: _Running, delta: int = 0) -> dict:
        names = STREET_INVESTIGATORS[run.street]
        first = run.number % len(names)
        return {"investigators": [names[first], names[(first + 1) % len(names)]],
                "income_items": self.income_items(run, delta),
                "findings": self.people.rng.choice([
                    "入户核实家庭成员、住房和收入情况，与申报一致", "走访邻居两户，反映家庭生活确有困难",
                    "家中无车辆，存款较少，主要收入为退休金", "申请人患病在家休养，家庭收入以配偶打零工为主"]),
                "visited_on": self.today()}

    @staticmethod
    def income_items(run: _Running, delta: int = 0) -> list[dict]:
        """The survey's income items: countable income is always the household's declared income (+ delta), some
        households also showing an excluded item (a study grant) or a deducted cost of illness or disability."""
        household = run.plan.household
        deducted = 300 if household in ("couple_ill", "disabled_child") else 0
        main = "pension" if household.startswith("elderly") else "wage"
        items = [{"type": main, "amount": run.income + delta + deducted, "note": "入户核实"}]
        if deducted:
            items.append({"type": "illness_disability", "amount": deducted, "note": "长期服药及康复费用"})
        if household in ("single_mother", "grandparent"):
            items.append({"type": "scholarship", "amount": 100, "note": "子女在校助学金，不计入收入"})
        return items

    def review(self, run: _Running, data: dict, decision: str, opinion: str) -> None:
        """街道审核, deciding each flag the assessment raised (workflows.income) the way the review goes."""
        task = self.open_task(run, "street_review")
        flags = flags_of_task(self.engine, self.session, task) if task is not None else []
        if flags:
            data["flag_decisions"] = {f["key"]: {"decision": decision, "opinion": opinion} for f in flags}
        self.complete(run, "street_review", self.who(run, "lead"), data)

    def do(self, run: _Running, step: Step) -> None:  # noqa: C901 - one branch per action of the plan
        a, args = step.action, step.args
        if a == "open":
            self.open(run)
        elif a == "accept":
            self.complete(run, "accept", self.who(run, "clerk"),
                          {"decision": "accept", "opinion": "材料齐全，予以受理"})
        elif a == "reject_accept":
            self.complete(run, "accept", self.who(run, "clerk"),
                          {"decision": "reject", "opinion": "申请人户籍不在本街道，应向户籍所在地街道申请"})
        elif a == "relatives":
            data = {"relatives_filed": run.plan.relatives}
            if run.plan.relatives:
                data["note"] = "申请人之妹为本社区居委会委员，已按规定备案"
            self.complete(run, "relatives_check", self.who(run, "clerk"), data)
        elif a in ("survey", "reinvestigate"):
            element = "household_survey" if a == "survey" else "reinvestigation"
            self.complete(run, element, self.who(run, "clerk"), self.survey_data(run, args.get("income_delta", 0)))
        elif a == "check":
            passed = args.get("passed", True)
            self.engine.send_message(run.instance_id, "economic_check.completed", {
                "passed": passed, "monthly_income": float(run.income + args.get("extra", 0)),
                "findings": args.get("findings", "民政、人社、公积金、车辆、工商等部门核对无异常")}, actor=CHECK_ACTOR)
        elif a == "appraise":
            total = 12 + run.number % 6
            self.complete(run, "appraisal", self.who(run, "community"), {
                "representatives_present": total - run.number % 3, "representatives_total": total,
                "result": "pass", "opinion": "到会代表一致同意"})
        elif a == "review":
            self.review(run, {"decision": "approve", "opinion": "同意上报"}, "cleared", "经入户核实，情况可以排除")
        elif a == "reject_review":
            self.review(run, {"decision": "reject", "opinion": "经核对家庭有机动车辆，不符合低保条件"}, "upheld",
                        "核对结果属实：家庭有机动车辆，收入超过标准")
        elif a == "object":  # as the public notice page records it (web/ui/notice.py), on any day of the notice
            self.engine.send_message(run.instance_id, "objection.lodged", {
                "reason": args["reason"], "reporter": args.get("reporter"), "contact": None, "recorded_by": "public",
                "channel": "公示页面"}, actor="public")
        elif a == "spot":
            if self.open_task(run, "spot_check") is not None:
                self.complete(run, "spot_check", "qu_inspector", {
                    "visited_on": self.today(), "visitors": DISTRICT_VISITORS, "conclusion": "confirm",
                    "findings": "入户查看居住和生活情况，与街道审核意见一致"})
        elif a == "approve":
            data = {"decision": "approve", "opinion": args.get("opinion", "同意")}
            if "amount" in args:
                data["amount"] = args["amount"]
            self.complete(run, "approval", "qu_approver", data)
        elif a == "reject_approval":
            self.complete(run, "approval", "qu_approver",
                          {"decision": "reject", "opinion": "抽查发现家庭有未申报的经营性收入"})
        elif a == "payment":
            self.complete(run, "payment_setup", "cz_payer", {
                "bank_name": BANKS[run.number % len(BANKS)],
                "account_number": f"6222{self.people.rng.randint(10**11, 10**12 - 1)}"})
        elif a == "refusal":
            reason = ("经家庭经济状况核对，申请人名下有机动车辆，不符合低保条件" if run.plan.community in (A1, A2)
                      else "经区民政局抽查，家庭有未申报的经营性收入，不符合低保条件")
            self.complete(run, "refusal_notice", self.who(run, "clerk"), {"reason": reason,
                                                                           "delivered_on": self.today()})
        elif a == "claim":
            task = self.open_task(run)
            assert task is not None
            self.service(self.who(run, args["role"])).claim(task.id)
        elif a == "comment":
            task = self.open_task(run)
            assert task is not None
            self.service(self.who(run, args["role"])).comment(task.id, args["text"])
        elif a == "return":
            task = self.open_task(run, "street_review")
            assert task is not None
            self.service(self.who(run, "lead")).send_back(task.id, args["to"], args["reason"])
        else:  # pragma: no cover - a typo in the plan
            raise ValueError(f"unknown demo action {a}")

    def open(self, run: _Running) -> None:
        applicant, members, income = self.people.household(run.plan.household)
        run.income = income
        community_worker = _staff("community_worker", run.street, run.plan.community)
        # Half of the applications a community worker lodges for the applicant; the rest come to the street office.
        run.opened_by = community_worker if community_worker and run.number % 2 else self.who(run, "clerk")
        payload = {
            "program": "dibao", "street": run.street, "community": run.plan.community,
            "applicant": applicant,
            "household": {"members": members, "monthly_income": income,
                          "assets": {"deposits": 1000 * (1 + run.number % 7), "vehicles": 0}},
        }
        case = open_case(self.session, self.engine, payload, self.users[run.opened_by])
        run.case_id = case.id
        run.instance_id = case.process_instance_id


def _working_days_before(calendar, today: date, count: int) -> list[date]:
    """The `count` working days before `today`, nearest first: index 0 is one working day ago."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if calendar.is_workday(day):
            days.append(day)
    return days


def _schedule(plans: tuple[Plan, ...], today: date, calendar) -> list[tuple[datetime, int, int, Step]]:
    """(instant, case number, step number, step) for every action of the plan, in time order."""
    deepest = max(p.back for p in plans)
    back_days = _working_days_before(calendar, today, deepest + 1)
    index_of = {d: i + 1 for i, d in enumerate(back_days)}  # date → working days back
    actions = []
    for number, plan in enumerate(plans):
        back = plan.back
        minutes = 9 * 60 + (number * 23) % 300  # between 09:00 and 14:00
        when = datetime.combine(back_days[back - 1], time(0), tzinfo=SHANGHAI) + timedelta(minutes=minutes)
        actions.append((when, number, 0, Step("open")))
        for position, step in enumerate(plan.steps, 1):
            if step.days is not None:
                day = when.date() + timedelta(days=step.days)
                while not step.any_day and day not in index_of and day < today:
                    day += timedelta(days=1)
                # Later gaps count from the last working day on or before it.
                back = next((i for d, i in index_of.items() if d <= day), 0)
            else:
                back -= step.gap
                day = back_days[back - 1] if back >= 1 else today
            if back < 1 or day >= today:
                raise ValueError(f"演示案件 {number} 的第 {position} 步排到了今天或以后")
            if day == when.date():
                when = when + timedelta(minutes=35)
            else:
                when = datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(
                    minutes=9 * 60 + (number * 23 + position * 41) % 420)
            actions.append((when, number, position, step))
    actions.sort(key=lambda item: (item[0], item[1], item[2]))
    return actions


def _ticks(first: datetime, last: datetime) -> list[datetime]:
    """Sweep times: 00:10 Shanghai of every day in between (notice timers fire, reminders and escalations act)."""
    out = []
    day = first.astimezone(SHANGHAI).date() + timedelta(days=1)
    while (instant := datetime.combine(day, time(0, 10), tzinfo=SHANGHAI)) <= last:
        out.append(instant)
        day += timedelta(days=1)
    return out


def has_cases(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Case)))


def seed_cases(session: Session, engine: Engine, *, deadlines: Deadlines | None = None,
               echo: Callable[[str], Any] = print, plans: tuple[Plan, ...] = PLANS) -> dict | None:
    """Write the demo cases (see the module docstring); returns a summary, or None when cases already exist.

    `deadlines` is the app's deadline service (`web.deadline_service.deadlines()`, with its escalation period); by
    default one with the domain's default escalation chain is built.
    """
    if has_cases(session):
        echo("演示案件：数据库中已有案件，未重复创建")
        return None
    try:
        engine.latest_definition(PROCESS_KEY)
    except NotFound:
        echo(f"演示案件：流程 {PROCESS_KEY} 尚未部署，未创建案件")
        return None
    if engine.calendar is None:
        raise RuntimeError("演示案件需要引擎的工作日历")
    deadlines = deadlines or Deadlines(engine, escalation.policy())
    started = wall_time.monotonic()
    previous = clock_module.active()
    end = previous.now()
    today = end.astimezone(SHANGHAI).date()
    actions = _schedule(plans, today, engine.calendar)
    first = actions[0][0] - timedelta(minutes=30)
    events: list[tuple[datetime, int, int, Step | None]] = [(t, -1, 0, None) for t in _ticks(first, end)]
    events += actions
    events.sort(key=lambda item: (item[0], item[1], item[2]))
    runs = [_Running(plan, number, STREET_OF[plan.community]) for number, plan in enumerate(plans)]
    simulated = clock_module.SimulatedClock(first)
    driver = _Driver(session, engine, deadlines, People(today))
    echo(f"演示数据：模拟 {first.astimezone(SHANGHAI):%Y-%m-%d} 至今的 {len(plans)} 个低保案件…")
    opened = 0
    clock_module.install(simulated)
    try:
        if engine.clock is not simulated:
            raise RuntimeError("演示案件需要引擎使用全局时钟（engine.clock）")
        for instant, number, _position, step in events:
            simulated.set(instant)
            if step is None:
                driver.sweep()
                continue
            driver.do(runs[number], step)
            if step.action == "open":
                opened += 1
                if opened % 10 == 0 or opened == len(plans):
                    echo(f"演示数据：已创建 {opened}/{len(plans)} 个案件")
        # Up to the real now (the previous clock may have moved on meanwhile), then the last sweeps.
        simulated.set(max(simulated.now(), previous.now()))
        driver.sweep()
    finally:
        clock_module.install(previous)
        session.rollback()  # nothing half-done stays in the session; every step committed its own work
    summary = summarize(session, end=previous.now())
    summary["seconds"] = round(wall_time.monotonic() - started, 1)
    echo(f"演示数据：{summary['cases']} 个案件（办理中 {summary['in_progress']}，已批准 {summary['approved']}，"
         f"不予批准 {summary['refused']}），待办 {summary['open_tasks']} 项，其中超期 {summary['overdue']} 项、"
         f"已升级督办 {summary['escalated']} 项；用时 {summary['seconds']} 秒")
    return summary


def summarize(session: Session, *, end: datetime) -> dict:
    statuses = Counter(session.scalars(select(Case.status)))
    open_tasks = list(session.scalars(select(HumanTask).where(HumanTask.status == TaskStatus.OPEN)))
    return {
        "cases": sum(statuses.values()),
        "in_progress": statuses.get(CaseStatus.IN_PROGRESS, 0),
        "approved": statuses.get(CaseStatus.APPROVED, 0),
        "refused": statuses.get(CaseStatus.REFUSED, 0),
        "open_tasks": len(open_tasks),
        "by_step": dict(Counter(t.name for t in open_tasks)),
        "overdue": sum(1 for t in open_tasks if t.is_overdue(end)),
        "escalated": sum(1 for t in open_tasks if t.escalation_level > 0),
        "stages": dict(Counter(session.scalars(select(Case.stage)))),
    }


__all__ = ["HOUSEHOLDS", "PLANS", "People", "Plan", "Step", "flow", "has_cases", "seed_cases", "summarize"]
