"""Deploying diagrams through the API: versions, hostile input, validation answers."""
from pathlib import Path

import pytest

from tests.bpmn_samples import HEADER, three_steps

MIWG = Path(__file__).resolve().parents[2] / "shared" / "bpmn-miwg"


def _deploy(user, xml: str | bytes):
    return user.post("process-definitions", data=xml, headers={"Content-Type": "application/xml"})


def test_definitions__versions_only_on_change(login):
    designer = login("designer")
    first = _deploy(designer, three_steps())
    assert first.status_code == 201 and first.get_json()["version"] == 1
    again = _deploy(designer, three_steps())
    assert again.status_code == 200
    assert {k: again.get_json()[k] for k in ("key", "version", "created")} == {
        "key": "three_steps", "version": 1, "created": False}
    changed = _deploy(designer, three_steps(names=("甲", "乙", "丙")))
    assert changed.status_code == 201 and changed.get_json()["version"] == 2
    listed = [(d["key"], d["version"]) for d in designer.get("process-definitions").get_json()]
    assert ("three_steps", 1) in listed and ("three_steps", 2) in listed
    xml = designer.get("process-definitions/three_steps/xml?version=1")
    assert xml.status_code == 200 and "三步审批" in xml.get_data(as_text=True) and 'name="A"' in xml.get_data(
        as_text=True)


def test_definitions__multipart_upload(login):
    response = login("designer").post(
        "process-definitions",
        data={"file": (__import__("io").BytesIO(three_steps("uploaded").encode()), "uploaded.bpmn")},
        content_type="multipart/form-data")
    assert response.status_code == 201


def test_definitions__only_designers_deploy(login):
    assert _deploy(login("jd_heping"), three_steps()).status_code == 403


@pytest.mark.parametrize("body, needle", [
    ("not xml at all", ""),
    ("<bpmn:definitions", ""),
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     '<lolz>&lol2;</lolz>', "DOCTYPE"),
    ('<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>', "DOCTYPE"),
])
def test_definitions__hostile_or_malformed_xml_is_422(login, body, needle):
    response = _deploy(login("designer"), body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["problems"] and needle in error["message"]


def test_definitions__script_with_import_refused(login):
    response = _deploy(login("designer"), three_steps("evil", extra_script="import os"))
    assert response.status_code == 422
    assert any(p["element_id"] == "script" for p in response.get_json()["error"]["problems"])


def test_definitions__unknown_role_and_form_named(login):
    xml = open(Path(__file__).resolve().parents[1] / "bpmn" / "dibao.bpmn", encoding="utf-8").read()
    xml = xml.replace('value="dibao_survey"', 'value="no_such_form"', 1)
    xml = xml.replace('name="street_reviewer"', 'name="street_boss"', 1)
    response = _deploy(login("designer"), xml)
    assert response.status_code == 422
    problems = response.get_json()["error"]["problems"]
    assert any("no_such_form" in p["message"] for p in problems)
    assert any("street_boss" in p["message"] for p in problems)


def test_definitions__oversized_upload_refused(login):
    big = three_steps().replace("三步审批", "三" * (6 * 1024 * 1024 // 3))
    response = _deploy(login("designer"), big)
    assert response.status_code in (413, 422)


# What each MIWG reference model gets, deployed as it is: A.1.0's only process says isExecutable="false" (as most
# modelers write by default) and deploys with a warning; the others are refused naming what is unsupported, or,
# with several pools, asking which one to deploy (?process=).
MIWG_OUTCOMES = {
    "A.1.0.bpmn": (201, None),
    "A.2.0.bpmn": (422, "既没有条件也不是默认连线"),
    "A.2.1.bpmn": (422, "不支持多条出口连线"),
    "A.3.0.bpmn": (422, "子流程须有且仅有一个开始事件"),
    "A.4.0.bpmn": (422, "请指定要部署哪一个"),
    "A.4.1.bpmn": (422, "请指定要部署哪一个"),
    "B.1.0.bpmn": (422, "请指定要部署哪一个"),
    "B.2.0.bpmn": (422, "请指定要部署哪一个"),
}


@pytest.mark.skipif(not MIWG.is_dir(), reason="shared/bpmn-miwg not present")
@pytest.mark.parametrize("name", sorted(p.name for p in MIWG.glob("*.bpmn")) if MIWG.is_dir() else [])
def test_definitions__miwg_reference_models_deploy_or_clear_422(login, name):
    import time

    from lxml import etree

    designer = login("designer")
    data = (MIWG / name).read_bytes()
    started = time.perf_counter()
    response = _deploy(designer, data)
    assert time.perf_counter() - started < 10, name
    assert response.status_code in (200, 201, 422), response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        problems = response.get_json()["error"]["problems"]
        assert problems and all(p["message"] for p in problems)
    else:
        assert any("isExecutable" in w["message"] for w in response.get_json()["warnings"])
    expected = MIWG_OUTCOMES.get(name)
    if expected is not None:
        status, fragment = expected
        assert response.status_code == status, response.get_json()
        if fragment:
            assert any(fragment in p["message"] for p in response.get_json()["error"]["problems"])
    # Each pool on its own (?process=): deployed, or refused naming an element of this file.
    ids = {e.get("id") for e in etree.fromstring(data).iter() if isinstance(e.tag, str) and e.get("id")}
    pools = [p.get("id") for p in etree.fromstring(data).iterfind("{http://www.omg.org/spec/BPMN/20100524/MODEL}process")]
    for pool in pools:
        answer = designer.post(f"process-definitions?process={pool}", data=data,
                               headers={"Content-Type": "application/xml"})
        assert answer.status_code in (200, 201, 422), (name, pool, answer.get_data(as_text=True)[:300])
        if answer.status_code == 422:
            problems = answer.get_json()["error"]["problems"]
            assert problems and all(p["message"] for p in problems)
            assert any(p["element_id"] in ids for p in problems), (name, pool, problems)


# -- validation, drafts, versions, differences, migration (process designers) -----------------------------------

DIBAO = Path(__file__).resolve().parents[1] / "bpmn" / "dibao.bpmn"


def test_definitions__fifty_megabyte_upload_is_a_clear_413(login):
    response = _deploy(login("designer"), b"<" + b"x" * (50 * 1024 * 1024))
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large" and "MB" in error["message"]


def test_definitions__validate_without_deploying(login):
    designer = login("designer")
    good = designer.post("process-definitions/validate", json={"xml": DIBAO.read_text(encoding="utf-8")})
    assert good.status_code == 200 and good.get_json()["valid"] is True
    assert good.get_json()["process_key"] == "dibao"
    bad_xml = DIBAO.read_text(encoding="utf-8").replace(
        '<spiffworkflow:property name="formKey" value="dibao_spot_check" />', "", 1)
    bad = designer.post("process-definitions/validate", json={"xml": bad_xml}).get_json()
    assert bad["valid"] is False
    assert any(p["element_id"] == "spot_check" and "formKey" in p["message"] for p in bad["problems"])
    # The same problem stops a deploy, with the same words.
    refused = _deploy(designer, bad_xml)
    assert refused.status_code == 422
    assert any(p["element_id"] == "spot_check" and "formKey" in p["message"]
               for p in refused.get_json()["error"]["problems"])
    assert designer.get("process-definitions/dibao/versions").get_json()[0]["version"] == 1
    hostile = designer.post("process-definitions/validate", data=b'<!DOCTYPE x [<!ENTITY a "b">]><x/>',
                            headers={"Content-Type": "application/xml"})
    assert hostile.status_code == 200 and not hostile.get_json()["valid"]


UNREACHABLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://x">
<bpmn:process id="lonely" isExecutable="true">
  <bpmn:startEvent id="start"/><bpmn:userTask id="a" name="甲"/><bpmn:endEvent id="end"/>
  <bpmn:userTask id="island" name="孤岛"/><bpmn:userTask id="island2" name="孤岛二"/>
  <bpmn:complexGateway id="complex"/>
  <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="a"/>
  <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="end"/>
  <bpmn:sequenceFlow id="f3" sourceRef="island" targetRef="island2"/>
  <bpmn:sequenceFlow id="f4" sourceRef="island2" targetRef="island"/>
</bpmn:process></bpmn:definitions>"""


def test_definitions__unreachable_elements_and_bpmnlint_rules_refuse(login):
    response = _deploy(login("designer"), UNREACHABLE)
    assert response.status_code == 422
    problems = response.get_json()["error"]["problems"]
    by_element = {}
    for p in problems:
        by_element.setdefault(p["element_id"], []).append(p["message"])
    assert any("无法到达" in m for m in by_element["island"])  # a loop nobody enters: only we see it
    assert any("无法到达" in m for m in by_element["island2"])
    assert any("bpmnlint: no-complex-gateway" in m or "bpmnlint" in m for m in by_element["complex"])
    assert "a" not in by_element and "start" not in by_element


def test_definitions__drafts_save_reopen_and_conflict(login):
    designer = login("designer")
    xml = DIBAO.read_text(encoding="utf-8").replace('name="入户抽查"', 'name="入户抽查（草稿）"')
    saved = designer.post("process-definitions/drafts", json={"xml": xml, "based_on_version": 1})
    assert saved.status_code == 200, saved.get_json()
    body = saved.get_json()
    assert body["key"] == "dibao" and body["revision"] == 1 and body["valid"] is True
    again = designer.post("process-definitions/drafts", json={"xml": xml + " ", "revision": 1})
    assert again.status_code == 200 and again.get_json()["revision"] == 2
    stale = designer.post("process-definitions/drafts", json={"xml": xml, "revision": 1})
    assert stale.status_code == 409
    listed = designer.get("process-definitions/drafts").get_json()
    assert [(d["key"], d["revision"]) for d in listed] == [("dibao", 2)]
    opened = designer.get("process-definitions/drafts/dibao").get_json()
    assert "入户抽查（草稿）" in opened["xml"] and opened["based_on_version"] == 1
    # A broken draft is kept (with its problems); unsafe XML is not.
    broken = designer.post("process-definitions/drafts", json={"xml": xml.replace('value="dibao_survey"',
                                                                                   'value="nope"', 1)})
    assert broken.status_code == 200 and broken.get_json()["problems"]
    assert designer.post("process-definitions/drafts", json={"xml": "<x"}).status_code == 422
    assert designer.post("process-definitions/drafts", json={}).status_code == 422
    assert login("jd_heping").get("process-definitions/drafts").status_code == 403
    # Deploying that revision from the modeler retires the draft.
    fixed = designer.post("process-definitions/drafts", json={"xml": xml}).get_json()
    deployed = designer.post(f"process-definitions?draft_revision={fixed['revision']}", json={"xml": xml})
    assert deployed.status_code == 201 and deployed.get_json()["version"] == 2
    assert designer.get("process-definitions/drafts/dibao").status_code == 404
    assert designer._call("delete", "process-definitions/drafts/dibao").status_code == 404


def test_definitions__versions_and_diff(login):
    designer = login("designer")
    xml = DIBAO.read_text(encoding="utf-8")
    changed = xml.replace('<spiffworkflow:property name="dueInWorkingDays" value="5" />\n          '
                          '<spiffworkflow:property name="remindBeforeWorkingDays" value="1" />\n          '
                          '<spiffworkflow:property name="escalateTo" value="supervisor" />',
                          '<spiffworkflow:property name="dueInWorkingDays" value="7" />\n          '
                          '<spiffworkflow:property name="remindBeforeWorkingDays" value="1" />\n          '
                          '<spiffworkflow:property name="escalateTo" value="supervisor" />')
    changed = changed.replace('"P7D"', '"P10D"')
    assert changed != xml
    assert _deploy(designer, changed).status_code == 201
    versions = designer.get("process-definitions/dibao/versions").get_json()
    assert [(v["version"], v["deployed_by"]) for v in versions] == [(2, "designer"), (1, "cli")]
    assert all("running_instances" in v for v in versions)
    diff = designer.get("process-definitions/dibao/diff?from=1&to=2").get_json()
    assert not diff["added"] and not diff["removed"]
    changes = {(c["element_id"], p["property"]): (p["old"], p["new"]) for c in diff["changed"] for p in c["changes"]}
    assert changes[("approval", "dueInWorkingDays")] == ("5", "7")
    assert changes[("notice_period", "timeDuration")] == ('"P7D"', '"P10D"')
    assert designer.get("process-definitions/dibao/diff").get_json()["from"] == 1  # previous → latest
    assert designer.get("process-definitions/dibao/diff?from=9").status_code == 404
    assert designer.get("process-definitions/dibao/diff?from=x").status_code == 422
    assert designer.get("process-definitions/nope/versions").status_code == 404


def test_definitions__migration_preview_and_execute(login):
    from tests.scenario import Dibao

    cases = [Dibao(login) for _ in range(2)]
    for case in cases:
        case.through_street()
    designer = login("designer")
    xml = DIBAO.read_text(encoding="utf-8").replace('name="公示期满"', 'name="公示期满（7 天）"')
    assert _deploy(designer, xml).status_code == 201
    ids = [c.instance_id for c in cases]
    planned = designer.post("process-definitions/dibao/migrations/preview",
                            json={"to_version": 2, "from_version": 1, "element_id": "notice"})
    assert planned.status_code == 200, planned.get_json()
    body = planned.get_json()
    assert sorted(i["instance_id"] for i in body["items"]) == sorted(ids) and body["ok"] == 2
    timer = next(t for t in body["items"][0]["tasks"] if t["element_id"] == "notice")
    assert timer["action"] == "kept" and timer["due_after"] == timer["due_before"]
    assert login("admin").get(f"process-instances/{ids[0]}").get_json()["version"] == 1  # a preview changes nothing
    done = designer.post("process-definitions/dibao/migrations", json={"to_version": 2, "instance_ids": ids[:1]})
    assert done.status_code == 200 and done.get_json()["ok"] == 1
    assert login("admin").get(f"process-instances/{ids[0]}").get_json()["version"] == 2
    assert login("admin").get(f"process-instances/{ids[1]}").get_json()["version"] == 1
    again = designer.post("process-definitions/dibao/migrations", json={"to_version": 2, "instance_ids": ids[:1]})
    assert again.get_json()["ok"] == 0 and "已在版本 2" in again.get_json()["items"][0]["reason"]
    assert login("jd_heping").post("process-definitions/dibao/migrations", json={"to_version": 2}).status_code == 403
    assert designer.post("process-definitions/dibao/migrations",
                         json={"to_version": "two"}).status_code == 422
    assert designer.post("process-definitions/dibao/migrations", json={"to_version": 7}).status_code == 404


def test_definitions__browser_session_writes_need_the_csrf_token(app, db):
    import re as regex

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = regex.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "designer", "password": "demo", "csrf_token": token})
    xml = DIBAO.read_text(encoding="utf-8")
    response = client.post("/api/v1/process-definitions/validate", json={"xml": xml})
    assert response.status_code == 403
    assert "CSRF" in response.get_json()["error"]["message"]
    editor = client.get("/modeler/edit?key=dibao").get_data(as_text=True)  # the modeler page hands out the token
    token = regex.search(r'"csrf": "([^"]+)"', editor).group(1)
    allowed = client.post("/api/v1/process-definitions/validate", json={"xml": xml}, headers={"X-CSRFToken": token})
    assert allowed.status_code == 200 and allowed.get_json()["valid"]


# Diagrams in the styles other modelers export (written for this test): each deploys or gets a clear 422 naming an
# element of the file — never a 500, never the last-resort "cannot process" answer.
_NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
       'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
       'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
FOREIGN = {
    "camunda7": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {_NS} xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.15.2">
  <bpmn:process id="leave" name="请假" isExecutable="true" camunda:historyTimeToLive="P180D">
    <bpmn:startEvent id="s" camunda:initiator="starter"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="approve" name="审批" camunda:assignee="${{starter}}" camunda:formKey="embedded:app:forms/a.html">
      <bpmn:extensionElements><camunda:properties><camunda:property name="x" value="1"/></camunda:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="late" attachedToRef="approve"><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT5M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="gw" default="f3"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="gw"/>
    <bpmn:sequenceFlow id="f3" sourceRef="gw" targetRef="e"/>
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="e"/>
    <bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="e"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${{approved}}</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>""",
    "flowable_default_namespace": """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flowable="http://flowable.org/bpmn" targetNamespace="http://www.flowable.org/processdef">
  <process id="holiday" name="Holiday request" isExecutable="true">
    <startEvent id="startEvent"/>
    <sequenceFlow sourceRef="startEvent" targetRef="approveTask"/>
    <userTask id="approveTask" name="Approve or reject request" flowable:candidateGroups="managers"/>
    <sequenceFlow sourceRef="approveTask" targetRef="decision"/>
    <exclusiveGateway id="decision"/>
    <sequenceFlow sourceRef="decision" targetRef="holidayApprovedTask"><conditionExpression><![CDATA[${approved}]]></conditionExpression></sequenceFlow>
    <sequenceFlow sourceRef="decision" targetRef="rejectEnd"><conditionExpression><![CDATA[${!approved}]]></conditionExpression></sequenceFlow>
    <userTask id="holidayApprovedTask" name="Holiday approved"/>
    <sequenceFlow sourceRef="holidayApprovedTask" targetRef="approveEnd"/>
    <endEvent id="approveEnd"/><endEvent id="rejectEnd"/>
  </process>
</definitions>""",
    "zeebe_service_task": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {_NS} xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d3" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.26.0">
  <bpmn:process id="charge" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:serviceTask id="pay" name="Charge"><bpmn:extensionElements><zeebe:taskDefinition type="charge"/></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="pay"/><bpmn:sequenceFlow id="f2" sourceRef="pay" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""",
    "bpmnio_blank": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {_NS} id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="false"><bpmn:startEvent id="StartEvent_1"/></bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">
    <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1"><dc:Bounds x="173" y="102" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>""",
    "collaboration_with_artifacts": """<?xml version="1.0" encoding="UTF-8"?>
<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.omg.org/spec/BPMN/20100524/MODEL BPMN20.xsd" id="d5" targetNamespace="http://example.org">
  <bpmn2:collaboration id="c"><bpmn2:participant id="p1" name="Citizen" processRef="citizen"/><bpmn2:participant id="p2" name="Office"/>
    <bpmn2:messageFlow id="m1" sourceRef="ask" targetRef="p2"/></bpmn2:collaboration>
  <bpmn2:category id="cat"><bpmn2:categoryValue id="cv" value="Phase 1"/></bpmn2:category>
  <bpmn2:process id="citizen" name="Citizen" isExecutable="false">
    <bpmn2:dataObject id="do1" name="Form"/><bpmn2:dataObjectReference id="dor1" dataObjectRef="do1"/>
    <bpmn2:textAnnotation id="ta"><bpmn2:text>Note</bpmn2:text></bpmn2:textAnnotation>
    <bpmn2:association id="as" sourceRef="ask" targetRef="ta"/><bpmn2:group id="g" categoryValueRef="cv"/>
    <bpmn2:startEvent id="s" name="Need"/>
    <bpmn2:manualTask id="ask" name="Ask"><bpmn2:dataOutputAssociation id="doa"><bpmn2:targetRef>dor1</bpmn2:targetRef></bpmn2:dataOutputAssociation></bpmn2:manualTask>
    <bpmn2:endEvent id="e" name="Done"/>
    <bpmn2:sequenceFlow id="f1" sourceRef="s" targetRef="ask"/><bpmn2:sequenceFlow id="f2" sourceRef="ask" targetRef="e"/>
  </bpmn2:process>
</bpmn2:definitions>""",
    "python_escape_attempts": f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {_NS} id="d6" targetNamespace="http://example.org">
  <bpmn:process id="evil" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:scriptTask id="imp" name="import"><bpmn:script>import os
os.system('touch /tmp/jiuzhu-pwned')</bpmn:script></bpmn:scriptTask>
    <bpmn:scriptTask id="dunder" name="dunder"><bpmn:script>x = ().__class__.__base__.__subclasses__()</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" default="f4"/>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="imp"/><bpmn:sequenceFlow id="f2" sourceRef="imp" targetRef="dunder"/>
    <bpmn:sequenceFlow id="f3" sourceRef="dunder" targetRef="gw"/>
    <bpmn:sequenceFlow id="f4" sourceRef="gw" targetRef="e"/>
    <bpmn:sequenceFlow id="f5" sourceRef="gw" targetRef="e"><bpmn:conditionExpression>__import__('os').getcwd()</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>""",
}
FOREIGN_OUTCOMES = {
    "camunda7": (422, {"late": "须加引号", "f5": "条件表达式有误"}),
    "flowable_default_namespace": (422, {"decision": "默认连线", None: "条件表达式有误"}),
    "zeebe_service_task": (422, {"pay": "服务任务"}),
    "bpmnio_blank": (422, {"Process_1": "缺少结束事件"}),
    "collaboration_with_artifacts": (201, {}),
    "python_escape_attempts": (422, {"imp": "脚本有误", "dunder": "脚本有误", "f5": "条件表达式有误"}),
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
def test_definitions__other_modelers_exports_deploy_or_clear_422(login, name):
    import os

    response = _deploy(login("designer"), FOREIGN[name].encode("utf-8"))
    status, expected = FOREIGN_OUTCOMES[name]
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    if status == 422:
        problems = response.get_json()["error"]["problems"]
        assert all(p["message"] and "无法处理该文件" not in p["message"] for p in problems)
        for element_id, fragment in expected.items():
            assert any(p["element_id"] == element_id and fragment in p["message"] for p in problems), (
                element_id, fragment, problems)
    assert not os.path.exists("/tmp/jiuzhu-pwned")


# -- message correlation is not part of the dialect: refused at deploy, each element named ------------------------

def correlated(key="correlated"):
    return (HEADER.format(key=key)
            + '<bpmn:collaboration id="collab"><bpmn:participant id="pool" processRef="' + key + '" />'
            '<bpmn:correlationKey name="case_key" id="ck1"><bpmn:correlationPropertyRef>case_ref</bpmn:correlationPropertyRef>'
            '</bpmn:correlationKey></bpmn:collaboration>'
            '<bpmn:message id="m1" name="checked" />'
            '<bpmn:correlationProperty id="case_ref" name="案件编号">'
            '<bpmn:correlationPropertyRetrievalExpression messageRef="m1"><bpmn:formalExpression>case_ref'
            '</bpmn:formalExpression></bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>'
            f'<bpmn:process id="{key}" name="关联" isExecutable="true">'
            '<bpmn:startEvent id="start" /><bpmn:userTask id="first" name="先办" />'
            '<bpmn:intermediateCatchEvent id="wait_check" name="等核对"><bpmn:extensionElements>'
            '<spiffworkflow:processVariableCorrelation><spiffworkflow:propertyId>case_ref</spiffworkflow:propertyId>'
            '<spiffworkflow:expression>case_ref</spiffworkflow:expression></spiffworkflow:processVariableCorrelation>'
            '</bpmn:extensionElements><bpmn:messageEventDefinition messageRef="m1" /></bpmn:intermediateCatchEvent>'
            '<bpmn:endEvent id="end" />'
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first" />'
            '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="wait_check" />'
            '<bpmn:sequenceFlow id="f3" sourceRef="wait_check" targetRef="end" />'
            "</bpmn:process></bpmn:definitions>")



def test_correlation__refused_at_deploy_naming_each_element(login):
    designer = login("designer")
    response = designer.post("process-definitions", data=correlated().encode(), content_type="application/xml")
    assert response.status_code == 422, response.get_json()
    problems = response.get_json()["error"]["problems"]
    named = {p["element_id"] for p in problems if "不支持消息关联" in p["message"]}
    assert {"case_ref", "ck1", "wait_check"} <= named
    validation = designer.post("process-definitions/validate", data=correlated().encode(),
                               content_type="application/xml").get_json()
    assert validation["valid"] is False
