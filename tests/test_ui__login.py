"""Logging in and out in a real browser; the API docs page renders."""
import pytest

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_ui__login_wrong_password_then_right(page, screenshot):
    browser_login(page, "jd_heping", "wrong")
    assert page.locator("[role=alert]").inner_text() == "用户名或密码错误"
    screenshot(page, "login-error")
    browser_login(page, "jd_heping")
    assert "和平街道 张伟" in page.locator(".who").inner_text()
    page.click("text=退出")
    assert page.url.endswith("/login")


def test_ui__login_form_without_csrf_token_refused(client):
    response = client.post("/login", data={"username": "admin", "password": "demo"})
    assert response.status_code == 400


def test_ui__pages_need_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_ui__api_docs_page(page, screenshot):
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    assert "Jiuzhu" in page.locator(".swagger-ui .info").inner_text()
    screenshot(page, "api-docs")
