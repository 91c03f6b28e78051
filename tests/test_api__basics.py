"""Authentication, health, catalog endpoints and the error contract."""


def test_api__health_needs_no_token(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_api__token_and_bad_password(client):
    ok = client.post("/api/v1/auth/token", json={"username": "admin", "password": "demo"})
    assert ok.status_code == 200 and ok.get_json()["token"]
    bad = client.post("/api/v1/auth/token", json={"username": "admin", "password": "nope"})
    assert bad.status_code == 401
    assert bad.get_json()["error"]["code"] == "unauthorized"
    missing = client.post("/api/v1/auth/token", json={"username": "admin"})
    assert missing.status_code == 422
    assert "password" in missing.get_json()["error"]["fields"]


def test_api__repeated_failures_throttle_that_source_only(client):
    """Five bad passwords from one address make that address wait (429); the account stays usable elsewhere."""
    for _ in range(5):
        client.post("/api/v1/auth/token", json={"username": "jd_anding", "password": "wrong"})
    throttled = client.post("/api/v1/auth/token", json={"username": "jd_anding", "password": "demo"})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "分钟后再试" in throttled.get_json()["error"]["message"]
    elsewhere = client.post("/api/v1/auth/token", json={"username": "jd_anding", "password": "demo"},
                            environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert elsewhere.status_code == 200


def test_api__calls_without_token_are_401(client):
    assert client.get("/api/v1/tasks").status_code == 401
    forged = client.get("/api/v1/tasks", headers={"Authorization": "Bearer forged.token.value"})
    assert forged.status_code == 401


def test_api__jurisdictions_and_programs(login):
    user = login("jd_heping")
    tree = user.get("jurisdictions").get_json()
    assert tree[0]["name"] == "示范区"
    assert [s["name"] for s in tree[0]["children"]] == ["和平街道", "安定街道"]
    assert len(tree[0]["children"][0]["children"]) == 2
    programs = {p["key"]: p for p in user.get("programs").get_json()}
    assert programs["dibao"]["process_key"] == "dibao"
    assert programs["dibao"]["local_standard"] == 1395.0
    assert programs["zhuxue"]["lead_agency"] == "区教委"


def test_api__bad_json_is_422_not_500(login):
    user = login("jd_heping")
    response = user.post("cases", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()
    response = user.post("cases", json=[1, 2])
    assert response.status_code == 422


def test_api__unknown_route_is_json_404(login):
    response = login("admin").get("nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
