"""Sign-in hardening: server-side sessions (logout and idle expiry end them), cookie flags, throttling failed logins
per source instead of locking the account, atomic counting, equal timing for unknown users, security headers."""
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest

from engine.clock import SimulatedClock
from tests.scenario import advance
from tests.ui_pages import csrf_token
from web.auth import SESSION_CLOCK


def _token(client, username="jd_heping", password="demo", source="127.0.0.1"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": source})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _page_login(client, username="jd_heping", source="127.0.0.1"):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": "demo", "csrf_token": token},
                       environ_base={"REMOTE_ADDR": source})


# -- sessions -------------------------------------------------------------------------------------------------------

@pytest.fixture
def session_clock(app, monkeypatch):
    """Sessions and login throttling run on real time (web.auth.SESSION_CLOCK); tests move a simulated stand-in."""
    clock = SimulatedClock(datetime.fromisoformat("2026-03-02T09:00:00+08:00"))
    monkeypatch.setitem(app.extensions, SESSION_CLOCK, clock)
    return clock


def test_api__logout_ends_the_token(client):
    token = _token(client).get_json()["token"]
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204
    replayed = client.get("/api/v1/auth/me", headers=_bearer(token))
    assert replayed.status_code == 401
    assert replayed.get_json()["error"]["message"] == "令牌已失效，请重新登录"
    other = _token(client).get_json()["token"]  # a new login works, and is another session
    assert other != token and client.get("/api/v1/auth/me", headers=_bearer(other)).status_code == 200


def test_ui__logout_ends_the_cookie_on_the_server(app, client):
    assert _page_login(client).status_code == 302
    captured = client.get_cookie("session").value
    page = client.get("/inbox")
    assert page.status_code == 200
    logout = client.post("/logout", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert logout.status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", captured)
    replayed = thief.get("/inbox")
    assert replayed.status_code == 302 and "/login" in replayed.headers["Location"]
    assert thief.get("/api/v1/auth/me").status_code == 401


def test_ui__api_logout_from_the_page_ends_the_page_session(app, client):
    assert _page_login(client).status_code == 302
    captured = client.get_cookie("session").value
    page_token = csrf_token(client.get("/inbox").get_data(as_text=True))
    assert client.post("/api/v1/auth/logout").status_code == 403  # the cookie alone: CSRF token needed
    assert client.post("/api/v1/auth/logout", headers={"X-CSRFToken": page_token}).status_code == 204
    thief = app.test_client()
    thief.set_cookie("session", captured)
    assert thief.get("/inbox").status_code == 302


def test_api__idle_token_and_page_session_end(app, client, login, monkeypatch, session_clock):
    monkeypatch.setitem(app.config, "JIUZHU_SESSION_IDLE_MINUTES", "30")
    login("admin")  # the clock's operator logs in first and stays active
    token = _token(client, "jd_heping").get_json()["token"]
    busy = _token(client, "jd_anding").get_json()["token"]
    browser = app.test_client()
    assert _page_login(browser, "sq_heping").status_code == 302
    session_clock.advance(timedelta(minutes=20))
    assert client.get("/api/v1/auth/me", headers=_bearer(busy)).status_code == 200  # in use: stays alive
    session_clock.advance(timedelta(minutes=20))
    assert client.get("/api/v1/auth/me", headers=_bearer(busy)).status_code == 200
    idle = client.get("/api/v1/auth/me", headers=_bearer(token))
    assert idle.status_code == 401
    assert idle.get_json()["error"]["message"] == "长时间未操作，已自动退出，请重新登录"
    page = browser.get("/inbox")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert "长时间未操作" in browser.get(page.headers["Location"]).get_data(as_text=True)
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401  # and stays ended


def test_api__token_lifetime(app, client, login, monkeypatch, session_clock):
    monkeypatch.setitem(app.config, "JIUZHU_TOKEN_HOURS", "1")
    token = _token(client).get_json()["token"]
    session_clock.advance(timedelta(minutes=61))
    expired = client.get("/api/v1/auth/me", headers=_bearer(token))
    assert expired.status_code == 401 and "过期" in expired.get_json()["error"]["message"]


def test_ui__session_cookie_flags(app, client, monkeypatch):
    from web.app import cookie_settings

    response = _page_login(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert cookie_settings({"JIUZHU_HTTPS": "false"})["SESSION_COOKIE_SECURE"] is False
    secure = cookie_settings({"JIUZHU_HTTPS": "true", "JIUZHU_TOKEN_HOURS": "12"})
    assert secure["SESSION_COOKIE_SECURE"] is True
    for key, value in secure.items():
        monkeypatch.setitem(app.config, key, value)
    cookie = _page_login(app.test_client()).headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


# -- throttling -----------------------------------------------------------------------------------------------------
def test_api__failures_from_one_source_do_not_lock_the_owner_out(client, login):
    owner = login("jd_heping")  # the owner's working session
    for _ in range(5):
        assert _token(client, password="guess", source="203.0.113.7").status_code == 401
    refused = _token(client, source="203.0.113.7")  # even the right password, from the guessing source
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.get_json()["error"]["message"] == "登录失败次数过多，请 1 分钟后再试"
    assert owner.get("auth/me").status_code == 200
    assert _token(client, source="198.51.100.4").status_code == 200  # the owner, from their own desk
    page = _page_login(app_client := client.application.test_client(), source="198.51.100.5")
    assert page.status_code == 302 and app_client.get("/inbox").status_code == 200
    blocked_page = _page_login(client.application.test_client(), source="203.0.113.7")
    assert blocked_page.status_code == 429 and blocked_page.headers["Retry-After"] == "60"
    assert "分钟后再试" in blocked_page.get_data(as_text=True)


def test_api__the_wait_grows(client, login, session_clock):
    for _ in range(5):
        _token(client, password="guess", source="203.0.113.8")
    assert _token(client, password="guess", source="203.0.113.8").headers["Retry-After"] == "60"
    session_clock.advance(timedelta(seconds=61))
    for _ in range(5):
        assert _token(client, password="guess", source="203.0.113.8").status_code == 401
    second = _token(client, password="guess", source="203.0.113.8")
    assert second.status_code == 429 and second.headers["Retry-After"] == "120"
    session_clock.advance(timedelta(minutes=2, seconds=1))
    assert _token(client, source="203.0.113.8").status_code == 200  # the right password clears the source


def test_api__many_sources_on_one_account(client):
    """Twenty failures from all over make sources that failed wait; a source without failures still logs in."""
    for n in range(20):
        assert _token(client, password="guess", source=f"192.0.2.{n}").status_code == 401
    assert _token(client, password="guess", source="192.0.2.3").status_code == 429
    assert _token(client, source="192.0.2.200").status_code == 200


def test_api__unknown_users_are_throttled_alike(client):
    for _ in range(5):
        assert _token(client, "nobody", "guess", source="203.0.113.9").status_code == 401
    assert _token(client, "nobody", "guess", source="203.0.113.9").status_code == 429


def test_api__parallel_guesses_are_all_counted(live_server):
    def guess(results):
        request = urllib.request.Request(f"{live_server}/api/v1/auth/token", method="POST",
                                         data=json.dumps({"username": "jd_anding", "password": "x"}).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                results.append(response.status)
        except urllib.error.HTTPError as exc:
            results.append(exc.code)

    results: list[int] = []
    threads = [threading.Thread(target=guess, args=(results,)) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 30
    assert results.count(401) == 5 and results.count(429) == 25  # five checked, the rest refused unchecked


def test_api__unknown_and_known_users_take_as_long(client):
    def timed(username, n):
        started = time.perf_counter()
        assert _token(client, username, "wrong-password", source=f"203.0.113.{100 + n}").status_code == 401
        return time.perf_counter() - started

    timed("jd_heping", 0), timed("nobody-here", 0)  # warm-up (the dummy hash is made once per process)
    known = statistics.median(timed("jd_heping", n) for n in range(1, 6))
    unknown = statistics.median(timed("nobody-here", n) for n in range(1, 6))
    assert 0.5 < unknown / known < 2, (known, unknown)


# -- headers --------------------------------------------------------------------------------------------------------
def test_api__security_headers_on_pages_api_and_errors(client):
    for response in (client.get("/login"), client.get("/api/v1/health"), client.get("/api/v1/tasks"),
                     client.get("/no-such-page"), client.get("/api/v1/no-such-thing")):
        csp = response.headers["Content-Security-Policy"]
        for part in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'",
                     "base-uri 'self'", "form-action 'self'"):
            assert part in csp
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_ui__templates_have_no_inline_script_or_handlers():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "web" / "templates"
    for path in root.rglob("*.html"):
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert "javascript:" not in text, path.name


def test_api__moving_the_engine_clock_neither_ends_sessions_nor_prolongs_blocks(app, client, login, monkeypatch):
    """A demo's simulated clock jumps days ahead: sessions stay alive, and a login block still ends in real time."""
    monkeypatch.setitem(app.config, "JIUZHU_SESSION_IDLE_MINUTES", "30")
    monkeypatch.setitem(app.config, "JIUZHU_TOKEN_HOURS", "12")
    token = _token(client, "jd_heping").get_json()["token"]
    advance(login, "P2D")
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200
    for _ in range(5):
        _token(client, password="guess", source="203.0.113.9")
    blocked = _token(client, password="guess", source="203.0.113.9")
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "60"  # real minutes, not the demo's
