"""Every program of GET /programs opens a case through POST /cases and starts its own deployed process, whose first
task lands in the inbox of the agency that must act on it."""
from __future__ import annotations

from tests.scenario import application, linshi_application, tekun_application
from tests.test_scenario__zhuanxiang import CASES


def _payload(program: str) -> tuple[str, dict]:
    """(who opens it, the application)."""
    if program == "dibao":
        return "sq_heping", application()
    if program == "tekun":
        return "jd_heping", tekun_application()
    if program == "linshi":
        return "jd_heping", linshi_application()
    _agency, opener, details, *_ = CASES[program]
    return opener, dict(application(), program=program, details=details)


def test_programs__every_program_opens_a_case_with_its_own_process(login):
    programs = login("admin").get("programs").get_json()
    assert len(programs) == 14
    for program in programs:
        assert program["process_key"], program
        opener, payload = _payload(program["key"])
        response = login(opener).post("cases", json=payload)
        assert response.status_code == 201, (program["key"], response.get_json())
        body = response.get_json()
        instance = login("admin").get(f"process-instances/{body['process_instance_id']}").get_json()
        assert instance["process_key"] == program["process_key"], program["key"]
        tasks = login("admin").get("tasks", query_string={"case_id": body["id"]}).get_json()["items"]
        assert tasks, f"{program['key']}: no first task on anyone's desk"


def test_programs__a_program_without_details_schema_refuses_details_and_a_bad_detail_names_its_field(login):
    response = login("sq_heping").post("cases", json=dict(application(), details={"x": 1}))
    assert response.status_code == 422
    assert "details" in response.get_json()["error"]["fields"]
    bad = linshi_application()
    bad["details"]["kind"] = "lottery"
    response = login("jd_heping").post("cases", json=bad)
    assert response.status_code == 422
    assert "details.kind" in response.get_json()["error"]["fields"]


def test_programs__only_the_lead_agency_opens_its_programs(login):
    _opener, payload = _payload("zhuxue")
    assert login("canlian").post("cases", json=payload).status_code == 403
    assert login("jiaowei").post("cases", json=payload).status_code == 201
