"""Small diagrams for API and engine tests, in the SpiffWorkflow dialect."""

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


def with_message_and_timer(key: str = "wait_demo") -> str:
    return (HEADER.format(key=key) + f'<bpmn:message id="m1" name="ping" />'
            f'<bpmn:process id="{key}" name="等待" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            '<bpmn:intermediateCatchEvent id="wait_ping" name="等待 ping"><bpmn:messageEventDefinition '
            'messageRef="m1" /></bpmn:intermediateCatchEvent>'
            '<bpmn:intermediateCatchEvent id="wait_day" name="等一天"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            '<bpmn:userTask id="after" name="之后" />'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait_ping" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="wait_ping" targetRef="wait_day" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="wait_day" targetRef="after" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")
