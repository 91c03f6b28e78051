"""Deploying diagrams through the API: versions, hostile input, validation answers."""
from pathlib import Path

import pytest

from tests.bpmn_samples import three_steps

MIWG = Path(__file__).resolve().parents[2] / "shared" / "bpmn-miwg"


def _deploy(user, xml: str | bytes):
    return user.post("process-definitions", data=xml, headers={"Content-Type": "application/xml"})


def test_definitions__versions_only_on_change(login):
    designer = login("designer")
    first = _deploy(designer, three_steps())
    assert first.status_code == 201 and first.get_json()["version"] == 1
    again = _deploy(designer, three_steps())
    assert again.status_code == 200 and again.get_json() == {"key": "three_steps", "version": 1, "created": False}
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


@pytest.mark.skipif(not MIWG.is_dir(), reason="shared/bpmn-miwg not present")
@pytest.mark.parametrize("name", sorted(p.name for p in MIWG.glob("*.bpmn")) if MIWG.is_dir() else [])
def test_definitions__miwg_reference_models_deploy_or_clear_422(login, name):
    response = _deploy(login("designer"), (MIWG / name).read_bytes())
    assert response.status_code in (200, 201, 422), response.get_data(as_text=True)[:500]
    if response.status_code == 422:
        problems = response.get_json()["error"]["problems"]
        assert problems and all(p["message"] for p in problems)
