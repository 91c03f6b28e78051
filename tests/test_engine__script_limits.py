"""Script limits: hostile scripts and conditions are stopped by the runner process's CPU, memory and result-size
limits — in a request (a JSON 4xx, nothing changed) and behind a timer (the sweep returns, other timers fire)."""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import clock, script_runner
from engine.errors import ScriptError
from engine.models import InstanceStatus, ProcessInstance
from engine.script_runner import ScriptLimitExceeded, ScriptLimits
from engine.scripting import RestrictedEnvironment, make_script_engine, mask_identifiers
from tests.bpmn_samples import HEADER, three_steps
from web.extensions import db

SMALL = ScriptLimits(cpu_seconds=0.5, memory_mb=128, output_kb=64)
# Generous for a loaded 2-core CI box; without limits each of these would run for minutes or eat gigabytes.
QUICKLY = 8.0

HOSTILE_SCRIPTS = {
    "loop": "while True:\n    pass",
    "power": "x = 10**10**8",
    "list": "x = [0]*10**9",
    "caught_loop": "n = 0\nwhile True:\n    try:\n        while True:\n            n += 1\n    except:\n        pass",
}


@pytest.fixture
def small_limits(engine, monkeypatch):
    monkeypatch.setattr(engine.script_engine.environment, "limits", SMALL)
    return SMALL


def deploy(login, xml: str) -> None:
    response = login("designer").post("process-definitions", data=xml, headers={"Content-Type": "application/xml"})
    assert response.status_code in (200, 201), response.get_json()


def gateway_condition(key: str, condition: str) -> str:
    """start → A → gateway (condition → B, default → C) → end."""
    condition = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="条件" isExecutable="true">'
            '<bpmn:startEvent id="start" /><bpmn:userTask id="a" name="A" />'
            '<bpmn:exclusiveGateway id="gw" name="分支" default="to_c" />'
            '<bpmn:userTask id="b" name="B" /><bpmn:userTask id="c" name="C" /><bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="gw" />'
            f'<bpmn:sequenceFlow id="to_b" sourceRef="gw" targetRef="b"><bpmn:conditionExpression>{condition}'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="to_c" sourceRef="gw" targetRef="c" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="end" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="c" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


def timer_then(key: str, body: str) -> str:
    """start → 1 hour timer → `body` (one element with id "then") → end."""
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="定时" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            '<bpmn:intermediateCatchEvent id="wait_hour" name="等一小时"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            + body + '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_hour" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait_hour" targetRef="then" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="then" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


def state_of(app, instance_id: int) -> tuple:
    with app.app_context():
        instance = db.session.get(ProcessInstance, instance_id)
        return instance.version, instance.state, instance.status


def assert_healthy_and_normal_case_completes(client, login) -> None:
    assert client.get("/api/v1/health").status_code == 200
    deploy(login, three_steps("after_hostile", names=("A",), extra_script="doubled = x * 2"))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "after_hostile", "data": {"x": 21}}).get_json()
    done = clerk.post(f"tasks/{body['tasks'][0]['id']}/complete", json={"data": {}})
    assert done.status_code == 200, done.get_json()
    final = clerk.get(f"process-instances/{body['id']}").get_json()
    assert final["status"] == "completed"


# -- in a request ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(HOSTILE_SCRIPTS))
def test_script_limits__hostile_script_task_fails_the_request_cleanly(app, client, login, small_limits, name):
    key = f"hostile_{name}"
    deploy(login, three_steps(key, names=("A",), extra_script=HOSTILE_SCRIPTS[name]))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": key}).get_json()
    task_id = body["tasks"][0]["id"]
    before = state_of(app, body["id"])
    started = time.monotonic()
    response = clerk.post(f"tasks/{task_id}/complete", json={"data": {}})
    assert time.monotonic() - started < QUICKLY
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "script_error"
    expected = "内存限制（128 MB）" if name == "list" else "0.5 秒 CPU 时间限制"
    assert expected in error["message"] and "脚本" in error["message"]
    assert state_of(app, body["id"]) == before
    assert clerk.get(f"tasks/{task_id}").get_json()["status"] == "open"
    assert_healthy_and_normal_case_completes(client, login)


def test_script_limits__hostile_script_at_start_creates_nothing(app, client, login, small_limits):
    deploy(login, three_steps("hostile_start", names=(), extra_script="x = 10**10**8"))
    started = time.monotonic()
    response = login("jd_heping").post("process-instances", json={"process_key": "hostile_start"})
    assert time.monotonic() - started < QUICKLY
    assert response.status_code == 422
    assert "CPU 时间限制" in response.get_json()["error"]["message"]
    with app.app_context():
        assert db.session.scalars(select(ProcessInstance).where(ProcessInstance.process_key == "hostile_start")
                                  ).first() is None


def test_script_limits__hostile_gateway_condition(app, client, login, small_limits):
    deploy(login, gateway_condition("hostile_gateway", "len([0]*10**9) > 0"))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "hostile_gateway"}).get_json()
    task_id = body["tasks"][0]["id"]
    before = state_of(app, body["id"])
    started = time.monotonic()
    response = clerk.post(f"tasks/{task_id}/complete", json={"data": {}})
    assert time.monotonic() - started < QUICKLY
    assert response.status_code == 422
    assert "内存限制" in response.get_json()["error"]["message"]
    assert state_of(app, body["id"]) == before
    assert_healthy_and_normal_case_completes(client, login)


def test_script_limits__oversized_result_is_refused(app, login, small_limits):
    deploy(login, three_steps("hostile_output", names=("A",), extra_script="blob = 'x' * 100000"))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "hostile_output"}).get_json()
    response = clerk.post(f"tasks/{body['tasks'][0]['id']}/complete", json={"data": {}})
    assert response.status_code == 422
    assert "脚本结果过大" in response.get_json()["error"]["message"]


def test_script_limits__error_names_the_line_and_masks_id_numbers(login, small_limits):
    deploy(login, three_steps("leaky", names=("A",), extra_script="a = 1\nn = int(id_number + '?')"))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "leaky",
                                                 "data": {"id_number": "11010119900307123X"}}).get_json()
    response = clerk.post(f"tasks/{body['tasks'][0]['id']}/complete", json={"data": {}})
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "11010119900307123X" not in message and "110101********123X" in message
    assert "第 2 行" in message and "ValueError" in message and "脚本" in message


def test_script_limits__whitelisted_functions_run_in_the_parent_step(login, small_limits):
    # working_deadline reads the step (clock, calendar) through current_step(): it only works in the parent.
    deploy(login, three_steps("rpc", names=("A",), extra_script="due = working_deadline(3)\nn = len(due)"))
    clerk = login("jd_heping")
    body = clerk.post("process-instances", json={"process_key": "rpc"}).get_json()
    assert clerk.post(f"tasks/{body['tasks'][0]['id']}/complete", json={"data": {}}).status_code == 200
    final = clerk.get(f"process-instances/{body['id']}").get_json()
    assert final["status"] == "completed"


# -- behind a timer ----------------------------------------------------------------------------------------------

def timer_then_condition(key: str, condition: str) -> str:
    """start → 1 hour timer → gateway (condition → end, default → end)."""
    condition = condition.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="定时条件" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            '<bpmn:intermediateCatchEvent id="wait_hour" name="等一小时"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:exclusiveGateway id="then" name="分支" default="to_end" /><bpmn:endEvent id="end" />'
            '<bpmn:endEvent id="other_end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_hour" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait_hour" targetRef="then" />'
            f'<bpmn:sequenceFlow id="to_other" sourceRef="then" targetRef="other_end"><bpmn:conditionExpression>'
            f'{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="to_end" sourceRef="then" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


BEHIND_A_TIMER = {
    **{name: ("script", body) for name, body in HOSTILE_SCRIPTS.items()},
    "condition": ("condition", "len([0]*10**9) > 0"),
}


@pytest.mark.parametrize("name", sorted(BEHIND_A_TIMER))
def test_script_limits__hostile_step_behind_a_timer_becomes_an_incident(app, client, engine, login, small_limits,
                                                                        name):
    kind, body = BEHIND_A_TIMER[name]
    key = f"hostile_timer_{name}"
    if kind == "script":
        script = body.replace("&", "&amp;").replace("<", "&lt;")
        deploy(login, timer_then(key, f'<bpmn:scriptTask id="then" name="恶意脚本"><bpmn:script>{script}'
                                      '</bpmn:script></bpmn:scriptTask>'))
    else:
        deploy(login, timer_then_condition(key, body))
    deploy(login, timer_then("canary_timer", '<bpmn:userTask id="then" name="之后" />'))
    clerk = login("jd_heping")
    hostile = clerk.post("process-instances", json={"process_key": key}).get_json()["id"]
    canary = clerk.post("process-instances", json={"process_key": "canary_timer"}).get_json()["id"]
    clock.active().advance(timedelta(hours=2))
    with app.app_context():
        started = time.monotonic()
        assert engine.sweep_timers() == 1  # the canary fired in the same sweep
        assert time.monotonic() - started < QUICKLY
        stuck = db.session.get(ProcessInstance, hostile)
        assert stuck.status == InstanceStatus.INCIDENT  # parked: the next sweeps skip it until an admin retries
        db.session.remove()
    incident = login("admin").get(f"process-instances/{hostile}").get_json()["incident"]
    expected = "内存限制" if name in ("list", "condition") else "CPU 时间限制"
    assert incident["element_id"] == "then" and expected in incident["error"], incident
    assert [t["name"] for t in clerk.get(f"process-instances/{canary}").get_json()["tasks"]] == ["之后"]
    assert client.get("/api/v1/health").status_code == 200
    with app.app_context():
        assert engine.sweep_timers() == 0  # not entered again
        db.session.remove()


# -- the runner itself -------------------------------------------------------------------------------------------

def test_script_limits__time_spent_in_function_calls_counts_against_the_limit():
    """The child's CPU limit cannot see the parent answering its calls: one deadline covers the whole script."""
    def slow():
        time.sleep(0.3)  # a function that takes its time in the parent (e.g. a long calendar walk)
        return 1

    env = RestrictedEnvironment({"slow": slow}, SMALL)  # 0.5 s CPU: the whole script may take 2 s at most
    started = time.monotonic()
    with pytest.raises(ScriptLimitExceeded):
        env.execute("n = 0\nwhile True:\n    n += slow()", {})
    assert time.monotonic() - started < SMALL.wall_seconds + 1.0


def test_script_limits__an_id_number_at_the_cut_is_still_masked():
    from engine.scripting import _describe

    text = _describe(ValueError("x" * 472 + "11010119900307123X"))
    assert "1101011990030712" not in text and "11010119900307" not in text


def test_script_limits__results_and_function_calls_round_trip():
    calls = []

    def remember(value, twice=False):
        calls.append(value)
        return {"seen": value * (2 if twice else 1)}

    env = RestrictedEnvironment({"remember": remember}, SMALL)
    data = {"a": 2, "items": [1], "_meta": {"k": "v"}}
    env.execute("items.append(3)\nr = remember(a, twice=True)\nb = r['seen'] + 1\nprint('x')", data)
    assert data == {"a": 2, "items": [1, 3], "_meta": {"k": "v"}, "r": {"seen": 4}, "b": 5}
    assert calls == [2]
    assert env.evaluate("remember(a)['seen'] == 2 and extra", data, {"extra": True}) is True


def test_script_limits__function_errors_keep_their_type_and_script_line():
    def fail():
        raise LookupError("没有这个人")

    env = RestrictedEnvironment({"fail": fail}, SMALL)
    with pytest.raises(LookupError, match="没有这个人"):
        env.execute("a = 1\nb = fail()", {})
    data: dict = {}
    env.execute("try:\n    fail()\nexcept Exception:\n    caught = True", data)
    assert data == {"caught": True}


def test_script_limits__runner_is_reused_and_replaced_after_a_kill():
    env = RestrictedEnvironment({}, SMALL)
    assert env.evaluate("1 + 1", {}) == 2
    first = script_runner._pool._idle[-1].process.pid
    assert env.evaluate("2 + 2", {}) == 4
    assert script_runner._pool._idle[-1].process.pid == first
    with pytest.raises(ScriptLimitExceeded):
        env.execute("x = 10**10**8", {})
    assert env.evaluate("3 + 3", {}) == 6
    assert all(runner.alive for runner in script_runner._pool._idle)


def test_script_limits__non_json_data_is_a_script_error():
    with pytest.raises(ScriptError, match="JSON"):
        RestrictedEnvironment({}, SMALL).evaluate("1", {"when": object()})
    with pytest.raises(Exception, match="JSON"):
        RestrictedEnvironment({}, SMALL).execute("s = {1, 2}", {})


def test_script_limits__runner_exits_with_its_input():
    runner = script_runner._Runner()
    pid = runner.process.pid
    runner.close()
    assert runner.process.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_script_limits__mask_identifiers():
    assert mask_identifiers("号码 11010119900307123X 与 110101199003071234。") == \
        "号码 110101********123X 与 110101********1234。"
    assert mask_identifiers("金额 1395") == "金额 1395"


def test_script_limits__threads_never_share_a_runner():
    env = RestrictedEnvironment({"echo": lambda v: v}, SMALL)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(15):
                data = {"n": n, "i": i}
                env.execute("r = echo(n * 100 + i)", data)
                assert data["r"] == n * 100 + i
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    script_runner.shutdown()  # the extra runners the threads needed: none outlives the test
    assert not errors


def test_script_limits__a_real_workflow_routes_through_the_runner():
    from tests.test_engine__scripting import (
        FUNCTIONS,
        GATEWAY_PROCESS,
        household,
        ready,
        run_with,
        timer_process,
    )

    workflow = run_with(GATEWAY_PROCESS, household(300, 400), make_script_engine(FUNCTIONS, SMALL))
    assert ready(workflow) == ["high"]
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    assert task.data["total"] == 700 and task.data["subsidy"] == 300 and task.data["reviews"] == 2
    before = clock.now()
    workflow = run_with(timer_process("'P%dD' % n"), {"n": 3}, make_script_engine({}, SMALL))
    [waiting] = workflow.get_tasks(state=TaskState.WAITING, spec_name="wait")
    due = datetime.fromisoformat(waiting.internal_data["event_value"])
    assert timedelta(days=3) <= due - before < timedelta(days=3, minutes=1)
    with pytest.raises(WorkflowTaskException, match="CPU"):
        run_with(GATEWAY_PROCESS.replace("total &gt; limit", "sum(range(10**12)) &gt; limit"),
                 household(300), make_script_engine(FUNCTIONS, SMALL))


def test_script_limits__the_runner_does_not_inherit_secrets(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    runner = script_runner._Runner()
    try:
        environ = open(f"/proc/{runner.process.pid}/environ", "rb").read().split(b"\0")
    finally:
        runner.kill()
    assert not any(entry.startswith(b"SECRET_KEY=") for entry in environ)
