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


def agency_task(key: str = "agency_demo", agency: str = "区教委", due: int = 2, name: str = "成员单位办理") -> str:
    """start → one task of a member agency's officer (candidateGroups agency_officer, `agency`, a working-day limit,
    the `review` form) → end. `agency` may be a name or `${variable}` read from the start data."""
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="成员单位办理" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            f'<bpmn:userTask id="agency_work" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="candidateGroups" value="agency_officer" />'
            f'<spiffworkflow:property name="agency" value="{agency}" />'
            '<spiffworkflow:property name="formKey" value="review" />'
            f'<spiffworkflow:property name="dueInWorkingDays" value="{due}" />'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="agency_work" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="agency_work" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")


def form_task(key: str = "form_demo", form_key: str | None = "visit_record", name: str = "走访登记",
              role: str = "street_clerk") -> str:
    """start → one task of `role` (candidateGroups) with `formKey` (none when None: a draft to finish in the
    modeler) → end; with diagram shapes so the modeler can show it (designed forms, tests/test_*designed*)."""
    form = f'<spiffworkflow:property name="formKey" value="{form_key}" />' if form_key else ""
    return (HEADER.format(key=key).replace(
        'targetNamespace=', 'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
        'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
        'targetNamespace=')
        + f'<bpmn:process id="{key}" name="{name}流程" isExecutable="true">'
        '<bpmn:startEvent id="start" />'
        f'<bpmn:userTask id="visit" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="candidateGroups" value="{role}" />{form}'
        '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
        '<bpmn:endEvent id="end" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="visit" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="end" />'
        '</bpmn:process>'
        f'<bpmndi:BPMNDiagram id="diagram_{key}"><bpmndi:BPMNPlane id="plane_{key}" bpmnElement="{key}">'
        '<bpmndi:BPMNShape id="start_di" bpmnElement="start"><dc:Bounds x="180" y="160" width="36" height="36" />'
        '</bpmndi:BPMNShape>'
        '<bpmndi:BPMNShape id="visit_di" bpmnElement="visit"><dc:Bounds x="270" y="138" width="100" height="80" />'
        '</bpmndi:BPMNShape>'
        '<bpmndi:BPMNShape id="end_di" bpmnElement="end"><dc:Bounds x="432" y="160" width="36" height="36" />'
        '</bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="216" y="178" /><di:waypoint x="270" y="178" />'
        '</bpmndi:BPMNEdge>'
        '<bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="370" y="178" /><di:waypoint x="432" y="178" />'
        '</bpmndi:BPMNEdge>'
        '</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></bpmn:definitions>')


def countersign_task(key: str = "sign_demo", mode: str = "all", signers: str = "jd_heping_lead,qu_inspector,qu_approver",
                     role: str = "street_clerk") -> str:
    """start → 会签 (`signMode`, `signers` — names or `${var}`; the `review` form for `role`) → a gateway on
    `sign_result` → 通过 / 不通过 (tasks of `role`) → end."""
    props = (f'<spiffworkflow:property name="candidateGroups" value="{role}" />'
             '<spiffworkflow:property name="formKey" value="review" />')
    return (HEADER.format(key=key) + f'<bpmn:process id="{key}" name="会签" isExecutable="true">'
            '<bpmn:startEvent id="start" />'
            '<bpmn:userTask id="countersign" name="联合审核"><bpmn:extensionElements><spiffworkflow:properties>'
            f'{props}<spiffworkflow:property name="signMode" value="{mode}" />'
            f'<spiffworkflow:property name="signers" value="{signers}" />'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:exclusiveGateway id="decided" default="f_no" />'
            f'<bpmn:userTask id="passed" name="通过"><bpmn:extensionElements><spiffworkflow:properties>{props}'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
            f'<bpmn:userTask id="failed" name="不通过"><bpmn:extensionElements><spiffworkflow:properties>{props}'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="countersign" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="countersign" targetRef="decided" />'
            '<bpmn:sequenceFlow id="f_yes" sourceRef="decided" targetRef="passed"><bpmn:conditionExpression>'
            "sign_result == 'agreed'</bpmn:conditionExpression></bpmn:sequenceFlow>"
            '<bpmn:sequenceFlow id="f_no" sourceRef="decided" targetRef="failed" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="passed" targetRef="end" />'
            '<bpmn:sequenceFlow id="f4" sourceRef="failed" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")
