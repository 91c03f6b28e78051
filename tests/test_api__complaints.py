"""POST /complaints without login (public intake), by street staff, validation, throttling, and the staff list and
detail — no answer ever carries a full ID number."""
from sqlalchemy import select

from tests.scenario import ComplaintFlow, Dibao, application, id_number


def _case(login, **kwargs) -> tuple[int, str]:
    """A 低保 application in 和平街道; (case id, the applicant's ID number)."""
    body = application(**kwargs)
    response = login("sq_heping").post("cases", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"], body["applicant"]["id_number"]


def test_complaints__public_intake_without_login_goes_to_the_household_street(app, client, login):
    case_id, number = _case(login)
    response = client.post("/api/v1/complaints", json={
        "household_id_number": number, "text": "该户有一辆小汽车，家里开着小卖部", "reporter": "邻居", "contact": "13900001111"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"reference", "status"}
    assert body["status"] == "received" and body["reference"].startswith("TS")
    assert number not in response.get_data(as_text=True)
    # In the street's inbox: 核实受理 for the street clerk of 和平街道, not for 安定街道.
    tasks = login("jd_heping").get("tasks?view=group").get_json()["items"]
    verify = [t for t in tasks if t["element_id"] == "verify"]
    assert len(verify) == 1 and verify[0]["street"] == "和平街道" and verify[0]["role"] == "street_clerk"
    assert not [t for t in login("jd_anding").get("tasks?view=group").get_json()["items"]
                if t["element_id"] == "verify"]
    listed = login("jd_heping").get("complaints").get_json()
    assert listed["total"] == 1
    item = listed["items"][0]
    assert item["reference"] == body["reference"] and item["channel"] == "public" and item["case_id"] == case_id
    assert item["household_id_number"] == number[:6] + "********" + number[-4:]
    detail = login("jd_heping").get(f"complaints/{item['id']}")
    assert detail.status_code == 200
    assert detail.get_json()["text"] == "该户有一辆小汽车，家里开着小卖部"
    for answer in (listed, detail.get_json()):
        assert number not in str(answer)
    # Outside the jurisdiction: neither listed nor shown.
    assert login("jd_anding").get("complaints").get_json()["total"] == 0
    assert login("jd_anding").get(f"complaints/{item['id']}").status_code == 404
    # Agency staff and finance do not work complaints.
    assert login("jiaowei").get("complaints").status_code == 403


def test_complaints__staff_intake_by_case_number(app, login):
    case_id, number = _case(login)
    response = login("sq_heping").post("complaints", json={"case_id": case_id, "text": "群众来电反映该户隐瞒收入"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["channel"] == "staff" and body["process_instance_id"]
    assert number not in response.get_data(as_text=True)
    detail = login("admin").get(f"complaints/{body['id']}").get_json()
    assert detail["received_by"] == "sq_heping" and detail["channel"] == "staff"
    # A role that does not take complaints is refused; a bad token is not taken for the public.
    assert login("cz_payer").post("complaints", json={"case_id": case_id, "text": "来电反映情况"}).status_code == 403
    bad = app.test_client().post("/api/v1/complaints", json={"case_id": case_id, "text": "来电反映情况"},
                                 headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


def test_complaints__validation_names_each_field(app, client, login):
    _case(login)

    sources = iter(range(1, 100))

    def errors(body):
        # Each from its own address: this test is about the messages, not the per-address limit.
        response = client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": f"10.1.0.{next(sources)}"})
        assert response.status_code == 422, response.get_json()
        return response.get_json()["error"]["fields"]

    assert set(errors({})) == {"household_id_number", "text"}
    assert "household_id_number" in errors({"text": "该户隐瞒收入情况"})
    fields = errors({"household_id_number": "110105197001010000", "text": "短", "reporter": "张" * 101})
    assert set(fields) == {"household_id_number", "text", "reporter"}
    assert "校验码" in fields["household_id_number"][0]
    assert "case_id" in errors({"case_id": "abc", "text": "该户隐瞒收入情况"})
    assert "case_id" in errors({"case_id": 999999, "text": "该户隐瞒收入情况"})
    response = client.post("/api/v1/complaints", data="not json", content_type="application/json")
    assert response.status_code in (400, 422)


def test_complaints__public_intake_is_throttled_per_address(app, client, login):
    _case_id, number = _case(login)
    body = {"household_id_number": number, "text": "该户有稳定的经营收入"}
    answers = [client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "10.0.0.7"})
               for _ in range(4)]
    # Refused submissions count too (a malformed number here).
    answers.append(client.post("/api/v1/complaints", json={"household_id_number": "110105197001010000",
                                                           "text": "该户隐瞒收入情况"},
                               environ_base={"REMOTE_ADDR": "10.0.0.7"}))
    assert [a.status_code for a in answers] == [201, 201, 201, 201, 422]
    refused = client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert refused.status_code == 429
    error = refused.get_json()["error"]
    assert "频繁" in error["message"] and int(refused.headers["Retry-After"]) > 0
    # Another address is not affected, nor is staff intake (counted per user: see the staff test).
    assert client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "10.0.0.8"}).status_code == 201
    assert login("jd_heping").post("complaints", json=body).status_code == 201
    # The window ends.
    login("admin").post("admin/clock", json={"advance": "PT11M"})
    assert client.post("/api/v1/complaints", json=body, environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 201
    with app.app_context():
        from web.extensions import db
        from workflows.complaints.models import ComplaintIntakeCount

        keys = db.session.scalars(select(ComplaintIntakeCount.key)).all()
        assert keys and not any("10.0.0" in k for k in keys)  # addresses only as hashes


def test_complaints__cannot_be_started_as_a_bare_process(app, login):
    response = login("jd_heping").post("process-instances", json={"process_key": "complaint", "data": {}})
    assert response.status_code == 403


def test_complaints__reported_dibao_case_shows_on_the_register_household(app, login):
    # A complaint about a household member other than the applicant finds the case through the case itself.
    case = Dibao(login)
    flow = ComplaintFlow(login, case_id=case.id)
    assert flow.detail()["case_id"] == case.id and flow.detail()["status"] == "received"


def test_complaints__public_answer_is_the_same_for_an_unknown_household(app, client, login):
    """The public intake must not tell whether an ID number is known here: an unknown one is accepted alike and
    kept unmatched (待分派) for the district staff, with no street and no process."""
    _case_id, number = _case(login)
    unknown = id_number("19800101", serial=777)
    known = client.post("/api/v1/complaints", json={"household_id_number": number, "text": "该户隐瞒收入情况"},
                        environ_base={"REMOTE_ADDR": "10.2.0.1"})
    other = client.post("/api/v1/complaints", json={"household_id_number": unknown, "text": "该户隐瞒收入情况",
                                                    "reporter": "匿名"},
                        environ_base={"REMOTE_ADDR": "10.2.0.2"})
    assert known.status_code == other.status_code == 201, other.get_json()
    assert set(known.get_json()) == set(other.get_json()) == {"reference", "status"}
    assert known.get_json()["status"] == other.get_json()["status"] == "received"
    reference = other.get_json()["reference"]
    # Not in any street's list or inbox; the district roles see it as 待分派.
    for street_user in ("jd_heping", "jd_heping_lead", "sq_heping"):
        assert reference not in [c["reference"] for c in login(street_user).get("complaints").get_json()["items"]]
    assert len([t for t in login("jd_heping").get("tasks?view=group").get_json()["items"]
                if t["element_id"] == "verify"]) == 1  # the known household's only
    for district_user in ("qu_approver", "qu_inspector", "supervisor", "admin"):
        listed = login(district_user).get("complaints?unmatched=true").get_json()
        assert [c["reference"] for c in listed["items"]] == [reference], district_user
    item = login("qu_approver").get("complaints?unmatched=true").get_json()["items"][0]
    assert item["unmatched"] is True and item["status_name"] == "待分派" and item["status"] == "received"
    assert item["street"] is None and item["process_instance_id"] is None and item["case_id"] is None
    assert item["household_id_number"] == unknown[:6] + "********" + unknown[-4:]
    assert login("qu_approver").get(f"complaints/{item['id']}").get_json()["reporter"] == "匿名"
    assert login("jd_heping").get(f"complaints/{item['id']}").status_code == 404
    matched = login("qu_approver").get("complaints?unmatched=false").get_json()["items"]
    assert [c["unmatched"] for c in matched] == [False]
    # An ID number that is not of the named case's household: accepted and unmatched too.
    mismatch = client.post("/api/v1/complaints", json={"case_id": _case_id, "household_id_number": unknown,
                                                       "text": "该户隐瞒收入情况"}, environ_base={"REMOTE_ADDR": "10.2.0.3"})
    assert mismatch.status_code == 201 and set(mismatch.get_json()) == {"reference", "status"}
    assert login("admin").get("complaints?unmatched=true").get_json()["total"] == 2


def test_complaints__staff_intake_in_their_jurisdiction_and_throttled_per_user(app, login, monkeypatch):
    from workflows.complaints import intake

    _case_id, number = _case(login)  # 和平街道
    body = {"household_id_number": number, "text": "群众来电反映该户隐瞒收入"}
    # Outside the jurisdiction answers as an unknown household does (staff learn nothing beyond their own).
    outside = login("jd_anding").post("complaints", json=body)
    unknown = login("jd_heping").post("complaints", json={"household_id_number": id_number(serial=778),
                                                          "text": "群众来电反映该户隐瞒收入"})
    assert outside.status_code == unknown.status_code == 422
    assert outside.get_json()["error"]["fields"] == unknown.get_json()["error"]["fields"]
    assert "本辖区未找到" in outside.get_json()["error"]["fields"]["household_id_number"][0]
    assert login("supervisor").post("complaints", json=body).status_code == 201  # the whole district
    # Throttled per user: the limit applies to each staff member, whatever address they use.
    monkeypatch.setattr(intake, "STAFF_LIMIT", 2)
    answers = [login("jd_heping").post("complaints", json=body).status_code for _ in range(2)]
    assert answers == [201, 429]  # the refused (422) submission above counted too
    assert login("jd_heping_lead").post("complaints", json=body).status_code == 201


def test_complaints__reporter_shown_to_street_reviewer_and_district_only(app, client, login):
    _case_id, number = _case(login)
    client.post("/api/v1/complaints", json={"household_id_number": number, "text": "该户隐瞒收入情况",
                                            "reporter": "李四", "contact": "13900001111"},
                environ_base={"REMOTE_ADDR": "10.3.0.1"})
    complaint_id = login("admin").get("complaints").get_json()["items"][0]["id"]
    for username in ("sq_heping", "jd_heping"):  # community worker, street clerk: not the reporter
        detail = login(username).get(f"complaints/{complaint_id}")
        assert detail.status_code == 200
        assert "reporter" not in detail.get_json() and "contact" not in detail.get_json()
        assert "李四" not in detail.get_data(as_text=True) and "13900001111" not in detail.get_data(as_text=True)
    for username in ("jd_heping_lead", "qu_approver", "qu_inspector", "supervisor", "admin"):
        detail = login(username).get(f"complaints/{complaint_id}").get_json()
        assert (detail["reporter"], detail["contact"]) == ("李四", "13900001111"), username


def test_complaints__proxy_count_setting_decides_the_client_address():
    """JIUZHU_PROXY_COUNT: 0 (default) ignores X-Forwarded-For (a client could pick its throttling key); N trusts
    the last N hops."""
    from flask import Flask

    from web.app import _trust_proxies
    from web.auth import source_address
    from web.settings import SETTINGS

    assert {s.name: s.default for s in SETTINGS}["JIUZHU_PROXY_COUNT"] == "0"
    seen = {}
    for count in ("0", "1"):
        bare = Flask(__name__)
        bare.config["JIUZHU_PROXY_COUNT"] = count
        _trust_proxies(bare)
        bare.add_url_rule("/", "where", lambda: source_address())
        answer = bare.test_client().get("/", headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.2"},
                                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
        seen[count] = answer.get_data(as_text=True)
    assert seen == {"0": "10.9.9.9", "1": "198.51.100.2"}
    bad = Flask(__name__)
    bad.config["JIUZHU_PROXY_COUNT"] = "two"
    try:
        _trust_proxies(bad)
    except RuntimeError as exc:
        assert "JIUZHU_PROXY_COUNT" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a bad JIUZHU_PROXY_COUNT must stop the start")
