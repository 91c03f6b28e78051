"""engine.definitions: safe XML intake, SpiffWorkflow parsing and our dialect checks. No database."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.util.task import TaskState

from engine import lint
from engine.definitions import MAX_BPMN_BYTES, CompiledDefinition, compile_bpmn, parse_xml_safely
from engine.errors import InvalidDefinition, Problem
from engine.scripting import make_script_engine

MIWG = Path(__file__).resolve().parents[2] / "shared" / "bpmn-miwg"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ROLES = {"street_clerk", "street_reviewer", "district_approver"}
FORMS = {"accept_form", "review_form"}
# Where `npm run build` puts the modeler's bpmnlint rules for node; the web layer names it when it builds the engine.
BPMNLINT_BUNDLE = Path(__file__).resolve().parents[1] / "web" / "static" / "build" / "bpmnlint-node.cjs"


@pytest.fixture(autouse=True)
def bpmnlint_bundle(monkeypatch):
    """These tests run without an app, so they name the bundle as web/engine_setup.py does."""
    monkeypatch.setattr(lint, "BPMNLINT_RUNNER", BPMNLINT_BUNDLE)


def definitions(processes: str, extra: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="defs" targetNamespace="http://example.org/test">
{extra}
{processes}
</bpmn:definitions>"""


def process(body: str, pid: str = "p", lanes: dict[str, list[str]] | None = None, executable: str = "true",
            name: str = "测试流程") -> str:
    lane_xml = ""
    if lanes:
        lane_xml = '<bpmn:laneSet id="ls_' + pid + '">' + "".join(
            f'<bpmn:lane id="lane_{pid}_{lane}" name="{lane}">'
            + "".join(f"<bpmn:flowNodeRef>{ref}</bpmn:flowNodeRef>" for ref in refs)
            + "</bpmn:lane>"
            for lane, refs in lanes.items()
        ) + "</bpmn:laneSet>"
    return f'<bpmn:process id="{pid}" name="{name}" isExecutable="{executable}">{lane_xml}{body}</bpmn:process>'


def props(**values: str) -> str:
    inner = "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in values.items())
    return f"<bpmn:extensionElements><spiffworkflow:properties>{inner}</spiffworkflow:properties></bpmn:extensionElements>"


def chain(*elements: str, prefix: str = "") -> str:
    """start → elements… → end, each element given as its opening tag content and inner XML: 'userTask id=a|inner'."""
    ids = [f"{prefix}start"]
    parts = [f'<bpmn:startEvent id="{prefix}start"/>']
    for element in elements:
        head, _, inner = element.partition("|")
        tag, _, attrs = head.partition(" ")
        element_id = attrs.split('id="')[1].split('"')[0]
        ids.append(element_id)
        parts.append(f"<bpmn:{tag} {attrs}>{inner}</bpmn:{tag}>")
    ids.append(f"{prefix}end")
    parts.append(f'<bpmn:endEvent id="{prefix}end"/>')
    parts += [
        f'<bpmn:sequenceFlow id="{prefix}f{i}" sourceRef="{a}" targetRef="{b}"/>'
        for i, (a, b) in enumerate(zip(ids, ids[1:], strict=False))
    ]
    return "".join(parts)


def problems_of(xml: str | bytes, **kwargs) -> list[Problem]:
    with pytest.raises(InvalidDefinition) as caught:
        compile_bpmn(xml, **kwargs)
    assert_clean(caught.value)
    return caught.value.problems


def assert_clean(exc: InvalidDefinition, label: str = "") -> None:
    """Problems with words, and none from compile_bpmn's last-resort handler (which would hide a bug of ours)."""
    assert exc.problems, f"{label}: InvalidDefinition without problems"
    for problem in exc.problems:
        assert problem.message.strip(), label
        assert not problem.message.startswith("无法处理该文件"), f"{label}: {problem.message}"


def problem_for(problems: list[Problem], element_id: str | None, fragment: str) -> Problem:
    for problem in problems:
        if problem.element_id == element_id and fragment in problem.message:
            return problem
    raise AssertionError(f"no problem for {element_id!r} containing {fragment!r} in {problems}")


def user_task(element_id: str, name: str = "", **properties: str) -> str:
    return f'userTask id="{element_id}" name="{name or element_id}"|' + (props(**properties) if properties else "")


# -- a good diagram ---------------------------------------------------------------------------------------------

GOOD = definitions(
    process(
        chain(
            user_task("accept", "受理", formKey="accept_form", dueInWorkingDays="3", remindBeforeWorkingDays="1",
                      escalateTo="street_reviewer"),
            'subProcess id="sub"|' + chain(user_task("inner_review", "子流程审核", formKey="review_form"),
                                           prefix="sub_"),
            user_task("approve", "审批", candidateGroups="district_approver", formKey="review_form"),
            'callActivity id="call" calledElement="helper"|',
        ),
        lanes={"street_clerk": ["start", "accept", "end", "call"], "street_reviewer": ["sub", "approve"]},
    )
    + process(chain(user_task("helper_task", "协办")), pid="helper")
)


def test_good_diagram_compiles_with_user_tasks_resolved():
    compiled = compile_bpmn(GOOD, roles=ROLES, form_keys=FORMS)
    assert isinstance(compiled, CompiledDefinition) and isinstance(compiled.spec, BpmnProcessSpec)
    assert compiled.process_key == "p" and compiled.name == "测试流程"
    assert set(compiled.subprocess_specs) == {"sub", "helper"}
    tasks = {t.element_id: t for t in compiled.user_tasks}
    assert set(tasks) == {"accept", "inner_review", "approve", "helper_task"}
    accept = tasks["accept"]
    assert (accept.name, accept.lane, accept.role, accept.form_key) == ("受理", "street_clerk", "street_clerk",
                                                                        "accept_form")
    assert accept.properties["dueInWorkingDays"] == "3"
    # Embedded subprocess tasks inherit the subprocess's lane; candidateGroups overrides the lane.
    assert tasks["inner_review"].role == "street_reviewer"
    assert (tasks["approve"].lane, tasks["approve"].role) == ("street_reviewer", "district_approver")
    # A called process without lanes: no role (the task goes to whoever started the instance).
    assert tasks["helper_task"].role is None and tasks["helper_task"].form_key is None


def test_user_task_roles_match_what_the_runtime_sees():
    compiled = compile_bpmn(GOOD, roles=ROLES, form_keys=FORMS)
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=make_script_engine())
    workflow.do_engine_steps()
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    info = {t.element_id: t for t in compiled.user_tasks}[task.task_spec.bpmn_id]
    assert task.task_spec.lane == info.lane
    assert task.task_spec.extensions["properties"] == info.properties


def test_multi_instance_user_task_is_listed_once():
    task = user_task("m", formKey="accept_form") + (
        "<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics>"
    )
    compiled = compile_bpmn(definitions(process(chain(task), lanes={"street_clerk": ["m"]})), roles=ROLES,
                            form_keys=FORMS)
    assert [(t.element_id, t.role, t.form_key) for t in compiled.user_tasks] == [("m", "street_clerk", "accept_form")]


def test_str_input_and_checks_off_by_default():
    compiled = compile_bpmn(GOOD.replace("district_approver", "nobody_knows"))
    assert {t.role for t in compiled.user_tasks} >= {"nobody_knows"}


# -- choosing the process -----------------------------------------------------------------------------------------

def test_process_key_picks_among_several():
    xml = definitions(process(chain(), pid="a") + process(chain(), pid="b"))
    assert "多个" in problems_of(xml)[0].message
    assert compile_bpmn(xml, process_key="b").process_key == "b"
    problem = problems_of(xml, process_key="zzz")[0]
    assert problem.element_id is None and "zzz" in problem.message


def test_called_process_is_not_a_candidate():
    assert compile_bpmn(GOOD).process_key == "p"
    assert compile_bpmn(GOOD, process_key="helper").process_key == "helper"


def test_only_executable_process_is_chosen():
    xml = definitions(process(chain(), pid="a", executable="false") + process(chain(), pid="b"))
    assert compile_bpmn(xml).process_key == "b"


def test_single_non_executable_process_compiles_with_a_warning():
    """isExecutable="false" is most modelers' default: an obvious single process still deploys, and says so."""
    compiled = compile_bpmn(definitions(process(chain(), pid="a", executable="false")))
    assert compiled.process_key == "a"
    assert any(w.element_id == "a" and "isExecutable" in w.message for w in compiled.warnings)


def test_several_non_executable_pools_need_a_choice():
    xml = definitions(process(chain(), pid="a", executable="false") + process(chain(), pid="b", executable="false"))
    problem = problems_of(xml)[0]
    assert problem.element_id is None and "a、b" in problem.message and "process" in problem.message
    assert compile_bpmn(xml, process_key="b").process_key == "b"


def test_no_process_at_all():
    assert "没有流程" in problems_of(definitions(""))[0].message


# -- safe XML intake ------------------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">
<bpmn:documentation>&lol9;</bpmn:documentation></bpmn:process></bpmn:definitions>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">
<bpmn:documentation>&xxe;</bpmn:documentation></bpmn:process></bpmn:definitions>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, XXE_PARAMETER], ids=["billion-laughs", "xxe", "xxe-param"])
def test_entity_attacks_are_refused_fast(payload):
    started = time.perf_counter()
    problem = problems_of(payload)[0]
    assert time.perf_counter() - started < 1.0
    assert problem.element_id is None and "DOCTYPE" in problem.message
    assert "root:" not in problem.message  # /etc/passwd never read


def test_doctype_without_entities_is_refused_too():
    assert "DOCTYPE" in problems_of(b'<!DOCTYPE x><x/>')[0].message


def test_six_megabyte_upload_is_refused_before_parsing():
    huge = GOOD.encode().replace(b"</bpmn:definitions>", b"<!--" + b"x" * (6 * 1024 * 1024) + b"--></bpmn:definitions>")
    assert len(huge) > MAX_BPMN_BYTES
    started = time.perf_counter()
    problem = problems_of(huge)[0]
    assert time.perf_counter() - started < 1.0
    assert "过大" in problem.message


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"", "为空"),
        ("<?xml version='1.0' encoding='GBK'?><a>中文</a>".encode("gbk"), "UTF-8"),
        (b"this is not xml", "XML"),
        (b"<bpmn:definitions xmlns:bpmn='x'>", "XML"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "BPMN"),
        (b"<definitions xmlns='http://www.omg.org/spec/BPMN/20100524/DI'/>", "BPMN"),
    ],
)
def test_bad_files_get_a_clear_problem(payload, fragment):
    problem = problems_of(payload)[0]
    assert problem.element_id is None and fragment in problem.message


def test_stale_encoding_declaration_is_read_as_utf8():
    xml = GOOD.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    assert compile_bpmn(xml.encode("utf-8")).name == "测试流程"


def test_parse_xml_safely_returns_the_root():
    root = parse_xml_safely(GOOD.encode())
    assert root.tag == f"{{{BPMN_NS}}}definitions"


# -- SpiffWorkflow's parser, translated ---------------------------------------------------------------------------

def test_unsupported_element_is_named():
    body = chain('complexGateway id="cg"|')
    problem = problems_of(definitions(process(body)))[0]
    assert problem == Problem("cg", "不支持的元素 bpmn:complexGateway")


def test_task_with_two_outgoing_flows():
    body = chain(user_task("a")) + '<bpmn:sequenceFlow id="extra" sourceRef="a" targetRef="end"/>'
    problem_for(problems_of(definitions(process(body))), "a", "多条出口连线")


def test_missing_called_process_names_the_call_activity():
    problem_for(problems_of(definitions(process(chain('callActivity id="c" calledElement="nowhere"|')))),
                "c", "nowhere")


def test_missing_start_event():
    problem_for(problems_of(definitions(process('<bpmn:endEvent id="e"/>'))), "p", "开始事件")


def test_parser_failure_and_dialect_problems_are_reported_together():
    body = chain(
        'complexGateway id="cg"|',
        user_task("t", candidateGroups="ghost"),
        user_task("u"),
        'subProcess id="sub"|' + chain(user_task("inner"), prefix="sub_"),
        'scriptTask id="s"|<bpmn:script>import os</bpmn:script>',
    )
    problems = problems_of(definitions(process(body, lanes={"janitor": ["u", "sub"]})), roles=ROLES)
    problem_for(problems, "cg", "complexGateway")
    problem_for(problems, "t", "ghost")
    # Lanes read from the XML when SpiffWorkflow gave up, with the subprocess's lane inherited as it would be.
    problem_for(problems, "u", "janitor")
    problem_for(problems, "inner", "janitor")
    problem_for(problems, "s", "导入模块")


# -- dialect: user tasks ---------------------------------------------------------------------------------------------

def compile_tasks(*tasks: str, lanes: dict[str, list[str]] | None = None) -> list[Problem]:
    return problems_of(definitions(process(chain(*tasks), lanes=lanes)), roles=ROLES, form_keys=FORMS)


def test_unknown_lane_role():
    problem_for(compile_tasks(user_task("t"), lanes={"janitor": ["t"]}), "t", "janitor")


def test_unknown_candidate_group_and_escalation_role():
    problems = compile_tasks(user_task("t", candidateGroups="ghost", escalateTo="phantom"))
    problem_for(problems, "t", "ghost")
    problem_for(problems, "t", "phantom")


def test_task_outside_every_lane_in_a_laned_process():
    problems = compile_tasks(user_task("inside", formKey="accept_form"), user_task("outside"),
                             lanes={"street_clerk": ["inside"]})
    problem_for(problems, "outside", "泳道")
    assert not [p for p in problems if p.element_id == "inside"]


def test_task_for_a_role_needs_a_form():
    """An inbox task of an agency role must name its form; a task for whoever started the instance need not."""
    problems = compile_tasks(user_task("t"), lanes={"street_clerk": ["t"]})
    problem_for(problems, "t", "formKey")
    assert compile_bpmn(definitions(process(chain(user_task("t")))), roles=ROLES, form_keys=FORMS).user_tasks


def test_candidate_groups_excuse_a_task_outside_lanes():
    xml = definitions(process(chain(user_task("t", candidateGroups="street_clerk")), lanes={"street_clerk": []}))
    assert compile_bpmn(xml, roles=ROLES).user_tasks[0].role == "street_clerk"


def test_unknown_form_key():
    problem_for(compile_tasks(user_task("t", formKey="nope")), "t", "nope")


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "abc", "", "３"])
def test_due_days_must_be_a_positive_integer(value):
    problem_for(compile_tasks(user_task("t", dueInWorkingDays=value)), "t", "dueInWorkingDays")


@pytest.mark.parametrize(("due", "remind"), [("3", "3"), ("3", "5"), ("3", "-1"), ("3", "x")])
def test_reminder_must_be_smaller_non_negative(due, remind):
    problem_for(compile_tasks(user_task("t", dueInWorkingDays=due, remindBeforeWorkingDays=remind)),
                "t", "remindBeforeWorkingDays")


def test_reminder_without_deadline():
    problem_for(compile_tasks(user_task("t", remindBeforeWorkingDays="1")), "t", "dueInWorkingDays")


def test_reminder_zero_is_fine():
    xml = definitions(process(chain(user_task("t", dueInWorkingDays="5", remindBeforeWorkingDays="0"))))
    compile_bpmn(xml, roles=ROLES, form_keys=FORMS)


def test_all_problems_are_collected():
    problems = compile_tasks(
        user_task("a", formKey="nope"), user_task("b", dueInWorkingDays="0"), user_task("c", candidateGroups="x"),
    )
    assert {p.element_id for p in problems} == {"a", "b", "c"}


# -- dialect: timers --------------------------------------------------------------------------------------------------

def timer(kind: str, expression: str, element_id: str = "wait") -> str:
    return (f'intermediateCatchEvent id="{element_id}"|<bpmn:timerEventDefinition>'
            f"<bpmn:{kind}>{expression}</bpmn:{kind}></bpmn:timerEventDefinition>")


@pytest.mark.parametrize(
    ("kind", "expression"),
    [("timeDuration", '"P7D"'), ("timeDuration", "'PT1H'"), ("timeDuration", "survey_deadline"),
     ("timeDuration", "deadlines['survey']"), ("timeDate", '"2025-10-01T09:00:00+08:00"'),
     ("timeDate", '"2025-10-01T01:00:00Z"'), ("timeCycle", '"R3/P30D"'), ("timeCycle", '"R/PT12H"')],
)
def test_good_timers(kind, expression):
    compile_bpmn(definitions(process(chain(timer(kind, expression)))))


@pytest.mark.parametrize(
    ("kind", "expression", "fragment"),
    [
        ("timeDuration", "P7D", '须加引号，如 "P7D"'),
        ("timeDuration", "PT1H", '须加引号，如 "P7D"'),
        ("timeCycle", "R3/P30D", "须加引号"),
        ("timeDate", "2025-10-01T09:00:00+08:00", "须加引号"),
        ("timeDuration", '"P7X"', "ISO 8601"),
        ("timeDuration", '"2025-10-01T09:00:00+08:00"', "时长"),
        ("timeDuration", "7", "字符串"),
        ("timeDate", '"2025-10-01T09:00:00"', "+08:00"),
        ("timeDate", '"P7D"', "日期时间"),
        ("timeCycle", '"R3/P30X"', "ISO 8601"),
        ("timeCycle", '"R3/2025-10-01T09:00:00/P1D"', "时区"),
        ("timeDuration", "", "为空"),
        ("timeDuration", "__import__('os')", "下划线"),
        ("timeDuration", '"P7D',  "语法错误"),
    ],
)
def test_bad_timers(kind, expression, fragment):
    problem_for(problems_of(definitions(process(chain(timer(kind, expression))))), "wait", fragment)


def test_boundary_timer_is_checked_too():
    body = chain(user_task("t")) + (
        '<bpmn:boundaryEvent id="late" attachedToRef="t" cancelActivity="false">'
        "<bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:boundaryEvent>"
    )
    problem_for(problems_of(definitions(process(body))), "late", "须加引号")


# -- dialect: scripts, conditions, gateways ---------------------------------------------------------------------------

def test_script_task_refused_by_the_sandbox():
    problem_for(problems_of(definitions(process(chain('scriptTask id="s"|<bpmn:script>import os</bpmn:script>')))),
                "s", "不允许导入模块")


def test_empty_script_task():
    problem_for(problems_of(definitions(process(chain('scriptTask id="s"|')))), "s", "没有脚本")


def test_pre_and_post_scripts_are_checked():
    ext = ("<bpmn:extensionElements><spiffworkflow:preScript>x = ().__class__</spiffworkflow:preScript>"
           "<spiffworkflow:postScript>open('f')</spiffworkflow:postScript></bpmn:extensionElements>")
    problems = problems_of(definitions(process(chain(f'userTask id="t"|{ext}'))))
    problem_for(problems, "t", "前置脚本")
    problem_for(problems, "t", "后置脚本")


def gateway(conditions: dict[str, str], default: str | None = None) -> str:
    targets = "".join(f'<bpmn:endEvent id="end_{flow}"/>' for flow in conditions)
    flows = "".join(
        f'<bpmn:sequenceFlow id="{flow}" sourceRef="gw" targetRef="end_{flow}">'
        + (f"<bpmn:conditionExpression>{cond}</bpmn:conditionExpression>" if cond else "")
        + "</bpmn:sequenceFlow>"
        for flow, cond in conditions.items()
    )
    default_attr = f' default="{default}"' if default else ""
    return definitions(process(
        '<bpmn:startEvent id="start"/><bpmn:sequenceFlow id="in" sourceRef="start" targetRef="gw"/>'
        f'<bpmn:exclusiveGateway id="gw"{default_attr}/>{targets}{flows}'
    ))


def test_condition_refused_by_the_sandbox():
    problems = problems_of(gateway({"yes": "open('x') == 1", "no": None}, default="no"))
    problem_for(problems, "yes", "open")


def test_exclusive_gateway_needs_a_default():
    problems = problems_of(gateway({"yes": "a &gt; 1", "no": "a &lt;= 1"}))
    problem_for(problems, "gw", "默认连线")


def test_exclusive_gateway_with_default_compiles():
    compile_bpmn(gateway({"yes": "a &gt; 1", "no": None}, default="no"))


def test_single_conditional_outgoing_flow_is_allowed():
    compile_bpmn(gateway({"only": "a &gt; 1"}))


def test_condition_on_a_task_flow_is_flagged():
    xml = definitions(process(
        '<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end">'
        "<bpmn:conditionExpression>a &gt; 1</bpmn:conditionExpression></bpmn:sequenceFlow>"
    ))
    problem_for(problems_of(xml), "f", "网关")


# -- DMN --------------------------------------------------------------------------------------------------------------

DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="http://example.org">
  <decision id="level" name="level">
    <decisionTable id="table" hitPolicy="FIRST">
      <input id="in1" label="income"><inputExpression id="ie1" typeRef="number"><text>income</text></inputExpression>
      </input>
      <output id="out1" name="level" typeRef="string"/>
      <rule id="r1"><inputEntry id="e1"><text>&lt; limit</text></inputEntry>
        <outputEntry id="o1"><text>"low"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="e2"><text>-</text></inputEntry>
        <outputEntry id="o2"><text>"high"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""

RULE_TASK = ('businessRuleTask id="rule"|<bpmn:extensionElements>'
             "<spiffworkflow:calledDecisionId>level</spiffworkflow:calledDecisionId></bpmn:extensionElements>")


def test_dmn_decision_runs_through_the_sandbox():
    compiled = compile_bpmn(definitions(process(chain(RULE_TASK, user_task("t")))), dmn=[DMN])
    workflow = BpmnWorkflow(compiled.spec, compiled.subprocess_specs, script_engine=make_script_engine())
    workflow.get_tasks(state=TaskState.READY)[0].set_data(income=300, limit=500)
    workflow.do_engine_steps()
    assert workflow.get_tasks(state=TaskState.READY, manual=True)[0].data["level"] == "low"


def test_missing_dmn_names_the_rule_task():
    problem_for(problems_of(definitions(process(chain(RULE_TASK)))), "rule", "level")


def test_bad_dmn_file():
    problem_for(problems_of(definitions(process(chain(RULE_TASK))), dmn=[b"<x/>"]), None, "DMN")


# -- robustness ---------------------------------------------------------------------------------------------------

def test_any_element_removed_still_gives_a_clean_answer():
    """Delete each element of a rich diagram in turn: compile or InvalidDefinition, nothing else."""
    source = GOOD.encode()
    count = sum(1 for _ in etree.fromstring(source).iter())
    for index in range(1, count):
        root = etree.fromstring(source)
        victim = list(root.iter())[index]
        victim.getparent().remove(victim)
        try:
            compile_bpmn(etree.tostring(root), roles=ROLES, form_keys=FORMS)
        except InvalidDefinition as exc:
            assert_clean(exc, f"without element {index}")


@pytest.mark.parametrize("cut", [10, 100, 400, 700, 1000, 2000])
def test_truncated_upload(cut):
    problems_of(GOOD.encode()[:cut])


def miwg_files() -> list[Path]:
    if not MIWG.is_dir():
        pytest.skip(f"{MIWG} is absent")
    files = sorted(MIWG.glob("*.bpmn"))
    assert files
    return files


def test_miwg_reference_models_compile_or_are_refused_clearly():
    for path in miwg_files():
        started = time.perf_counter()
        try:
            compile_bpmn(path.read_bytes(), roles=None, form_keys=None)
        except InvalidDefinition as exc:
            assert_clean(exc, path.name)
        assert time.perf_counter() - started < 5, path.name


def test_miwg_reference_models_made_executable():
    """The same files with every process marked executable reach deep into SpiffWorkflow's parser."""
    for path in miwg_files():
        data = path.read_bytes().replace(b'isExecutable="false"', b'isExecutable="true"')
        for process_element in etree.fromstring(data).iterfind(f"{{{BPMN_NS}}}process"):
            try:
                compile_bpmn(data, process_key=process_element.get("id"), roles=None, form_keys=None)
            except InvalidDefinition as exc:
                assert_clean(exc, f"{path.name} {process_element.get('id')}")


# -- unreachable elements and bpmnlint ----------------------------------------------------------------------------

def test_unreachable_element_is_named():
    body = (chain(user_task("a")) + '<bpmn:userTask id="orphan" name="孤立"/>'
            + '<bpmn:sequenceFlow id="fo" sourceRef="orphan" targetRef="end"/>')
    problem_for(problems_of(definitions(process(body))), "orphan", "无法到达")


def test_boundary_event_subprocess_and_link_events_are_reachable():
    body = (
        chain(user_task("a"), 'intermediateThrowEvent id="throw"|<bpmn:linkEventDefinition name="L"/>')
        .replace('<bpmn:endEvent id="end"/>', "")
        .replace('<bpmn:sequenceFlow id="f3" sourceRef="throw" targetRef="end"/>', "")
        + '<bpmn:intermediateCatchEvent id="catch"><bpmn:linkEventDefinition name="L"/></bpmn:intermediateCatchEvent>'
        + '<bpmn:endEvent id="end"/><bpmn:sequenceFlow id="fl" sourceRef="catch" targetRef="end"/>'
        + '<bpmn:boundaryEvent id="late" attachedToRef="a"><bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"'
          '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + '<bpmn:endEvent id="late_end"/><bpmn:sequenceFlow id="fb" sourceRef="late" targetRef="late_end"/>'
        + '<bpmn:subProcess id="events" triggeredByEvent="true"><bpmn:startEvent id="es">'
          '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent><bpmn:endEvent id="ee"/>'
          '<bpmn:sequenceFlow id="fe" sourceRef="es" targetRef="ee"/></bpmn:subProcess>'
    )
    compiled = compile_bpmn(definitions(process(body), extra='<bpmn:message id="m" name="m"/>'))
    assert compiled.process_key == "p"


def test_inside_an_unreached_subprocess_only_the_subprocess_is_named():
    inner = chain(user_task("inner"), prefix="sub_")
    body = chain(user_task("a")) + f'<bpmn:subProcess id="island">{inner}</bpmn:subProcess>'
    problems = [p for p in problems_of(definitions(process(body))) if "无法到达" in p.message]
    assert [p.element_id for p in problems] == ["island"]


def test_bpmnlint_runs_on_the_server_with_the_modelers_rules():
    assert lint.bpmnlint_available(), "run `npm run build` (make setup) to bundle web/static/build/bpmnlint-node.cjs"
    complex_gateway = definitions(process(chain('complexGateway id="cg"|')))
    report = lint.run_bpmnlint(complex_gateway.encode())
    assert report.unavailable is None
    assert any(f.rule == "no-complex-gateway" and f.element_id == "cg" and f.is_error for f in report.findings)
    problem_for(problems_of(complex_gateway, lint=True), "cg", "bpmnlint: no-complex-gateway")
    # Layout and naming rules only warn: an unlabelled diagram without a drawing still compiles.
    compiled = compile_bpmn(definitions(process(chain(user_task("a")))), lint=True)
    assert any("label-required" in w.message for w in compiled.warnings)
    assert any("no-bpmndi" in w.message for w in compiled.warnings)


def test_bpmnlint_missing_is_a_warning_not_a_crash(monkeypatch):
    monkeypatch.setattr(lint, "BPMNLINT_RUNNER", Path("/nonexistent/bpmnlint.cjs"))
    lint.clear_cache()
    compiled = compile_bpmn(definitions(process(chain(user_task("a")))).replace("测试流程", "无检查"), lint=True)
    assert any("bpmnlint" in w.message and w.element_id is None for w in compiled.warnings)
