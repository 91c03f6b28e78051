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


def test_ui__session_api_writes_need_the_csrf_token(app, login):
    """The login cookie alone must not let another site make API writes on the user's behalf."""
    from tests.scenario import Dibao
    from tests.ui_pages import csrf_token

    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    browser = app.test_client()
    token = csrf_token(browser.get("/login").get_data(as_text=True))
    assert browser.post("/login", data={"username": "jd_heping", "password": "demo", "csrf_token": token}
                        ).status_code == 302
    assert browser.get(f"/api/v1/tasks/{task['id']}").status_code == 200  # reads are fine
    assert browser.post(f"/api/v1/tasks/{task['id']}/claim").status_code == 403
    page_token = csrf_token(browser.get("/inbox").get_data(as_text=True))
    claimed = browser.post(f"/api/v1/tasks/{task['id']}/claim", headers={"X-CSRFToken": page_token})
    assert claimed.status_code == 200
