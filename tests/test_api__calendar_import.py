"""The calendar says when it does not cover a year, and an admin can import a year's official arrangement.

The test clock starts on 2026-03-02: 2026 is in chinese_calendar's official table, 2027 is not.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import delete

EXAMPLE = (Path(__file__).resolve().parents[1] / "docs" / "examples" / "calendar-2027.csv").read_bytes()


@pytest.fixture(autouse=True)
def fresh_calendar(app, db):
    """The engine's calendar re-reads the database at most every few seconds: start and leave it exact."""
    from engine.models import CalendarOverride, CalendarYear
    from web.deadline_service import refresh_calendar

    with app.app_context():
        refresh_calendar(app)
    yield
    with app.app_context():
        db.session.execute(delete(CalendarOverride))
        db.session.execute(delete(CalendarYear))
        db.session.commit()
        refresh_calendar(app)


def _post_csv(api, year, body: bytes, content_type="text/csv"):
    return api.post(f"calendar/years/{year}", data=body, content_type=content_type)


def test_api__health_under_api_v1_answers_like_health(client):
    for path in ("/health", "/api/v1/health"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.get_json() == {"status": "ok", "database": "ok"}


def test_api__working_days_warn_when_the_span_touches_an_uncovered_year(login):
    api = login("jd_heping")
    inside = api.get("calendar/working-days?start=2026-03-02T09:00:00%2B08:00&days=10").get_json()
    assert inside["warnings"] == []
    across = api.get("calendar/working-days?start=2026-12-20T09:00:00%2B08:00&days=30").get_json()
    assert len(across["warnings"]) == 1 and "2027 年" in across["warnings"][0]
    # Ending at 24:00 of 31 Dec 2026 (00:00 of 1 Jan 2027) does not touch 2027.
    edge = api.get("calendar/working-days?start=2026-12-30T09:00:00%2B08:00&days=1").get_json()
    assert edge["deadline"].startswith("2027-01-01T00:00") and edge["warnings"] == []
    between = api.get("calendar/working-days?start=2026-12-01T00:00:00%2B08:00"
                      "&end=2027-01-15T00:00:00%2B08:00").get_json()
    assert "2027 年" in between["warnings"][0]


def test_api__import_a_year_makes_it_covered_and_counts_its_holidays(login):
    admin = login("admin")
    before = admin.get("calendar/years").get_json()
    by_year = {item["year"]: item for item in before["items"]}
    assert by_year[2026]["source"] == "official" and by_year[2027]["source"] == "none"
    assert any("2027 年" in w for w in before["warnings"])
    # A plain weekday rule puts 1 Oct 2027 (a Friday) among the working days.
    plain = admin.get("calendar/working-days?start=2027-09-30T09:00:00%2B08:00&days=1").get_json()
    assert plain["deadline"].startswith("2027-10-02T00:00")

    response = _post_csv(admin, 2027, EXAMPLE)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["covered"] is True and "2027-10-01" in body["holidays"] and "2027-09-26" in body["workdays"]

    after = admin.get("calendar/years").get_json()
    assert {item["year"]: item for item in after["items"]}[2027]["source"] == "imported"
    assert not any("2027 年" in w for w in after["warnings"])
    assert 2027 in admin.get("calendar/overrides?year=2027").get_json()["imported_years"]
    # National Day week (1-7 Oct) off: 30 Sep + 1 working day is 24:00 of Friday 8 Oct; + 2 is Saturday 9 Oct,
    # a make-up workday.
    now = admin.get("calendar/working-days?start=2027-09-30T09:00:00%2B08:00&days=1").get_json()
    assert now["deadline"].startswith("2027-10-09T00:00") and now["warnings"] == []
    two = admin.get("calendar/working-days?start=2027-09-30T09:00:00%2B08:00&days=2").get_json()
    assert two["deadline"].startswith("2027-10-10T00:00")

    # Importing again replaces the year's overrides (200, not 201).
    again = _post_csv(admin, 2027, "date,kind,note\n2027-01-01,holiday,元旦\n".encode())
    assert again.status_code == 200
    days = admin.get("calendar/overrides?year=2027").get_json()["items"]
    assert days == [{"day": "2027-01-01", "is_workday": False, "note": "元旦"}]


def test_api__import_as_json_and_as_multipart(login):
    admin = login("admin")
    document = {"year": 2028, "days": [{"date": "2028-01-01", "kind": "holiday", "note": "元旦"}]}
    response = admin.post("calendar/years/2028", json=document)
    assert response.status_code == 201, response.get_json()
    upload = admin.post("calendar/years/2027", data={"file": (io.BytesIO(EXAMPLE), "calendar-2027.csv")},
                        content_type="multipart/form-data")
    assert upload.status_code == 201, upload.get_json()
    years = {i["year"]: i for i in admin.get("calendar/years").get_json()["items"]}
    assert years[2028]["source"] == "imported" and years[2027]["imported_by"] == "admin"
    listed = admin.get("calendar/years?until=2030").get_json()["items"]
    assert listed[0]["year"] == 2004 and listed[-1]["year"] == 2030 and listed[-1]["source"] == "none"


def test_api__a_bad_file_is_refused_line_by_line_and_nothing_changes(login):
    admin = login("admin")
    bad = b"date,kind,note\n2027-02-30,holiday,\n2028-01-01,holiday,\n2027-01-01,maybe,\n2027-10-01,holiday,ok\n"
    response = _post_csv(admin, 2027, bad)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "3 处错误" in error["message"]
    assert set(error["fields"]) == {"第 2 行", "第 3 行", "第 4 行"}
    assert "不属于 2027 年" in error["fields"]["第 3 行"][0]
    assert admin.get("calendar/overrides?year=2027").get_json()["items"] == []

    for body, content_type, field in [
        (b"", "text/csv", "file"),
        (b"when,what\n", "text/csv", "第 1 行"),
        (json.dumps({"year": 2026, "days": []}).encode(), "application/json", "year"),
        (b"\xff\xfe\x00", "text/csv", "file"),
    ]:
        refused = _post_csv(admin, 2027, body, content_type)
        assert refused.status_code == 422, (body, refused.get_json())
        assert field in refused.get_json()["error"]["fields"], refused.get_json()
    missing = admin.post("calendar/years/2027", data={"other": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "file" in missing.get_json()["error"]["fields"]
    assert _post_csv(admin, 1800, EXAMPLE).status_code == 422


def test_api__only_an_admin_imports(login):
    assert _post_csv(login("supervisor"), 2027, EXAMPLE).status_code == 403


def test_ui__dashboard_banner_until_next_year_is_imported(client, login):
    from web.auth import page_session_id

    with client.application.app_context():
        sid = page_session_id("supervisor")
    with client.session_transaction() as session:
        session["sid"] = sid
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'data-testid="calendar-notice"' in page and "2027 年" in page
    assert _post_csv(login("admin"), 2027, EXAMPLE).status_code == 201
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'data-testid="calendar-notice"' not in page
