"""bpmn/dibao.bpmn driven in memory with SpiffWorkflow: structure, diagram, and every path of a 低保 case.

No database and no Flask: the BPMN functions are stubs (except the real subsidy calculation), the notice timer is
fired by moving a fake clock, and the workflow goes through a serializer round trip after every step.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from workflows.forms import FORMS
from workflows.functions import assess_income
from workflows.idcard import check_character
from workflows.subsidy import compute_subsidy

BPMN_FILE = Path(__file__).resolve().parent.parent / "bpmn" / "dibao.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
ROLES = {"community_worker", "street_clerk", "street_reviewer", "district_inspector", "district_approver",
         "finance_officer"}
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

# spec name → (lane, formKey, dueInWorkingDays, escalateTo), as DOMAIN.md sets the limits.
USER_TASKS = {
    "accept": ("street_clerk", "dibao_accept", None, None),
    "relatives_check": ("street_clerk", "dibao_relatives", None, None),
    "household_survey": ("street_clerk", "dibao_survey", 10, "street_reviewer"),
    "appraisal": ("community_worker", "dibao_appraisal", 5, "street_reviewer"),
    "street_review": ("street_reviewer", "dibao_street_review", None, None),
    "reinvestigation": ("street_clerk", "dibao_survey", 10, "street_reviewer"),
    "spot_check": ("district_inspector", "dibao_spot_check", None, None),
    "approval": ("district_approver", "dibao_approval", 5, "supervisor"),
    "payment_setup": ("finance_officer", "dibao_payment_setup", None, None),
    "refusal_notice": ("street_clerk", "dibao_refusal_notice", 3, "street_reviewer"),
}

def id_number(region: str, born: str, seq: str) -> str:
    return region + born + seq + check_character(region + born + seq)


# Ages on TODAY: the applicant is 44, the son 9 (minor, 20%), the mother 74 and severely disabled (30% either way).
TODAY = date(2024, 3, 1)
STANDARD = 1395
HOUSEHOLD = {
    "members": [
        {"name": "王建国", "id_number": id_number("110105", "19790512", "001"), "relation": "本人", "birth_date": "1979-05-12",
         "work_capacity": "partial"},
        {"name": "王小宇", "id_number": id_number("110105", "20140708", "003"), "relation": "子", "birth_date": "2014-07-08",
         "work_capacity": "none"},
        {"name": "李秀兰", "id_number": id_number("110105", "19500203", "002"), "relation": "母", "birth_date": "1950-02-03",
         "work_capacity": "none", "disability_grade": 2},
    ],
    "monthly_income": 1200,
    "assets": {"deposits": 3000, "vehicles": 0},
}


def expected_amount(household_income: float) -> float:
    base = max(0.0, STANDARD - household_income / 3) * 3
    return round(base + 0.2 * STANDARD + 0.3 * STANDARD, 2) if base > 0 else 0.0


START_DATA = {
    "case_id": 42,
    "district": "示范区",
    "street": "和平街道",
    "community": "和平里社区",
    "applicant": {"name": "王建国", "id_number": id_number("110105", "19790512", "001"), "phone": "13800000000"},
    "household": HOUSEHOLD,
    "local_standard": STANDARD,
    "topup_rates": {"elderly": 0.3, "minor": 0.2, "severe_disability": 0.3, "serious_illness": 0.1},
}

SURVEY = {"investigators": ["张伟", "刘芳"], "verified_monthly_income": 1500.0, "findings": "家中无车辆，存款较少",
          "visited_on": "2024-03-05"}
CHECK_OK = {"passed": True, "monthly_income": 1350.0, "findings": "各部门核对无异常"}
APPRAISAL = {"representatives_present": 9, "representatives_total": 12, "result": "pass", "opinion": "同意"}
APPROVE = {"decision": "approve", "opinion": None}
SPOT_CHECK = {"visited_on": "2024-03-20", "visitors": ["赵敏", "孙强"], "conclusion": "confirm", "findings": None}
PAYMENT = {"bank_name": "北京银行和平里支行", "account_number": "6222020200112233445"}
REFUSAL = {"reason": "家庭人均收入高于当地标准", "delivered_on": "2024-03-10"}


# --- harness ---------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime):
        self.now = now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Spiff's timer module asks `datetime.now(timezone.utc)` itself: replace that name with one asking our clock."""
    current = Clock(datetime(2024, 3, 1, 1, 0, tzinfo=UTC))

    class FakeDateTime(datetime):
        @classmethod
        def now(cls, tz=None):
            return current.now if tz is None else current.now.astimezone(tz)

    monkeypatch.setattr(timer_module, "datetime", FakeDateTime)
    return current


@pytest.fixture(scope="module")
def spec():
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec("dibao")


class Case:
    """One 低保 instance plus what its BPMN functions were asked."""

    def __init__(self, spec, clock: Clock, spot_check=None, make_engine=None):
        self.clock = clock
        self.economic_checks: list = []
        self.spot_check_calls: list[tuple] = []
        self._spot_check = spot_check or (lambda district, mandatory: mandatory)
        functions = {
            "request_economic_check": self._request_economic_check,
            # The engine passes its clock's date; here a fixed day keeps the ages, and so the amounts, stable.
            # As workflows.functions hands it over: task data is JSON, so the Decimal amount goes in as a number.
            "compute_subsidy": lambda *args: float(compute_subsidy(*args, today=TODAY)),
            "assess_income": assess_income,  # pure: no step context needed
            "spot_check_required": self._spot_check_required,
        }
        if make_engine is None:
            self.engine = PythonScriptEngine(environment=TaskDataEnvironment(functions))
        else:
            self.engine = make_engine(functions)
        self.wf = BpmnWorkflow(spec, script_engine=self.engine)
        self.wf.get_tasks(spec_name="Start")[0].data.update(START_DATA)
        self.wf.do_engine_steps()
        self.roundtrip()

    def _request_economic_check(self, case_id):
        self.economic_checks.append(case_id)
        return True

    def _spot_check_required(self, district, mandatory):
        self.spot_check_calls.append((district, mandatory))
        return self._spot_check(district, mandatory)

    def roundtrip(self):
        state = SERIALIZER.serialize_json(self.wf)
        self.wf = SERIALIZER.deserialize_json(state)
        # A restored workflow gets a default engine; without this the stubbed functions vanish.
        self.wf.script_engine = self.engine

    def ready(self) -> list[str]:
        return sorted(t.task_spec.name for t in self.wf.get_tasks(state=TaskState.READY, manual=True))

    def waiting(self) -> list[str]:
        return sorted(t.task_spec.name for t in self.wf.get_tasks(state=TaskState.WAITING))

    def complete(self, name: str, **form):
        tasks = self.wf.get_tasks(state=TaskState.READY, manual=True, spec_name=name)
        assert len(tasks) == 1, f"{name} not ready; ready: {self.ready()}"
        task = tasks[0]
        lane, form_key, _due, _escalate = USER_TASKS[name]
        assert task.task_spec.lane == lane
        assert task.task_spec.extensions["properties"]["formKey"] == form_key
        task.set_data(**form)
        task.run()
        self.wf.do_engine_steps()
        self.roundtrip()

    def deliver(self, message: str, payload: dict):
        self.wf.send_event(BpmnEvent(MessageEventDefinition(message), payload=payload))
        self.wf.do_engine_steps()
        self.roundtrip()

    def advance(self, **delta):
        self.clock.now += timedelta(**delta)
        self.wf.refresh_timers()
        self.wf.do_engine_steps()
        self.roundtrip()

    def through_review(self, survey=SURVEY, check=CHECK_OK, relatives_filed=False):
        self.complete("accept", decision="accept", opinion=None)
        self.complete("relatives_check", relatives_filed=relatives_filed, note=None)
        self.deliver("economic_check.completed", check)
        self.complete("household_survey", **survey)
        self.complete("appraisal", **APPRAISAL)
        self.complete("street_review", **APPROVE)

    def finish_notice(self):
        assert self.waiting() == ["notice"]
        self.advance(days=7, minutes=1)

    @property
    def data(self) -> dict:
        return self.wf.data if self.wf.is_completed() else self.wf.last_task.data


# --- structure -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xml():
    return etree.parse(str(BPMN_FILE))


def test_parses_with_the_spiff_schema_and_is_executable(spec, xml):
    process = xml.find("bpmn:process", NS)
    assert process.get("id") == "dibao" and process.get("name") == "最低生活保障审批"
    assert process.get("isExecutable") == "true"
    assert len(xml.findall("bpmn:collaboration/bpmn:participant", NS)) == 1
    assert spec.name == "dibao"


def test_user_tasks_have_lane_form_and_limits(spec):
    user_tasks = {name: ts for name, ts in spec.task_specs.items() if ts.__class__.__name__ == "UserTask"}
    assert set(user_tasks) == set(USER_TASKS)
    for name, (lane, form_key, due, escalate) in USER_TASKS.items():
        ts = user_tasks[name]
        props = ts.extensions["properties"]
        assert ts.lane == lane, name
        assert props["formKey"] == form_key and form_key in FORMS, name
        assert props.get("dueInWorkingDays") == (str(due) if due else None), name
        assert props.get("escalateTo") == escalate, name
        if due is not None and due >= 3:
            assert props["remindBeforeWorkingDays"] == "1", name


def test_lanes_are_roles_and_hold_every_node(xml):
    lanes = xml.findall(".//bpmn:lane", NS)
    assert {lane.get("name") for lane in lanes} == ROLES
    in_lanes = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
    nodes = [el.get("id") for el in xml.find("bpmn:process", NS)
             if etree.QName(el).localname not in ("laneSet", "sequenceFlow", "documentation")]
    assert sorted(in_lanes) == sorted(nodes)


def test_ids_are_snake_case_and_names_chinese(xml):
    for el in xml.getroot().iter():
        if not isinstance(el.tag, str) or not el.get("id"):
            continue
        assert re.fullmatch(r"[a-z][a-z0-9_]*", el.get("id")), el.get("id")
        if etree.QName(el).localname.endswith(("Task", "Event", "Gateway")):
            assert re.search(r"[\u4e00-\u9fff]", el.get("name", "")), el.get("id")


def test_conditional_gateways_have_defaults_and_timer_is_quoted(xml):
    process = xml.find("bpmn:process", NS)
    flows = {f.get("id"): f for f in process.findall("bpmn:sequenceFlow", NS)}
    for gw in process.findall("bpmn:exclusiveGateway", NS):
        conditional = [f for f in flows.values()
                       if f.get("sourceRef") == gw.get("id") and f.find("bpmn:conditionExpression", NS) is not None]
        if conditional:
            assert gw.get("default") in flows and flows[gw.get("default")].get("sourceRef") == gw.get("id")
    duration = process.find(".//bpmn:intermediateCatchEvent[@id='notice_period']//bpmn:timeDuration", NS)
    assert duration.text == '"P7D"'


def _bounds(shape):
    b = shape.find("dc:Bounds", NS)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def _touches(point, box, tolerance=1.0):
    x, y = point
    bx, by, bw, bh = box
    return bx - tolerance <= x <= bx + bw + tolerance and by - tolerance <= y <= by + bh + tolerance


def test_diagram_has_a_shape_for_everything_and_edges_join_their_ends(xml):
    process = xml.find("bpmn:process", NS)
    shapes = {s.get("bpmnElement"): _bounds(s) for s in xml.iterfind(".//bpmndi:BPMNShape", NS)}
    lanes = {lane.get("id"): lane for lane in process.iterfind(".//bpmn:lane", NS)}
    for lane_id, lane in lanes.items():
        lx, ly, lw, lh = shapes[lane_id]
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = shapes[ref.text]
            # A node drawn in another lane's band would be routed to the wrong role by anyone reading the diagram.
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, ref.text
    assert "participant_dibao" in shapes
    edges = {e.get("bpmnElement"): e for e in xml.iterfind(".//bpmndi:BPMNEdge", NS)}
    for flow in process.findall("bpmn:sequenceFlow", NS):
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[flow.get("id")].findall("di:waypoint", NS)]
        assert len(points) >= 2
        assert _touches(points[0], shapes[flow.get("sourceRef")]), flow.get("id")
        assert _touches(points[-1], shapes[flow.get("targetRef")]), flow.get("id")
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            assert x1 == x2 or y1 == y2, f"{flow.get('id')} has a diagonal segment"


def test_scripts_and_conditions_pass_the_sandbox(xml):
    """The engine runs them under RestrictedPython; skip if that module is not there yet."""
    scripting = pytest.importorskip("engine.scripting")
    process = xml.find("bpmn:process", NS)
    for script in process.iterfind(".//bpmn:script", NS):
        assert scripting.check_expression(script.text, "exec") is None, script.text
    for cond in process.iterfind(".//bpmn:conditionExpression", NS):
        assert scripting.check_expression(cond.text, "eval") is None, cond.text


# --- paths -----------------------------------------------------------------------------------------------------


def test_approved_without_spot_check(spec, clock):
    case = Case(spec, clock)
    assert case.ready() == ["accept"]
    case.complete("accept", decision="accept", opinion=None)
    case.complete("relatives_check", relatives_filed=False, note=None)
    assert case.economic_checks == [42]
    # Survey and economic check run side by side: the message may arrive first.
    assert case.ready() == ["household_survey"] and case.waiting() == ["wait_economic_check"]
    case.deliver("economic_check.completed", CHECK_OK)
    assert case.ready() == ["household_survey"]
    case.complete("household_survey", **SURVEY)
    case.complete("appraisal", **APPRAISAL)
    assert case.data["assessed_monthly_income"] == 1500.0
    assert case.data["proposed_amount"] == expected_amount(1500.0) == 3382.5
    assert case.data["eligible"] is True and case.data["check_flags"] == []
    case.complete("street_review", **APPROVE)

    # The notice lasts 7 days: a day short, nothing happens.
    assert case.waiting() == ["notice"]
    case.advance(days=6, hours=23)
    assert case.ready() == [] and case.waiting() == ["notice"]
    case.advance(hours=2)
    assert case.spot_check_calls == [("示范区", False)]
    assert case.ready() == ["approval"]
    case.complete("approval", **APPROVE, amount=None)
    case.complete("payment_setup", **PAYMENT)

    assert case.wf.is_completed()
    assert case.data["outcome"] == "approved"
    assert case.data["amount"] == 3382.5
    assert case.data["spot_check"] is False and case.data["objected"] is False
    assert "end_approved" in {t.task_spec.name for t in case.wf.get_tasks(state=TaskState.COMPLETED)}


def test_approved_with_spot_check_and_amount_override(spec, clock):
    case = Case(spec, clock, spot_check=lambda district, mandatory: True)
    case.complete("accept", decision="accept", opinion=None)
    case.complete("relatives_check", relatives_filed=False, note=None)
    # This time the survey finishes before the check answers: the join waits for both.
    case.complete("household_survey", **SURVEY)
    assert case.ready() == [] and case.waiting() == ["investigation_join", "wait_economic_check"]
    case.deliver("economic_check.completed", {**CHECK_OK, "monthly_income": 1800.0})
    case.complete("appraisal", **APPRAISAL)
    # The check found more income than the survey: the higher figure counts.
    assert case.data["assessed_monthly_income"] == 1800.0
    assert case.data["proposed_amount"] == expected_amount(1800.0)
    case.complete("street_review", **APPROVE)
    case.finish_notice()
    assert case.ready() == ["spot_check"]
    case.complete("spot_check", **SPOT_CHECK)
    case.complete("approval", decision="approve", opinion="按核定金额发放", amount=3000.0)
    case.complete("payment_setup", **PAYMENT)
    assert case.data["outcome"] == "approved" and case.data["amount"] == 3000.0
    assert case.data["spot_check"] is True


def test_refused_by_street_review(spec, clock):
    case = Case(spec, clock)
    case.complete("accept", decision="accept", opinion=None)
    case.complete("relatives_check", relatives_filed=False, note=None)
    case.deliver("economic_check.completed", {"passed": False, "monthly_income": 5200.0, "findings": "名下有车辆"})
    case.complete("household_survey", **SURVEY)
    case.complete("appraisal", **APPRAISAL)
    assert case.data["proposed_amount"] == 0.0 and case.data["eligible"] is False
    # The failed check and the income above the standard reach the review as flags to decide.
    assert [f["key"] for f in case.data["check_flags"]] == ["check_failed", "income_above_standard",
                                                            "income_discrepancy"]
    case.complete("street_review", decision="reject", opinion="家庭人均收入高于当地标准")
    assert case.ready() == ["refusal_notice"] and case.waiting() == []
    case.complete("refusal_notice", **REFUSAL)
    assert case.wf.is_completed()
    assert case.data["outcome"] == "refused" and case.data["amount"] is None
    assert case.spot_check_calls == []


def test_refused_at_accept(spec, clock):
    case = Case(spec, clock)
    case.complete("accept", decision="reject", opinion="申请人户籍不在本街道")
    assert case.ready() == ["refusal_notice"]
    assert case.economic_checks == []
    case.complete("refusal_notice", reason="户籍不在本街道，请向户籍所在地街道申请", delivered_on="2024-03-04")
    assert case.wf.is_completed()
    assert case.data["outcome"] == "refused" and case.data["amount"] is None


def test_refused_by_the_district(spec, clock):
    case = Case(spec, clock)
    case.through_review()
    case.finish_notice()
    case.complete("approval", decision="reject", opinion="抽查发现隐瞒收入", amount=None)
    assert case.ready() == ["refusal_notice"]
    case.complete("refusal_notice", **REFUSAL)
    assert case.data["outcome"] == "refused" and case.data["amount"] is None


def test_objection_reinvestigation_and_second_notice(spec, clock):
    case = Case(spec, clock)
    case.through_review()
    first_notice_started = clock.now
    case.advance(days=3)
    case.deliver("objection.lodged", {"from": "邻居", "content": "申请人在外打工有固定收入"})
    assert case.data["objected"] is True
    assert case.data["objection"]["content"] == "申请人在外打工有固定收入"
    assert case.ready() == ["reinvestigation"] and case.waiting() == []

    case.complete("reinvestigation", **{**SURVEY, "verified_monthly_income": 2100.0, "findings": "核实有打工收入"})
    case.complete("appraisal", **APPRAISAL)
    assert case.data["proposed_amount"] == expected_amount(2100.0)
    case.complete("street_review", **APPROVE)

    # A new 7-day notice: the first one's end passes without effect.
    assert case.waiting() == ["notice"]
    case.advance(days=5)
    assert clock.now > first_notice_started + timedelta(days=7)
    assert case.ready() == [] and case.waiting() == ["notice"]
    case.advance(days=2, minutes=1)
    # An objected case is always visited (the stub answers with the mandatory flag).
    assert case.spot_check_calls == [("示范区", True)]
    case.complete("spot_check", **SPOT_CHECK)
    case.complete("approval", **APPROVE, amount=None)
    case.complete("payment_setup", **PAYMENT)
    assert case.data["outcome"] == "approved"
    assert case.data["amount"] == expected_amount(2100.0)
    with pytest.raises(WorkflowException):
        case.wf.send_event(BpmnEvent(MessageEventDefinition("objection.lodged"), payload={}))


def test_objection_after_the_notice_is_refused(spec, clock):
    case = Case(spec, clock)
    case.through_review()
    case.finish_notice()
    with pytest.raises(WorkflowException):
        case.wf.send_event(BpmnEvent(MessageEventDefinition("objection.lodged"), payload={"content": "迟到的异议"}))
    assert case.ready() == ["approval"]


def test_relatives_filed_forces_spot_check(spec, clock):
    case = Case(spec, clock)
    case.through_review(relatives_filed=True)
    case.finish_notice()
    assert case.spot_check_calls == [("示范区", True)]
    assert case.ready() == ["spot_check"]
    case.complete("spot_check", **SPOT_CHECK)
    case.complete("approval", **APPROVE, amount=None)
    case.complete("payment_setup", **PAYMENT)
    assert case.data["outcome"] == "approved" and case.data["amount"] == 3382.5


def test_runs_with_the_sandboxed_engine(spec, clock):
    """The same path under the production RestrictedPython engine, when it is available."""
    scripting = pytest.importorskip("engine.scripting")
    case = Case(spec, clock, make_engine=scripting.make_script_engine)
    case.through_review(relatives_filed=True)
    case.finish_notice()
    case.complete("spot_check", **SPOT_CHECK)
    case.complete("approval", **APPROVE, amount=None)
    case.complete("payment_setup", **PAYMENT)
    assert case.data["outcome"] == "approved" and case.data["amount"] == 3382.5
