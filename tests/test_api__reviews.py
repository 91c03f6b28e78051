"""POST /recipients/{id}/events and GET /reviews: events start reviews or cut a member's share, bad events are 4xx
with the field, the list is scoped by jurisdiction, and a review process cannot be started by hand."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.test_workflows__reviews import make_recipient
from web.extensions import db
from workflows.register.models import Recipient, RecipientChange, RecipientStatus, Review


@pytest.fixture
def recipient_id(app, db):
    with app.app_context():
        rid = make_recipient(db.session, next_review_due=None).id
        db.session.remove()
    return rid


def changes_of(app, rid: int) -> list[RecipientChange]:
    with app.app_context():
        rows = list(db.session.scalars(select(RecipientChange).where(RecipientChange.recipient_id == rid)
                                       .order_by(RecipientChange.id)))
        db.session.expunge_all()
        return rows


def test_a_death_starts_a_review_due_within_three_months(app, login, recipient_id):
    response = login("jd_heping").post(f"recipients/{recipient_id}/events",
                                       json={"type": "death", "member": "1", "note": "成员因病去世"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["review"]["trigger"] == "death" and body["review"]["due_date"] == "2026-06-02"
    event = changes_of(app, recipient_id)[-1]
    assert (event.kind, event.new_amount, event.actor) == ("event", None, "jd_heping")
    assert event.details["type"] == "death" and event.details["member"] == "1"
    assert event.details["member_name"] == "王*1"  # masked: no full names in the audit details
    items = login("jd_heping").get("reviews?status=open").get_json()["items"]
    assert [(i["recipient_id"], i["trigger"], i["tasks"]) for i in items] == [(recipient_id, "death", ["复核入户调查"])]
    # An income change within the month: the same review, now due sooner.
    again = login("qu_approver").post(f"recipients/{recipient_id}/events", json={"type": "income_change"})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["review"] == dict(body["review"], due_date="2026-04-02")
    with app.app_context():
        assert len(db.session.scalars(select(Review)).all()) == 1


def test_the_third_consecutive_labour_refusal_cuts_the_members_share(app, login, recipient_id):
    client = login("jd_heping")

    def refuse(kind="labour_refusal", member="王建国"):
        response = client.post(f"recipients/{recipient_id}/events", json={"type": kind, "member": member})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    assert refuse()["labour_refusals"] == {"0": 1}
    assert refuse()["labour_refusals"] == {"0": 2}
    assert refuse("labour_done")["labour_refusals"] == {"0": 0}  # he worked: the count starts again
    refuse()
    refuse()
    cut = refuse()
    assert cut["labour_refusals"] == {"0": 3}
    assert cut["amount_change"]["kind"] == "labour_cut" and cut["amount_change"]["effective_month"] == "2026-04"
    # His share of the base goes: (1395 − 400) for him; the child's base and top-up stay: 995 + 279.
    assert Decimal(cut["monthly_amount"]) == Decimal("1274.00")
    changes = changes_of(app, recipient_id)
    last = changes[-1]
    assert (last.kind, last.old_amount, last.new_amount) == ("labour_cut", Decimal("2269.00"), Decimal("1274.00"))
    assert [c.kind for c in changes].count("event") == 6  # every event is audited
    with app.app_context():
        breakdown = db.session.get(Recipient, recipient_id).breakdown
    assert [c["member"] for c in breakdown["cuts"]] == ["0"]
    # A fourth refusal changes nothing more; doing the labour again restores the share from next month.
    assert refuse()["amount_change"] is None
    restored = refuse("labour_done")
    assert restored["amount_change"]["kind"] == "labour_restored"
    assert Decimal(restored["monthly_amount"]) == Decimal("2269.00")


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "wedding"}, "type"),
    ({}, "type"),
    ({"type": "labour_refusal"}, "member"),
    ({"type": "death", "member": "7"}, "member"),
    ({"type": "death", "member": "李四"}, "member"),
    ({"type": "death", "member": True}, "member"),
    ({"type": "income_change", "note": "长" * 2001}, "note"),
])
def test_bad_events_are_refused_with_the_field(app, login, recipient_id, body, field):
    response = login("jd_heping").post(f"recipients/{recipient_id}/events", json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert [c.kind for c in changes_of(app, recipient_id)] == ["approved"]


def test_who_may_record_events(app, login, recipient_id):
    body = {"type": "income_change", "note": "再就业"}
    assert login("jd_anding").post(f"recipients/{recipient_id}/events", json=body).status_code == 404
    assert login("sq_heping").post(f"recipients/{recipient_id}/events", json=body).status_code == 403
    assert login("cz_payer").post(f"recipients/{recipient_id}/events", json=body).status_code == 403
    assert login("jd_heping").post("recipients/999999/events", json=body).status_code == 404
    with app.app_context():
        db.session.get(Recipient, recipient_id).status = RecipientStatus.STOPPED
        db.session.commit()
    response = login("jd_heping").post(f"recipients/{recipient_id}/events", json=body)
    assert response.status_code == 409
    assert [c.kind for c in changes_of(app, recipient_id)] == ["approved"]


def test_the_review_list_is_scoped_and_filtered(app, login, recipient_id):
    with app.app_context():
        other = make_recipient(db.session, street="安定街道", community="安定门社区", next_review_due=None).id
        db.session.remove()
    for rid, user in ((recipient_id, "jd_heping"), (other, "jd_anding")):
        assert login(user).post(f"recipients/{rid}/events", json={"type": "income_change"}).status_code == 201
    assert {i["recipient_id"] for i in login("jd_heping").get("reviews").get_json()["items"]} == {recipient_id}
    assert {i["recipient_id"] for i in login("jd_anding").get("reviews").get_json()["items"]} == {other}
    district = login("supervisor")
    assert {i["recipient_id"] for i in district.get("reviews").get_json()["items"]} == {recipient_id, other}
    assert {i["street"] for i in district.get("reviews?street=安定街道").get_json()["items"]} == {"安定街道"}
    assert district.get("reviews?due_before=2026-04-02").get_json()["items"] == []
    assert len(district.get("reviews?due_before=2026-04-03&status=open").get_json()["items"]) == 2
    assert district.get("reviews?status=done").get_json()["items"] == []
    bad = district.get("reviews?status=finished")
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]
    assert district.get("reviews?due_before=soon").status_code == 422


def test_a_review_process_cannot_be_started_by_hand(login):
    response = login("jd_heping").post("process-instances", json={"process_key": "dibao_review", "data": {}})
    assert response.status_code == 403


def test_the_survey_task_has_its_form_and_a_page(app, login, recipient_id):
    body = login("jd_heping").post(f"recipients/{recipient_id}/events", json={"type": "income_change"}).get_json()
    instance_id = body["review"]["process_instance_id"]
    items = login("jd_heping").get(f"tasks?process_instance_id={instance_id}").get_json()["items"]
    task = login("jd_heping").get(f"tasks/{items[0]['id']}").get_json()
    properties = task["form"]["schema"]["properties"]
    assert {"investigators", "income_items", "income_from_work"} <= set(properties)
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "jd_heping", "password": "demo", "csrf_token": token})
    page = client.get(f"/tasks/{items[0]['id']}")
    assert page.status_code == 200
    assert "复核入户调查" in page.get_data(as_text=True)
