"""Small diagrams for API and engine tests, in the SpiffWorkflow dialect."""

from bench.samples import HEADER, three_steps  # shared with the benchmarks, which must not import tests

__all__ = ["HEADER", "three_steps", "with_message_and_timer"]


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
