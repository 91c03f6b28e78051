"""Small BPMN diagrams the benchmarks deploy, in the SpiffWorkflow dialect; the tests use them too
(tests/bpmn_samples.py), so a benchmark measures the very diagram the tests exercise without importing `tests`."""

HEADER = ('<?xml version="1.0" encoding="UTF-8"?>\n'
          '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs_{key}" '
          'targetNamespace="http://jiuzhu.test">\n')


def three_steps(key: str = "three_steps", names=("A", "B", "C"), extra_script: str | None = None) -> str:
    """start → A → B → C → end, no lanes: every task goes to whoever started the instance."""
    tasks, flows = [], []
    previous = "start"
    for i, name in enumerate(names):
        tasks.append(f'<bpmn:userTask id="task_{i}" name="{name}" />')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{previous}" targetRef="task_{i}" />')
        previous = f"task_{i}"
    if extra_script:
        tasks.append(f'<bpmn:scriptTask id="script" name="脚本"><bpmn:script>{extra_script}</bpmn:script>'
                     '</bpmn:scriptTask>')
        flows.append(f'<bpmn:sequenceFlow id="fs" sourceRef="{previous}" targetRef="script" />')
        previous = "script"
    flows.append(f'<bpmn:sequenceFlow id="fend" sourceRef="{previous}" targetRef="end" />')
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="三步审批" isExecutable="true">'
            '<bpmn:startEvent id="start" />' + "".join(tasks) + '<bpmn:endEvent id="end" />' + "".join(flows)
            + "</bpmn:process></bpmn:definitions>")
