"""Webhooks over real HTTP on localhost: signed outbound deliveries with retries, verified inbound events."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.scenario import Dibao, advance
from webhooks.signing import sign


class Receiver:
    """A local agency system: records each POST; answers with the statuses queued in `replies` (default 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.replies.pop(0) if receiver.replies else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _subscribe(login, receiver, patterns=("economic_check.*",)):
    response = login("admin").post("admin/webhooks", json={"name": "核对中心", "url": receiver.url,
                                                           "event_types": list(patterns)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["secret"]


def test_webhooks__outbound_signed_delivery(login, receiver):
    secret = _subscribe(login, receiver)
    case = Dibao(login)
    case.accept()  # the flow asks the verification centre for the economic check
    advance(login, "PT1M")
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = request["headers"]
    assert headers["X-Jiuzhu-Event"] == "economic_check.requested"
    assert headers["X-Jiuzhu-Delivery"]
    expected = sign(secret, int(headers["X-Jiuzhu-Timestamp"]), request["body"])
    assert headers["X-Jiuzhu-Signature"] == expected
    body = json.loads(request["body"])
    assert body["case_id"] == case.id and body["payload"]["reply_message"] == "economic_check.completed"
    # Delivered once: another sweep sends nothing more.
    advance(login, "PT1M")
    assert len(receiver.requests) == 1
    log = login("admin").get("admin/webhooks/deliveries").get_json()
    assert log[0]["ok"] is True and log[0]["status_code"] == 200


def test_webhooks__retry_with_backoff_then_dead_letter(app, login, receiver):
    _subscribe(login, receiver)
    receiver.replies = [500]
    case = Dibao(login)
    case.accept()
    advance(login, "PT1M")
    assert len(receiver.requests) == 1
    advance(login, "PT10S")  # before the 30 s backoff: no retry
    assert len(receiver.requests) == 1
    advance(login, "PT1M")
    assert len(receiver.requests) == 2  # the retry succeeded (default reply 200)
    ids = {r["headers"]["X-Jiuzhu-Delivery"] for r in receiver.requests}
    assert len(ids) == 2
    # An endpoint that always fails ends in the dead-letter state after MAX_ATTEMPTS.
    from webhooks.outbound import MAX_ATTEMPTS

    receiver.replies = [503] * 50
    other = Dibao(login, street="安定街道")
    other.accept()
    for _ in range(MAX_ATTEMPTS + 1):
        advance(login, "PT7H")
    from sqlalchemy import select

    from engine.models import OutboxEvent, OutboxStatus
    from web.extensions import db

    with app.app_context():
        event = db.session.scalars(select(OutboxEvent).where(
            OutboxEvent.event_type == "economic_check.requested", OutboxEvent.business_key == f"case:{other.id}")
        ).one()
        assert event.status == OutboxStatus.DEAD and event.attempts == MAX_ATTEMPTS


def _signed_post(client, source, secret, payload, *, timestamp=None, signature=None):
    body = json.dumps(payload).encode()
    timestamp = timestamp if timestamp is not None else int(time.time())
    return client.post(f"/webhooks/inbound/{source}", data=body, headers={
        "Content-Type": "application/json",
        "X-Jiuzhu-Timestamp": str(timestamp),
        "X-Jiuzhu-Signature": signature or sign(secret, timestamp, body),
    })


def test_webhooks__inbound_economic_check_verified_and_deduplicated(app, client, login, monkeypatch):
    monkeypatch.setitem(app.config, "JIUZHU_WEBHOOK_SECRETS", "hedui=s3cret-hedui,other=x")
    case = Dibao(login)
    case.accept()
    now = int(time.time())  # signatures carry the sender's real time, whatever the simulated clock says
    event = {"event_id": "hd-0001", "type": "economic_check.completed", "case_id": case.id,
             "payload": {"passed": True, "monthly_income": 800, "findings": "无异常"}}
    assert _signed_post(client, "hedui", "wrong", event, timestamp=now).status_code == 401
    assert _signed_post(client, "hedui", "s3cret-hedui", event, timestamp=now - 3600).status_code == 401
    assert _signed_post(client, "nobody", "s3cret-hedui", event, timestamp=now).status_code == 404
    bad = _signed_post(client, "hedui", "s3cret-hedui", {"type": "x"}, timestamp=now)
    assert bad.status_code == 422 and {"event_id", "case_id"} <= set(bad.get_json()["error"]["fields"])
    assert bad.get_json()["error"]["fields"]["event_id"] == ["此项为必填项"]  # the catalog's wording
    first = _signed_post(client, "hedui", "s3cret-hedui", event, timestamp=now)
    assert first.status_code == 200 and first.get_json()["status"] == "accepted"
    replay = _signed_post(client, "hedui", "s3cret-hedui", event, timestamp=now)
    assert replay.status_code == 200 and replay.get_json()["status"] == "duplicate"
    # The flow moved on exactly once: the survey is open and the instance no longer waits for the check.
    waiting = login("admin").get(f"process-instances/{case.instance_id}").get_json()["waiting"]
    assert all(w.get("name") != "economic_check.completed" for w in waiting)
    other = dict(event, event_id="hd-0002")
    assert _signed_post(client, "hedui", "s3cret-hedui", other, timestamp=now).status_code == 409


def test_webhooks__a_failing_event_backs_off_without_blocking_the_others(app, login):
    from sqlalchemy import select

    from engine import clock
    from engine.models import OutboxEvent, OutboxStatus
    from web.extensions import db
    from webhooks.models import WebhookSubscription
    from webhooks.outbound import Response, deliver_due

    with app.app_context():
        now = clock.now()
        db.session.add(WebhookSubscription(name="全部", url="http://127.0.0.1:9/x", secret="s" * 20,
                                           event_types=["test.*"], active=True, created_at=now))
        engine = app.extensions["jiuzhu.engine"]
        for name in ("test.broken", "test.fine", "test.fine"):
            engine.emit(db.session, name, {"n": 1}, now=now)
        db.session.commit()
        sent = []

        def post(url, body, headers):
            if headers["X-Jiuzhu-Event"] == "test.broken":
                raise RuntimeError("receiver library crashed")
            sent.append(headers["X-Jiuzhu-Event"])
            return Response(200)

        assert deliver_due(db.session, clock=clock.now, post=post) == 3
        assert sent == ["test.fine", "test.fine"]
        events = {e.event_type + str(e.id): e for e in db.session.scalars(select(OutboxEvent))}
        broken = next(e for e in events.values() if e.event_type == "test.broken")
        assert broken.status == OutboxStatus.PENDING and broken.attempts == 1 and broken.next_attempt_at > now
        assert "RuntimeError" in broken.last_error
