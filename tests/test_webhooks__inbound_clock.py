"""Inbound signatures are judged by the real time, not by the simulated clock a demo moves ahead."""
from __future__ import annotations

import json
import time

from tests.scenario import Dibao
from webhooks.signing import sign


def _post(client, payload, timestamp):
    body = json.dumps(payload).encode()
    return client.post("/webhooks/inbound/hedui", data=body, headers={
        "Content-Type": "application/json", "X-Jiuzhu-Timestamp": str(timestamp),
        "X-Jiuzhu-Signature": sign("s3cret-hedui", timestamp, body)})


def test_inbound__current_signature_still_valid_after_clock_advance(app, client, login, monkeypatch):
    from engine import clock

    monkeypatch.setitem(app.config, "JIUZHU_WEBHOOK_SECRETS", "hedui=s3cret-hedui")
    case = Dibao(login)
    case.accept()
    assert login("admin").post("admin/clock", json={"advance": "P8D"}).status_code == 200
    event = {"event_id": "hd-9", "type": "economic_check.completed", "case_id": case.id,
             "payload": {"passed": True, "monthly_income": 800}}
    # A timestamp of the simulated "now" is not the sender's time: stale by the real clock.
    assert _post(client, event, int(clock.now().timestamp())).status_code == 401
    response = _post(client, event, int(time.time()))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "accepted"


def test_inbound__surrogate_in_a_signed_event_is_422(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "JIUZHU_WEBHOOK_SECRETS", "hedui=s3cret-hedui")
    case = Dibao(login)
    event = {"event_id": "hd-10", "type": "economic_check.completed", "case_id": case.id,
             "payload": {"findings": "\ud800"}}
    response = _post(client, event, int(time.time()))
    assert response.status_code == 422
    assert "payload.findings" in response.get_json()["error"]["fields"]
