"""Drives 低保 cases through the HTTP API the way the people in DESIGN.md's demo table would."""
from __future__ import annotations

import itertools

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
_serial = itertools.count(1)


def id_number(birth: str = "19700101", region: str = "110105", serial: int | None = None,
              female: bool = False) -> str:
    """A valid 18-digit ID (GB 11643-1999 checksum computed here)."""
    n = serial if serial is not None else next(_serial)
    seq = (n * 2 + (0 if female else 1)) % 1000
    body = f"{region}{birth}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + CHECK[total % 11]


def application(street="和平街道", community="和平里社区", members=2, income=800.0, name="张三") -> dict:
    people = [{"name": name, "id_number": id_number("19700101"), "relation": "本人", "birth_date": "1970-01-01",
               "work_capacity": "partial"}]
    for i in range(1, members):
        people.append({"name": f"{name[0]}家{i}", "id_number": id_number("20150601"), "relation": "子女",
                       "birth_date": "2015-06-01", "work_capacity": "none"})
    return {
        "program": "dibao",
        "street": street,
        "community": community,
        "applicant": {"name": name, "id_number": people[0]["id_number"], "phone": "13800000000"},
        "household": {"members": people, "monthly_income": income, "assets": {"savings": 1000}},
    }


STREET_STAFF = {
    "和平街道": {"clerk": "jd_heping", "lead": "jd_heping_lead", "community": "sq_heping"},
    "安定街道": {"clerk": "jd_anding", "lead": "jd_anding_lead", "community": "sq_anding"},
}


class Dibao:
    """One case and the staff who work it."""

    def __init__(self, login, street="和平街道", community=None, **kwargs):
        self.login = login
        self.staff = STREET_STAFF[street]
        community = community or ("和平里社区" if street == "和平街道" else "安定门社区")
        response = login(self.staff["community"]).post("cases", json=application(street, community, **kwargs))
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        self.id = body["id"]
        self.instance_id = body["process_instance_id"]

    # -- reading --------------------------------------------------------------------------------------
    def case(self, as_user="admin") -> dict:
        response = self.login(as_user).get(f"cases/{self.id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def open_task(self, element_id: str, as_user: str) -> dict:
        items = self.login(as_user).get(f"tasks?case_id={self.id}&view=all").get_json()["items"]
        matching = [t for t in items if t["element_id"] == element_id]
        assert matching, f"no open {element_id} for {as_user}; open: {[t['element_id'] for t in items]}"
        return matching[0]

    def stage_elements(self) -> set[str]:
        return {t["element_id"] for t in self.case()["tasks"]}

    # -- acting ---------------------------------------------------------------------------------------
    def complete(self, element_id: str, user: str, data: dict, *, claim=True, expect=200):
        task = self.open_task(element_id, user)
        client = self.login(user)
        if claim and task["assignee"] is None:
            claimed = client.post(f"tasks/{task['id']}/claim")
            assert claimed.status_code == 200, claimed.get_json()
        response = client.post(f"tasks/{task['id']}/complete", json={"data": data})
        assert response.status_code == expect, response.get_json()
        return response

    def accept(self, relatives=False):
        self.complete("accept", self.staff["clerk"], {"decision": "accept", "opinion": "材料齐全"})
        self.complete("relatives_check", self.staff["clerk"], {"relatives_filed": relatives})

    def survey(self, income=800.0, element_id="household_survey", items=None, expect=200):
        """The survey with its income items (default: one wage item of `income` yuan a month)."""
        return self.complete(element_id, self.staff["clerk"], {
            "investigators": ["张伟", "李强"], "income_items": items if items is not None else [
                {"type": "wage", "amount": income}], "findings": "家庭情况属实", "visited_on": "2026-03-03"},
            expect=expect)

    def economic_check(self, passed=True, income=800.0, as_user="admin", **extra):
        """The verification centre's answer; `extra` adds to the payload (income_items, asset_test_passed, …)."""
        response = self.login(as_user).post(f"process-instances/{self.instance_id}/messages", json={
            "name": "economic_check.completed",
            "payload": {"passed": passed, "monthly_income": income, "findings": "核对无异常", **extra}})
        assert response.status_code == 200, response.get_json()
        return response

    def appraise(self):
        self.complete("appraisal", self.staff["community"], {
            "representatives_present": 9, "representatives_total": 12, "result": "pass", "opinion": "同意"})

    def street_review(self, decision="approve", opinion="同意上报", flag_decisions=None, expect=200):
        data = {"decision": decision, "opinion": opinion}
        if flag_decisions is not None:
            data["flag_decisions"] = flag_decisions
        return self.complete("street_review", self.staff["lead"], data, expect=expect)

    def through_street(self, income=800.0, relatives=False):
        self.accept(relatives)
        self.survey(income)
        self.economic_check(income=income)
        self.appraise()
        self.street_review()

    def spot_check_if_selected(self) -> bool:
        case = self.case()
        if "spot_check" not in {t["element_id"] for t in case["tasks"]}:
            return False
        self.complete("spot_check", "qu_inspector", {
            "visited_on": "2026-03-20", "visitors": ["赵磊", "钱进"], "conclusion": "confirm", "findings": "属实"})
        return True

    def approve(self, decision="approve", opinion="同意", amount=None):
        data = {"decision": decision, "opinion": opinion}
        if amount is not None:
            data["amount"] = amount
        self.complete("approval", "qu_approver", data)

    def set_up_payment(self):
        self.complete("payment_setup", "cz_payer", {
            "bank_name": "北京银行", "account_number": "6222000011112222"})

    def refusal_notice(self, reason="家庭人均收入高于当地低保标准"):
        self.complete("refusal_notice", self.staff["clerk"], {"reason": reason, "delivered_on": "2026-03-25"})


def approved_case(login, **kwargs) -> Dibao:
    """A 2-member household (800 yuan a month) taken through the street, the notice, the spot check when drawn,
    approval and payment setup: on the register from the month after approval, with 2269.00 a month."""
    case = Dibao(login, members=2, income=800.0, **kwargs)
    case.through_street(income=800.0)
    advance(login, "P8D")
    case.spot_check_if_selected()
    case.approve()
    case.set_up_payment()
    return case


def advance(login, duration: str) -> dict:
    response = login("admin").post("admin/clock", json={"advance": duration})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tekun_application(street="和平街道", community="和平里社区", name="刘大爷", birth="1950-05-01", income=300.0,
                      details=None) -> dict:
    """A 特困人员供养 application: one person living alone (elderly by default), no supporter declared."""
    number = id_number(birth.replace("-", ""))
    return {
        "program": "tekun",
        "street": street,
        "community": community,
        "applicant": {"name": name, "id_number": number, "phone": "13900000000"},
        "household": {"members": [{"name": name, "id_number": number, "relation": "本人", "birth_date": birth,
                                   "work_capacity": "none"}],
                      "monthly_income": income, "assets": {"savings": 500}},
        "details": details if details is not None else {"has_supporter": False, "preferred_care": "dispersed"},
    }


class Tekun(Dibao):
    """One 特困人员供养 case (bpmn/tekun.bpmn) and the staff who work it; the spot check, payment setup and
    refusal notice are the same steps as 低保's."""

    def __init__(self, login, street="和平街道", community=None, **kwargs):
        self.login = login
        self.staff = STREET_STAFF[street]
        community = community or ("和平里社区" if street == "和平街道" else "安定门社区")
        response = login(self.staff["community"]).post("cases", json=tekun_application(street, community, **kwargs))
        assert response.status_code == 201, response.get_json()
        body = response.get_json()
        self.id = body["id"]
        self.instance_id = body["process_instance_id"]

    def accept(self, relatives=False):
        self.complete("accept", self.staff["clerk"], {"decision": "accept", "opinion": "材料齐全",
                                                     "relatives_filed": relatives})

    def investigate(self, element_id="investigation", *, income=300.0, supporter="none", supporter_note=None,
                    care=("able",) * 6, investigators=("张伟", "李强"), work_capacity="none", expect=200):
        """The home visit: a pension of `income` yuan a month and the six self-care answers in form order."""
        items = ("eating", "dressing", "bed_transfer", "toileting", "indoor_walking", "bathing")
        data = {"investigators": list(investigators), "visited_on": "2026-03-05", "work_capacity": work_capacity,
                "income_items": [{"type": "pension", "amount": income}] if income else [],
                "supporter": supporter, "supporter_note": supporter_note, "findings": "独居，入户核实属实",
                **{f"self_care_{item}": answer for item, answer in zip(items, care, strict=True)}}
        return self.complete(element_id, self.staff["clerk"], data, expect=expect)

    def through_street(self, relatives=False, **investigation):
        self.accept(relatives)
        self.investigate(**investigation)
        self.street_review()

    def approve(self, decision="approve", opinion="同意", care_type="dispersed", institution=None,
                care_level=None, expect=200):
        data = {"decision": decision, "opinion": opinion, "care_type": care_type, "institution": institution,
                "care_level": care_level}
        return self.complete("approval", "qu_approver", data, expect=expect)


class ComplaintFlow:
    """A complaint (投诉举报) lodged through POST /complaints — by a street worker (channel staff) unless `public`
    — and the staff who work it in the household's street."""

    def __init__(self, login, client=None, *, case_id=None, household_id_number=None, text="该户家庭成员有稳定工作，隐瞒收入",
                 as_user="jd_heping", street="和平街道"):
        self.login = login
        self.staff = STREET_STAFF[street]
        body = {"text": text}
        if case_id is not None:
            body["case_id"] = case_id
        if household_id_number is not None:
            body["household_id_number"] = household_id_number
        if client is not None:  # the public: no login
            response = client.post("/api/v1/complaints", json=body)
        else:
            response = login(as_user).post("complaints", json=body)
        assert response.status_code == 201, response.get_json()
        self.reference = response.get_json()["reference"]
        found = [c for c in login("admin").get("complaints?limit=500").get_json()["items"]
                 if c["reference"] == self.reference]
        assert len(found) == 1
        self.id = found[0]["id"]
        self.instance_id = found[0]["process_instance_id"]

    def detail(self, as_user="admin") -> dict:
        response = self.login(as_user).get(f"complaints/{self.id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def open_task(self, element_id: str, as_user: str) -> dict:
        items = self.login(as_user).get(f"tasks?process_instance_id={self.instance_id}&view=all").get_json()["items"]
        matching = [t for t in items if t["element_id"] == element_id and t["status"] == "open"]
        assert matching, f"no open {element_id} for {as_user}; open: {[t['element_id'] for t in items]}"
        return matching[0]

    def complete(self, element_id: str, user: str, data: dict, *, expect=200):
        task = self.open_task(element_id, user)
        client = self.login(user)
        if task["assignee"] is None:
            claimed = client.post(f"tasks/{task['id']}/claim")
            assert claimed.status_code == 200, claimed.get_json()
        response = client.post(f"tasks/{task['id']}/complete", json={"data": data})
        assert response.status_code == expect, response.get_json()
        return response

    def investigate(self, outcome: str, opinion="入户核查属实"):
        """核实受理, the home visit and the street's opinion."""
        self.complete("verify", self.staff["clerk"], {"category": "income", "opinion": "受理，安排入户核查"})
        self.complete("home_visit", self.staff["clerk"], {
            "visited_on": "2026-03-10", "investigators": ["张伟", "李强"], "finding": "户主在外务工，月收入约 4000 元"})
        return self.complete("street_opinion", self.staff["lead"], {"outcome": outcome, "opinion": opinion})


# -- 临时救助 (linshi) ---------------------------------------------------------------------------------------------

def linshi_application(kind="expense", requested_amount=3000, street="和平街道", community="和平里社区", members=2,
                       income=1000.0, name="王五") -> dict:
    body = application(street, community, members=members, income=income, name=name)
    body["program"] = "linshi"
    body["details"] = {"kind": kind, "requested_amount": requested_amount, "reason": "突发重病住院，医疗费用难以负担"}
    return body


class Linshi(Dibao):
    """A 临时救助 case: 急难型 (kind="emergency") or 支出型 (kind="expense"), driven with Dibao's helpers."""

    def __init__(self, login, street="和平街道", **kwargs):
        # Not Dibao.__init__: that one posts a 低保 application.
        self.login = login
        self.staff = STREET_STAFF[street]
        community = "和平里社区" if street == "和平街道" else "安定门社区"
        response = login(self.staff["clerk"]).post("cases", json=linshi_application(
            street=street, community=community, **kwargs))
        assert response.status_code == 201, response.get_json()
        self.id = response.get_json()["id"]
        self.instance_id = response.get_json()["process_instance_id"]
