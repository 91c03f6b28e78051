"""A 低保 case driven through the REST API with the served forms' valid data, for the real-flow benchmarks.

`Api` is anything with `call(method, path, body=None) -> (status, json)` and a bearer token per user
(bench.throughput.Client over a socket, or `FlaskApi` over the Flask test client). The steps and payloads are the
ones people type into the pages (see workflows/forms and tests/scenario.py, which the benchmarks must not import):
apply → 受理 → 近亲属备案 → 入户调查 → the verification centre's economic-check message → 民主评议 → 街道审核 →
公示 (the notice timer, fired when the simulated clock passes it) → 入户抽查 if selected → 审批 → 发放设置.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"
_serial = itertools.count(1)
_serial_lock = threading.Lock()

STREET_STAFF = {
    "和平街道": {"clerk": "jd_heping", "lead": "jd_heping_lead", "community": "sq_heping", "where": "和平里社区"},
    "安定街道": {"clerk": "jd_anding", "lead": "jd_anding_lead", "community": "sq_anding", "where": "安定门社区"},
}


def id_number(n: int, *, born: date, female: bool = False) -> str:
    """A valid 18-digit ID (GB 11643-1999 checksum); a fresh `n` and birth day give a number no demo case uses."""
    seq = (n * 2 + (0 if female else 1)) % 1000
    body = f"110108{born.strftime('%Y%m%d')}{seq:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + CHECK[total % 11]


def application(street: str, income: float = 800.0) -> dict:
    with _serial_lock:
        n = next(_serial)
    born = date(1960, 1, 1) + timedelta(days=n % 9000)
    child_born = date(2012, 1, 1) + timedelta(days=n % 2000)
    applicant = {"name": "张三", "id_number": id_number(n, born=born), "relation": "本人",
                 "birth_date": born.isoformat(), "work_capacity": "partial"}
    child = {"name": "张小", "id_number": id_number(n + 500, born=child_born), "relation": "子女",
             "birth_date": child_born.isoformat(), "work_capacity": "none"}
    return {"program": "dibao", "street": street, "community": STREET_STAFF[street]["where"],
            "applicant": {"name": "张三", "id_number": applicant["id_number"], "phone": "13800000000"},
            "household": {"members": [applicant, child], "monthly_income": income, "assets": {"savings": 1000}}}


Timings = dict[str, list[float]]


class Case:
    """One case; `api(username)` gives that user's logged-in client; every call's latency lands in `timings`."""

    def __init__(self, api: Callable[[str], object], street: str, timings: Timings, lock: threading.Lock):
        self.api, self.staff, self.timings, self._lock = api, STREET_STAFF[street], timings, lock
        body = self._call("apply", self.staff["community"], "POST", "/api/v1/cases", application(street), 201)
        self.id, self.instance_id = body["id"], body["process_instance_id"]

    def _call(self, label: str, user: str, method: str, path: str, body=None, expect: int = 200) -> dict:
        started = time.perf_counter()
        status, answer = self.api(user).call(method, path, body)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        with self._lock:
            self.timings.setdefault(label, []).append(elapsed)
        if status != expect:
            raise RuntimeError(f"{label}: {status} {answer}")
        return answer

    def open_task(self, element_id: str, user: str) -> dict:
        items = self._call("inbox", user, "GET", f"/api/v1/tasks?case_id={self.id}&view=all")["items"]
        for task in items:
            if task["element_id"] == element_id:
                return task
        raise RuntimeError(f"case {self.id}: no open {element_id} for {user}: {[t['element_id'] for t in items]}")

    def complete(self, element_id: str, user: str, data: dict) -> None:
        task = self.open_task(element_id, user)
        if task["assignee"] is None:
            self._call("claim", user, "POST", f"/api/v1/tasks/{task['id']}/claim")
        self._call(element_id, user, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})

    def through_street(self, income: float = 800.0) -> None:
        clerk = self.staff["clerk"]
        self.complete("accept", clerk, {"decision": "accept", "opinion": "材料齐全"})
        self.complete("relatives_check", clerk, {"relatives_filed": False})
        self.complete("household_survey", clerk, {
            "investigators": ["张伟", "李强"], "income_items": [{"type": "wage", "amount": income}],
            "findings": "家庭情况属实", "visited_on": "2026-03-03"})
        self._call("economic_check", "admin", "POST", f"/api/v1/process-instances/{self.instance_id}/messages", {
            "name": "economic_check.completed",
            "payload": {"passed": True, "monthly_income": income, "findings": "核对无异常"}})
        self.complete("appraisal", self.staff["community"], {
            "representatives_present": 9, "representatives_total": 12, "result": "pass", "opinion": "同意"})
        self.complete("street_review", self.staff["lead"], {"decision": "approve", "opinion": "同意上报"})

    def through_district(self) -> None:
        tasks = {t["element_id"] for t in self._call("case", "admin", "GET", f"/api/v1/cases/{self.id}")["tasks"]}
        if "spot_check" in tasks:
            self.complete("spot_check", "qu_inspector", {
                "visited_on": "2026-03-20", "visitors": ["赵磊", "钱进"], "conclusion": "confirm", "findings": "属实"})
        self.complete("approval", "qu_approver", {"decision": "approve", "opinion": "同意"})
        self.complete("payment_setup", "cz_payer", {"bank_name": "北京银行", "account_number": "6222000011112222"})

    def status(self) -> str:
        return self._call("case", "admin", "GET", f"/api/v1/cases/{self.id}")["status"]


def advance_clock(api: Callable[[str], object], duration: str) -> dict:
    status, body = api("admin").call("POST", "/api/v1/admin/clock", {"advance": duration})  # type: ignore[attr-defined]
    if status != 200:
        raise RuntimeError(f"advance clock: {status} {body}")
    return body


class FlaskApi:
    """The same `call` over the Flask test client (no socket), for benchmarks that run the app in-process."""

    def __init__(self, client, token: str | None = None):
        self.client, self.token = client, token

    def call(self, method: str, path: str, body=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.client.open(path, method=method, json=body, headers=headers)
        return response.status_code, response.get_json(silent=True)


def logins(make: Callable[[str | None], object]) -> Callable[[str], object]:
    """`api(username)`: a client logged in as that demo user (password demo), made once per user."""
    clients: dict[str, object] = {}
    lock = threading.Lock()

    def api(username: str):
        with lock:
            if username not in clients:
                status, body = make(None).call("POST", "/api/v1/auth/token",  # type: ignore[attr-defined]
                                               {"username": username, "password": "demo"})
                if status != 200:
                    raise RuntimeError(f"login {username}: {status} {body}")
                clients[username] = make(body["token"])
            return clients[username]

    return api
