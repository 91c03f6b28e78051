"""Message correlation (BPMN `correlationProperty`/`correlationKey`, SpiffWorkflow's
`spiffworkflow:processVariableCorrelation`) is not part of our dialect: a message is delivered to one process
instance, chosen by the case it belongs to (the API's `/process-instances/{id}/messages`, the inbound webhook's
`case_id`), never by matching properties. SpiffWorkflow would evaluate the retrieval expressions outside our
script sandbox and silently drop messages whose properties differ, so a diagram using them is refused at deploy,
with each element named."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from lxml import etree

from ..errors import Problem
from .document import NSMAP, BpmnDocument, owner_id

UNSUPPORTED = ("不支持消息关联（{what}）：本系统按案件把消息投递给对应的流程实例，无需也不会按属性匹配消息；"
               "请删除关联属性、关联键及其引用")


def check_correlations(doc: BpmnDocument, processes: Sequence[etree._Element]) -> Iterator[Problem]:
    root = doc.root
    correlated_messages: set[str] = set()
    for prop in root.iterfind(".//bpmn:correlationProperty", NSMAP):
        yield Problem(prop.get("id"), UNSUPPORTED.format(what="correlationProperty"))
        for retrieval in prop.iterfind("bpmn:correlationPropertyRetrievalExpression", NSMAP):
            if retrieval.get("messageRef"):
                correlated_messages.add(retrieval.get("messageRef") or "")
    for key in root.iterfind(".//bpmn:correlationKey", NSMAP):
        yield Problem(key.get("id") or owner_id(key), UNSUPPORTED.format(what=f"correlationKey {key.get('name') or ''}".strip()))
    for subscription in root.iterfind(".//bpmn:correlationSubscription", NSMAP):
        yield Problem(subscription.get("id") or owner_id(subscription),
                      UNSUPPORTED.format(what="correlationSubscription"))
    for process in processes:
        for variable in process.iterfind(".//spiffworkflow:processVariableCorrelation", NSMAP):
            yield Problem(owner_id(variable), UNSUPPORTED.format(what="processVariableCorrelation"))
        if not correlated_messages:
            continue
        for definition in process.iterfind(".//bpmn:messageEventDefinition", NSMAP):
            if definition.get("messageRef") in correlated_messages:
                yield Problem(owner_id(definition),
                              UNSUPPORTED.format(what=f"消息 {definition.get('messageRef')} 带有关联属性"))
