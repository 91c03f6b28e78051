"""Member agencies as task scope through the API: task items carry `agency`; an agency's officer sees, claims and
completes its own tasks and sees the cases it is involved in; another agency sees neither (404 on the task, absent
from every inbox view and from GET /cases); street staff keep their street's cases but agency tasks are not on their
desk; the deploy check refuses an unknown agency; the supervisor's report counts and drills down per agency."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tests.agency_cases import XML, agency_case, deploy_agency_process
from tests.bpmn_samples import agency_task
from tests.scenario import advance

VIEWS = [(view, status) for view in ("mine", "group", "todo", "all") for status in ("open", "done")]


@pytest.fixture
def two_agencies(app, login):
    """A 助困 case with a 区教委 task and a 救灾 case with a 区残联 task, both in 和平街道 (区民政局 leads both
    programs: each agency is involved only through its task)."""
    deploy_agency_process(login, "agency_jiaowei", "区教委", name="教委核查")
    deploy_agency_process(login, "agency_canlian", "区残联", name="残联核查")
    jiaowei = agency_case(app, "agency_jiaowei", program="zhukun", name="张三")
    canlian = agency_case(app, "agency_canlian", program="jiuzai", name="李四")
    return jiaowei, canlian


def task_ids(client, view: str, status: str = "open") -> set[int]:
    response = client.get(f"tasks?view={view}&status={status}")
    assert response.status_code == 200, response.get_json()
    return {t["id"] for t in response.get_json()["items"]}


def case_ids(client) -> set[int]:
    response = client.get("cases")
    assert response.status_code == 200, response.get_json()
    return {c["id"] for c in response.get_json()["items"]}


def test_agencies__officer_sees_and_completes_only_its_agencys_task(login, two_agencies):
    jiaowei_case, canlian_case = two_agencies
    officer = login("jiaowei")
    items = officer.get("tasks?view=todo").get_json()["items"]
    assert [(t["id"], t["agency"], t["role"], t["name"]) for t in items] == [
        (jiaowei_case.task_id, "区教委", "agency_officer", "教委核查")]
    assert canlian_case.task_id not in task_ids(officer, "all")
    detail = officer.get(f"tasks/{jiaowei_case.task_id}")
    assert detail.status_code == 200 and detail.get_json()["agency"] == "区教委"
    # The case: not one 区教委 leads (助困), but its task makes it involved; the 区残联 case stays hidden.
    assert jiaowei_case.id in case_ids(officer) and canlian_case.id not in case_ids(officer)
    assert officer.get(f"cases/{jiaowei_case.id}").status_code == 200
    assert officer.get(f"cases/{canlian_case.id}").status_code == 404

    # Another agency: not in any view, 404 on the task and every action on it, the case invisible.
    other = login("canlian")
    for view, status in VIEWS:
        assert jiaowei_case.task_id not in task_ids(other, view, status), (view, status)
    assert task_ids(other, "todo") == {canlian_case.task_id}
    assert other.get(f"tasks/{jiaowei_case.task_id}").status_code == 404
    assert other.post(f"tasks/{jiaowei_case.task_id}/claim").status_code == 404
    refused = other.post(f"tasks/{jiaowei_case.task_id}/complete", json={"data": {"decision": "approve"}})
    assert refused.status_code == 404
    assert jiaowei_case.id not in case_ids(other) and other.get(f"cases/{jiaowei_case.id}").status_code == 404
    assert canlian_case.id in case_ids(other)

    # The officer claims and completes with the review form; a rejection without an opinion is a 422 first.
    assert officer.post(f"tasks/{jiaowei_case.task_id}/claim").status_code == 200
    bad = officer.post(f"tasks/{jiaowei_case.task_id}/complete", json={"data": {"decision": "reject"}})
    assert bad.status_code == 422 and "opinion" in bad.get_json()["error"]["fields"]
    done = officer.post(f"tasks/{jiaowei_case.task_id}/complete",
                        json={"data": {"decision": "approve", "opinion": "核查属实"}})
    assert done.status_code == 200, done.get_json()
    assert task_ids(officer, "todo") == set()
    assert jiaowei_case.task_id in task_ids(officer, "mine", "done")
    assert jiaowei_case.task_id in task_ids(officer, "all", "done")
    for view, status in VIEWS:
        assert jiaowei_case.task_id not in task_ids(other, view, status), (view, status)
    # Once its task is closed the case stays visible to the agency that worked it (its history is theirs too).
    assert jiaowei_case.id in case_ids(officer)


def test_agencies__lead_sees_its_agency_but_the_officers_desk_is_not_its(login, two_agencies):
    jiaowei_case, canlian_case = two_agencies
    lead = login("jiaowei_lead")
    assert task_ids(lead, "all") == {jiaowei_case.task_id}
    assert task_ids(lead, "todo") == set() and task_ids(lead, "group") == set()
    assert lead.post(f"tasks/{jiaowei_case.task_id}/claim").status_code in (403, 404, 409)
    assert task_ids(login("canlian_lead"), "all") == {canlian_case.task_id}


def test_agencies__street_staff_see_their_streets_cases_not_agency_work_on_their_desk(app, login, two_agencies):
    """Decision: street staff see every task of their street's cases (view=all: the case is theirs), but an agency
    task belongs to the agency's role, so it is never on their 待办 and they cannot claim it."""
    jiaowei_case, canlian_case = two_agencies
    clerk = login("jd_heping")
    assert {jiaowei_case.task_id, canlian_case.task_id} <= task_ids(clerk, "all")
    assert not {jiaowei_case.task_id, canlian_case.task_id} & (task_ids(clerk, "todo") | task_ids(clerk, "group"))
    assert clerk.post(f"tasks/{jiaowei_case.task_id}/claim").status_code in (403, 404, 409)
    assert {jiaowei_case.id, canlian_case.id} <= case_ids(clerk)
    # Another street sees neither.
    anding = login("jd_anding")
    assert not {jiaowei_case.task_id, canlian_case.task_id} & task_ids(anding, "all")
    assert not {jiaowei_case.id, canlian_case.id} & case_ids(anding)


def test_agencies__agency_read_from_the_case_data(app, login):
    """`${lead_agency}`: a step several programs share lands with each program's lead agency."""
    deploy_agency_process(login, "agency_shared", "${lead_agency}", name="牵头单位审核")
    xuesheng = agency_case(app, "agency_shared", program="zhuxue")
    canji = agency_case(app, "agency_shared", program="zhucan")
    assert login("jiaowei").get(f"tasks/{xuesheng.task_id}").get_json()["agency"] == "区教委"
    assert login("canlian").get(f"tasks/{canji.task_id}").get_json()["agency"] == "区残联"
    assert login("jiaowei").get(f"tasks/{canji.task_id}").status_code == 404


@pytest.mark.parametrize("agency, accepted", [
    ("区教委", True), ("区红十字会", True), ("${lead_agency}", True), ("${ lead_agency }", True),
    ("区教育局", False), ("${lead agency}", False), ("${}", False), ("lead_agency", False),
])
def test_agencies__deploy_checks_the_agency_name(login, agency, accepted):
    designer = login("designer")
    xml = agency_task("agency_check", agency)
    response = designer.post("process-definitions", data=xml, headers=XML)
    validation = designer.post("process-definitions/validate", data=xml, headers=XML).get_json()
    if accepted:
        assert response.status_code in (200, 201), response.get_json()
        assert validation["valid"], validation
        return
    assert response.status_code == 422
    problems = response.get_json()["error"]["problems"]
    assert any(p["element_id"] == "agency_work" and "agency" in p["message"] and "不存在" in p["message"]
               for p in problems), problems
    assert not validation["valid"]
    assert any(p["element_id"] == "agency_work" for p in validation["problems"]), validation


def test_agencies__overdue_report_by_agency(login, two_agencies):
    jiaowei_case, canlian_case = two_agencies
    advance(login, "P7D")  # 2 working days from Monday 2 March: due 24:00 Wednesday; a week later both are late
    supervisor = login("supervisor")
    report = supervisor.get("reports/overdue?group_by=agency").get_json()
    by_agency = {g["key"]: g for g in report["items"]}
    assert by_agency["区教委"]["overdue"] == 1 and by_agency["区教委"]["roles"] == ["agency_officer"]
    assert by_agency["区残联"]["overdue"] == 1 and by_agency["区残联"]["open"] == 1
    assert "agency_officer" not in by_agency  # never the bare role for an agency's task
    listed = supervisor.get("reports/overdue/tasks?group_by=agency&key=区教委").get_json()
    assert listed["total"] == 1
    assert [(t["id"], t["agency"]) for t in listed["items"]] == [(jiaowei_case.task_id, "区教委")]
    assert supervisor.get("reports/overdue/tasks?group_by=agency&key=区民政局").get_json()["total"] == 0
    exported = supervisor.get("reports/overdue/tasks?group_by=agency&key=区残联&format=xlsx")
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[1].index("单位")
    assert [r[column] for r in rows[2:]] == ["区残联"]


def test_agencies__a_program_the_agency_leads_is_visible_without_a_task(app, login, two_agencies):
    """区教委 leads 助学: its staff see every 助学 case of the district (they take its applications), even one whose
    current task is another agency's — but still not that task."""
    deploy_agency_process(login, "agency_canlian_xue", "区残联", name="残联核查")
    xuesheng = agency_case(app, "agency_canlian_xue", program="zhuxue", name="赵六")
    officer = login("jiaowei")
    assert xuesheng.id in case_ids(officer) and officer.get(f"cases/{xuesheng.id}").status_code == 200
    assert xuesheng.task_id not in task_ids(officer, "all")
    assert officer.get(f"tasks/{xuesheng.task_id}").status_code == 404
    assert xuesheng.id not in case_ids(login("renshe"))
