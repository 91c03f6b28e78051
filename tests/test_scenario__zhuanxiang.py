"""The ten specialised projects and charity (专项救助, 人道慈善救助) driven through the API: every program's typical
case from application to the aid register, its refusal with the written reason, and agency isolation (an agency
sees another agency's tasks and cases only when the case involves it)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.scenario import application, id_number

STREET = "jd_heping"
LEADS = {"区民政局": "mz_zhuanxiang", "区教委": "jiaowei", "区残联": "canlian", "区人力社保局": "renshe",
         "区房管局": "fangguan", "区司法局": "sifa", "区慈善协会": "cishan"}
STATUS_CHECK = ("status_check", "mz_zhuanxiang", {"assistance_status": "dibao", "status_note": "2024 年起享受低保"})

# program → lead agency, who opens the case, its details, the responsible units' own tasks (element, user, data),
# the amount the lead agency proposes (None: a service, no money) and the aid item.
CASES = {
    "zhukun": ("区民政局", STREET, {"hardship": "失业后家中积蓄耗尽，房租拖欠", "cause": "失业", "requested_amount": 3000},
               [("zhukun_employment_check", "renshe", {"unit_confirmed": True, "unit_opinion": "已办理失业登记"})],
               3000, "临时生活困难补助"),
    "zhuyi": ("区民政局", STREET, {"patient_name": "张三", "diagnosis": "急性心肌梗死", "hospital": "区人民医院",
                                "admitted_on": "2026-02-10", "total_cost": 50000, "insurance_reimbursed": 32000,
                                "self_paid": 18000},
              [("zhuyi_diagnosis_check", "weisheng", {"diagnosis_confirmed": True, "confirmed_total_cost": 50000}),
               ("zhuyi_insurance_check", "renshe", {"insurance_type": "resident", "confirmed_reimbursed": 32000})],
              10000, "医疗费用救助"),
    "zhulao": ("区民政局", STREET, {"elder_name": "张老", "elder_id_number": id_number("19500101"), "need": "助餐",
                                 "living_alone": True},
               [], 1200, "助餐补贴"),
    "zhuxue": ("区教委", "jiaowei", {"student_name": "张小明", "student_id_number": id_number("20100901"),
                                  "school": "区第一中学", "stage": "初中", "grade": "初二", "tuition": 1200, "fees": 800},
               [STATUS_CHECK], 2000, "学杂费资助"),
    "zhucan": ("区残联", "canlian", {"disabled_name": "张三", "disability_grade": 2, "disability_category": "肢体",
                                  "aid_item": "辅具", "requested_amount": 5000},
               [("zhucan_disability_check", "weisheng", {"assessed_grade": 2, "assessed_category": "肢体"})],
               5000, "电动轮椅适配"),
    "jiuye": ("区人力社保局", STREET, {"member_name": "张三", "member_id_number": id_number("19800101"),
                                   "skills": "驾驶、仓储", "education": "初中", "wish": "公益性岗位"},
              [], None, "公益性岗位安置"),
    "zhufang": ("区房管局", STREET, {"housing_situation": "危旧房", "area_per_person": 8.5, "requested_type": "修缮"},
                [STATUS_CHECK], 15000, "危房修缮补助"),
    "jiuzai": ("区民政局", STREET, {"disaster_type": "火灾", "occurred_on": "2026-02-28",
                                 "loss_description": "厨房起火，家具家电烧毁", "estimated_loss": 20000},
               [], 6000, "灾后生活救助"),
    "falv": ("区司法局", "sifa", {"matter": "劳动争议", "opposing_party": "某建筑公司", "stage": "仲裁",
                               "description": "拖欠工资八个月，约四万元"},
             [STATUS_CHECK], None, "指派律师代理劳动仲裁"),
    "xinli": ("区民政局", STREET, {"situation": "丧偶后情绪低落，独居", "preferred_contact": "上门"},
              [("xinli_psych_assessment", "weisheng", {"risk_level": "medium", "psych_opinion": "建议定期上门陪伴"})],
              None, "每周上门心理陪伴"),
    "cishan": ("区慈善协会", "cishan", {"need": "子女重病，医疗费缺口较大", "requested_amount": 8000},
               [], 8000, "慈善救助金"),
}


# -- driving a case ---------------------------------------------------------------------------------------------

def open_case(login, program: str, opener: str | None = None) -> dict:
    agency, default_opener, details, *_ = CASES[program]
    payload = dict(application(), program=program, details=details)
    response = login(opener or default_opener).post("cases", json=payload)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_task(login, case_id: int, element_id: str, user: str) -> dict:
    items = login(user).get(f"tasks?case_id={case_id}&view=all").get_json()["items"]
    matching = [t for t in items if t["element_id"] == element_id]
    assert matching, f"no open {element_id} for {user}; open: {[t['element_id'] for t in items]}"
    return matching[0]


def complete(login, case_id: int, element_id: str, user: str, data: dict, expect: int = 200):
    task = open_task(login, case_id, element_id, user)
    client = login(user)
    if task["assignee"] is None:
        assert client.post(f"tasks/{task['id']}/claim").status_code == 200
    response = client.post(f"tasks/{task['id']}/complete", json={"data": data})
    assert response.status_code == expect, response.get_json()
    return task


def through_units(login, program: str, case_id: int) -> None:
    """The street's household verification and every responsible unit's own task, each by its own staff."""
    complete(login, case_id, "street_verify", STREET, {
        "investigators": ["张伟", "李强"], "visited_on": "2026-03-03", "street_verified": True,
        "street_findings": "家庭情况属实"})
    for element_id, user, data in CASES[program][3]:
        complete(login, case_id, element_id, user, data)


def case_of(login, case_id: int) -> dict:
    response = login("admin").get(f"cases/{case_id}")
    assert response.status_code == 200
    return response.get_json()


def aid_records(app, case_id: int):
    from web.extensions import db
    from workflows.aid.models import AidRecord, AidRecordMember

    with app.app_context():
        records = db.session.scalars(select(AidRecord).where(AidRecord.case_id == case_id)).all()
        out = []
        for record in records:
            members = db.session.scalars(select(AidRecordMember.id_number)
                                         .where(AidRecordMember.aid_id == record.id)).all()
            out.append((record.program, record.kind, record.agency, record.amount, record.monthly,
                        record.period_from.isoformat(), record.description, record.granted_by, len(members)))
        return out


# -- every program, approved and refused ------------------------------------------------------------------------

@pytest.mark.parametrize("program", list(CASES))
def test_zhuanxiang__typical_case_is_approved_and_registered(app, login, program):
    agency, opener, details, units, amount, item = CASES[program]
    officer, lead = LEADS[agency], f"{LEADS[agency]}_lead"
    case = open_case(login, program)
    first = {t["element_id"] for t in case_of(login, case["id"])["tasks"]}
    assert "street_verify" in first and first >= {u[0] for u in units if u[0] != "xinli_psych_assessment"}
    through_units(login, program, case["id"])

    # The lead agency's assessment lands in its own inbox, named for the agency.
    task = open_task(login, case["id"], "assess", officer)
    assert task["agency"] == agency and task["role"] == "agency_officer" and task["due_at"]
    assessment = {"recommendation": "support", "aid_item": item, "assessment_opinion": "符合救助条件"}
    if amount is not None:
        assessment["proposed_amount"] = amount
    complete(login, case["id"], "assess", officer, assessment)
    decided = open_task(login, case["id"], "decide", lead)
    assert decided["agency"] == agency and decided["role"] == "agency_lead"
    complete(login, case["id"], "decide", lead, {"decision": "approve", "opinion": "同意"})

    body = case_of(login, case["id"])
    assert body["status"] == "approved", body["stage"]
    assert body["amount"] == (float(amount) if amount is not None else None)
    assert body["tasks"] == []
    records = aid_records(app, case["id"])
    assert records == [(program, program, agency, None if amount is None else Decimal(amount).quantize(Decimal("0.01")),
                        False, "2026-03-02", item, lead, 2)]


@pytest.mark.parametrize("program", list(CASES))
def test_zhuanxiang__refusal_carries_the_written_reason(app, login, program):
    agency, opener, details, units, amount, item = CASES[program]
    officer, lead = LEADS[agency], f"{LEADS[agency]}_lead"
    case = open_case(login, program)
    through_units(login, program, case["id"])
    complete(login, case["id"], "assess", officer, {
        "recommendation": "not_support", "aid_item": item, "assessment_opinion": "已享受同类救助"})
    # A refusal without its reason is refused, field by field.
    task = open_task(login, case["id"], "decide", lead)
    client = login(lead)
    assert client.post(f"tasks/{task['id']}/claim").status_code == 200
    missing = client.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "reject"}})
    assert missing.status_code == 422
    assert "reason" in missing.get_json()["error"]["fields"]
    reason = f"{item}：本年度已在其他单位享受同类救助，不予重复救助"
    done = client.post(f"tasks/{task['id']}/complete", json={"data": {"decision": "reject", "reason": reason}})
    assert done.status_code == 200, done.get_json()
    # The street tells the applicant in writing, within 3 working days.
    notice = open_task(login, case["id"], "refusal_notice", STREET)
    assert notice["agency"] is None and notice["due_at"].startswith("2026-03-05")
    complete(login, case["id"], "refusal_notice", STREET, {"delivered_on": "2026-03-04", "note": "本人签收"})
    body = case_of(login, case["id"])
    assert body["status"] == "refused"
    assert aid_records(app, case["id"]) == []
    from web.extensions import db
    from workflows.models import Case

    with app.app_context():
        assert db.session.get(Case, case["id"]).refusal_reason == reason


# -- who sees what ----------------------------------------------------------------------------------------------

def test_zhuanxiang__agency_sees_only_its_own_tasks_and_cases(login):
    case = open_case(login, "zhuxue")  # opened by 区教委 itself
    other = open_case(login, "zhulao")  # a 区民政局 case 区教委 has no part in
    canlian, jiaowei, minzheng = login("canlian"), login("jiaowei"), login("mz_zhuanxiang")

    # 区民政局 has a task in the 助学 case (the assistance status): the case involves it, so it sees both.
    status = open_task(login, case["id"], "status_check", "mz_zhuanxiang")
    assert status["agency"] == "区民政局"
    assert minzheng.get(f"cases/{case['id']}").status_code == 200
    # 区教委 leads 助学 and sees its case, but nothing of the 助老 case.
    listed = {c["id"] for c in jiaowei.get("cases").get_json()["items"]}
    assert case["id"] in listed and other["id"] not in listed
    assert jiaowei.get(f"cases/{other['id']}").status_code == 404
    # 区残联 has no part in either.
    assert canlian.get(f"cases/{case['id']}").status_code == 404
    assert {c["id"] for c in canlian.get("cases").get_json()["items"]}.isdisjoint({case["id"], other["id"]})
    assert canlian.get(f"tasks/{status['id']}").status_code in (403, 404)

    through_units(login, "zhuxue", case["id"])
    assess = open_task(login, case["id"], "assess", "jiaowei")
    assert assess["agency"] == "区教委"
    # 区残联's officer holds the same role, yet the 区教委 task is not in its inbox and cannot be worked by it.
    for view in ("all", "group", "mine"):
        items = canlian.get(f"tasks?view={view}").get_json()["items"]
        assert assess["id"] not in {t["id"] for t in items}
    assert canlian.get(f"tasks/{assess['id']}").status_code in (403, 404)
    assert canlian.post(f"tasks/{assess['id']}/claim").status_code in (403, 404)
    refused = canlian.post(f"tasks/{assess['id']}/complete", json={"data": {
        "recommendation": "support", "aid_item": "学杂费资助", "proposed_amount": 2000}})
    assert refused.status_code in (403, 404)
    # 区教委 itself works it; 区民政局's officer (the same role, another agency) cannot.
    assert minzheng.post(f"tasks/{assess['id']}/claim").status_code in (403, 404)
    assert jiaowei.post(f"tasks/{assess['id']}/claim").status_code == 200


def test_zhuanxiang__only_the_lead_agency_or_the_street_opens_a_case(login):
    payload = dict(application(), program="zhuxue", details=CASES["zhuxue"][2])
    assert login("canlian").post("cases", json=payload).status_code == 403
    assert login("jiaowei_lead").post("cases", json=payload).status_code == 403
    assert login("jd_heping").post("cases", json=payload).status_code == 201


def test_zhuanxiang__amount_above_the_self_paid_part_is_refused(login):
    case = open_case(login, "zhuyi")
    through_units(login, "zhuyi", case["id"])
    task = open_task(login, case["id"], "assess", "mz_zhuanxiang")
    client = login("mz_zhuanxiang")
    assert client.post(f"tasks/{task['id']}/claim").status_code == 200
    too_much = client.post(f"tasks/{task['id']}/complete", json={"data": {
        "recommendation": "support", "aid_item": "医疗费用救助", "proposed_amount": 18000.01}})
    assert too_much.status_code == 422
    assert too_much.get_json()["error"]["fields"]["proposed_amount"] == ["不能超过医保报销后的自付费用 18000.00 元"]
