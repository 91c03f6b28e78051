"""engine.scripting: the RestrictedPython sandbox, alone and driving real SpiffWorkflow runs. No database."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import clock, scripting
from engine.errors import ScriptError
from engine.scripting import RestrictedEnvironment, check_expression, make_script_engine

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"


def definitions(body: str, process_id: str = "p") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="{SPIFF_NS}" id="defs" targetNamespace="http://example.org/test">
  <bpmn:process id="{process_id}" isExecutable="true">
{body}
  </bpmn:process>
</bpmn:definitions>"""


def run(xml: str, data: dict | None = None, functions: dict | None = None) -> BpmnWorkflow:
    """Parse with SpiffWorkflow directly (no validation, so refused scripts reach the engine) and run."""
    return run_with(xml, data, make_script_engine(functions))


def run_with(xml: str, data: dict | None, script_engine) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(xml.encode(), filename="test.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("p"), parser.get_subprocess_specs("p"), script_engine=script_engine)
    if data:
        workflow.get_tasks(state=TaskState.READY)[0].set_data(**data)
    workflow.do_engine_steps()
    return workflow


def script_process(script: str) -> str:
    escaped = script.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return definitions(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="script"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>{escaped}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="end"/>""")


# -- ordinary scripts -------------------------------------------------------------------------------------------

def test_ordinary_script_writes_back_like_task_data_environment():
    env = RestrictedEnvironment({"double": lambda x: 2 * x})
    data = {"a": 1, "items": [1, 2], "m": {"k": 1}, "gone": 5}
    env.execute(
        "b = a + 1\n"
        "items.append(3)\n"
        "m['z'] = double(a)\n"
        "n = 0\n"
        "for i in items:\n"
        "    n += i\n"
        "squares = [x * x for x in items if x > 1]\n"
        "pairs = {k: v for k, v in m.items()}\n"
        "for k, v in sorted(m.items()):\n"
        "    last = k\n"
        "got = m.get('k'), m.get('missing', 0)\n"
        "first, *rest = items\n"
        "label = f'{a}-{b}'\n"
        "total = sum(items) + len(m) + max(items) + round(2.5) + abs(-1)\n"
        "flags = any(items), all(items), isinstance(a, int), list(zip(items, range(3)))[0]\n"
        "print('ignored')\n"
        "def helper(x):\n"
        "    return x + 1\n"
        "via_helper = helper(1)\n"
        "del gone\n",
        data,
    )
    assert data["b"] == 2 and data["items"] == [1, 2, 3] and data["m"] == {"k": 1, "z": 2}
    assert data["n"] == 6 and data["squares"] == [4, 9] and data["pairs"] == {"k": 1, "z": 2}
    assert data["last"] == "z" and data["got"] == (1, 0) and data["first"] == 1 and data["rest"] == [2, 3]
    assert data["label"] == "1-2" and data["total"] == 6 + 2 + 3 + 2 + 1 and data["via_helper"] == 2
    assert data["flags"] == (True, True, True, (1, 0))
    # Functions, builtins, guards and RestrictedPython's helper variables never land in task data.
    assert "gone" not in data
    assert not any(callable(v) for v in data.values())
    assert not any(k.startswith("_") for k in data)
    assert "double" not in data and "helper" not in data


def test_existing_underscore_keys_in_data_survive():
    data = {"_meta": {"source": "form"}, "a": 1}
    RestrictedEnvironment().execute("b = a", data)
    assert data == {"_meta": {"source": "form"}, "a": 1, "b": 1}


def test_misspelt_attribute_fails_instead_of_answering_none():
    with pytest.raises(AttributeError, match="itmes"):
        RestrictedEnvironment().execute("pairs = m.itmes()", {"m": {}})


def test_external_context_is_visible_but_not_kept():
    data = {"a": 1}
    RestrictedEnvironment().execute("b = a + extra", data, {"extra": 10})
    assert data == {"a": 1, "b": 11}


def test_evaluate_sees_data_functions_and_external_context():
    env = RestrictedEnvironment({"double": lambda x: 2 * x})
    assert env.evaluate("double(a) > 1 and b.get('k') == 'v'", {"a": 1, "b": {"k": "v"}}) is True
    assert env.evaluate("dmninputexpr < limit", {"limit": 5}, {"dmninputexpr": 3}) is True
    assert env.evaluate("\n   a + 1\n", {"a": 1}) == 2  # XML-indented condition text


def test_data_cannot_replace_the_guards():
    # A form could post a key named like a guard; the guards are always re-applied last.
    assert RestrictedEnvironment().evaluate("x.upper()", {"x": "a", "_getattr_": "oops", "__builtins__": {}}) == "A"


def test_data_shadowing_a_function_is_refused_as_in_spiffworkflow():
    with pytest.raises(ValueError, match="double"):
        RestrictedEnvironment({"double": lambda x: x}).execute("y = 1", {"double": 2})


def test_function_names_must_be_plain_identifiers():
    with pytest.raises(ValueError):
        make_script_engine({"_secret": lambda: 1})


def test_compiled_code_is_cached():
    source = "cached_probe_value = 41 + 1"
    RestrictedEnvironment().execute(source, {})
    before = scripting._compile.cache_info().hits
    RestrictedEnvironment().execute(source, {})
    assert scripting._compile.cache_info().hits == before + 1
    assert scripting._compile.cache_info().maxsize is not None


# -- forbidden constructs ---------------------------------------------------------------------------------------

FORBIDDEN = [
    ("import os", "导入模块"),
    ("from os import path", "导入模块"),
    ("__import__('os')", "下划线"),
    ("open('/etc/passwd')", "open"),
    ("eval('1 + 1')", "eval"),
    ("exec('x = 1')", "exec"),
    ("().__class__.__base__.__subclasses__()", "__class__"),
    ("getattr(x, '__class__')", "getattr"),
    ("x.__dict__", "__dict__"),
    ("globals()", "globals"),
    ("type(x).mro()", "type"),
    ("class A:\n    pass", "类"),
    ("gen = (i for i in [1])\nframe = gen.gi_frame", "gi_frame"),
]


@pytest.mark.parametrize(("source", "hint"), FORBIDDEN)
def test_forbidden_construct_is_refused_at_compile_time(source, hint):
    message = check_expression(source, "exec")
    assert message is not None and hint in message


def test_refusal_names_the_line():
    assert check_expression("a = 1\nb = 2\nimport os", "exec") == "第3行：不允许导入模块"


def test_check_expression_accepts_ordinary_code():
    assert check_expression("total > 100 and decision == 'approve'", "eval") is None
    assert check_expression("x = {'a': 1}\nx['b'] = 2\nn = 0\nn += 1", "exec") is None


@pytest.mark.parametrize("source", ["", "   ", "a = (", "a >", "x\x00", "(" * 300 + ")" * 300])
def test_broken_sources_get_a_message_not_an_exception(source):
    assert check_expression(source, "eval")
    assert check_expression(source, "exec")


@pytest.mark.parametrize(("source", "hint"), FORBIDDEN)
def test_forbidden_script_fails_the_task_readably(source, hint):
    with pytest.raises(WorkflowTaskException) as caught:
        run(script_process(source), {"x": 1})
    assert hint in str(caught.value)


def test_format_string_escape_is_blocked_at_run_time():
    # '{0.__class__}'.format(x) reaches attributes through the format mini-language; the guard refuses format().
    with pytest.raises(WorkflowTaskException, match="format"):
        run(script_process("leak = '{0.__class__}'.format(x)"), {"x": 1})


def test_aliased_builtins_are_still_guarded_at_run_time():
    # Aliasing gets past the compile-time call check; the run-time guards still hold.
    env = RestrictedEnvironment({"fn": len})
    with pytest.raises(TypeError, match="attribute-less"):
        env.execute("s = setattr\ns(fn, 'name', 1)", {})
    with pytest.raises(NameError, match="getattr"):
        env.execute("g = getattr\nleak = g(fn, '__self__')", {})
    with pytest.raises(NameError, match="open"):
        env.execute("o = open\nf = o('/etc/passwd')", {})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = {}\ny = x[1]", "KeyError"),  # Spiff's own formatter would crash on the int argument
        ("y = 1 / 0", "ZeroDivisionError"),
        ("y = undefined_name", "NameError"),
        ("a = (", "语法错误"),
    ],
)
def test_failing_script_becomes_workflow_task_exception(source, expected):
    with pytest.raises(WorkflowTaskException) as caught:
        run(script_process(source))
    assert expected in str(caught.value)


def test_runtime_error_reports_its_line():
    with pytest.raises(WorkflowTaskException) as caught:
        run(script_process("a = 1\nb = {}\nc = b['missing']"))
    assert caught.value.line_number == 3
    assert caught.value.error_line == "c = b['missing']"


def test_sandbox_violation_is_a_script_error():
    with pytest.raises(ScriptError, match="导入模块"):
        RestrictedEnvironment().execute("import os", {})
    with pytest.raises(ScriptError, match="表达式为空"):
        RestrictedEnvironment().evaluate(None, {})


# -- end to end through SpiffWorkflow -----------------------------------------------------------------------------

GATEWAY_PROCESS = definitions("""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="compute"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script>total = 0
for item in household['members']:
    total += item['income']
household['checked'] = True
subsidy = compute_subsidy(total)</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="to_low"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>to_high</bpmn:outgoing><bpmn:outgoing>to_low</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="high" name="高收入复核">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>reviews = len(household['members'])</spiffworkflow:preScript>
        <spiffworkflow:postScript>closed = decision == 'approve'</spiffworkflow:postScript>
      </bpmn:extensionElements>
      <bpmn:incoming>to_high</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="low" name="低收入审批"><bpmn:incoming>to_low</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="compute"/>
    <bpmn:sequenceFlow id="f2" sourceRef="compute" targetRef="gw"/>
    <bpmn:sequenceFlow id="to_high" sourceRef="gw" targetRef="high">
      <bpmn:conditionExpression>total &gt; limit and household.get('checked')</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_low" sourceRef="gw" targetRef="low"/>
    <bpmn:sequenceFlow id="f3" sourceRef="high" targetRef="end"/>
    <bpmn:sequenceFlow id="f4" sourceRef="low" targetRef="end"/>""")

FUNCTIONS = {"compute_subsidy": lambda total: max(0, 1000 - total)}


def household(*incomes: int) -> dict:
    return {"household": {"members": [{"income": i} for i in incomes]}, "limit": 500}


def ready(workflow: BpmnWorkflow) -> list[str]:
    return [t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True)]


def test_script_and_condition_route_a_real_workflow():
    workflow = run(GATEWAY_PROCESS, household(300, 400), FUNCTIONS)
    assert ready(workflow) == ["high"]
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    assert task.data["total"] == 700 and task.data["subsidy"] == 300 and task.data["household"]["checked"] is True
    assert task.data["reviews"] == 2  # the pre-script ran when the task became READY
    assert "compute_subsidy" not in task.data and "__builtins__" not in task.data
    task.set_data(decision="approve")
    task.run()
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["closed"] is True


def test_default_flow_when_condition_is_false():
    workflow = run(GATEWAY_PROCESS, household(100), FUNCTIONS)
    assert ready(workflow) == ["low"]


def test_failing_condition_is_a_workflow_task_exception():
    data = household(300, 400)
    del data["limit"]
    with pytest.raises(WorkflowTaskException, match="limit"):
        run(GATEWAY_PROCESS, data, FUNCTIONS)


def test_functions_are_only_what_was_whitelisted():
    with pytest.raises(WorkflowTaskException, match="compute_subsidy"):
        run(GATEWAY_PROCESS, household(300), {})


def timer_process(expression: str) -> str:
    return definitions(f"""
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>{expression}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>""")


@pytest.mark.parametrize(
    ("expression", "data", "days"),
    [('"P7D"', {}, 7), ("survey_deadline", {"survey_deadline": "P15D"}, 15), ("'P%dD' % n", {"n": 3}, 3)],
)
def test_timer_expressions_go_through_the_sandbox(expression, data, days):
    # SpiffWorkflow's timers read the installed clock, which other tests may have set to a simulated one.
    before = clock.now()
    workflow = run(timer_process(expression), data)
    waiting = workflow.get_tasks(state=TaskState.WAITING, spec_name="wait")
    assert len(waiting) == 1
    due = datetime.fromisoformat(waiting[0].internal_data["event_value"])
    assert timedelta(days=days) <= due - before < timedelta(days=days, minutes=1)


def test_timer_expression_escaping_the_sandbox_fails_readably():
    with pytest.raises(WorkflowTaskException, match="下划线"):
        run(timer_process("__import__('os').getcwd()"))
