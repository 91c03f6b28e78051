"""In a real browser: the main pages run under the Content-Security-Policy without console errors or CSP
violations; logging out ends the session on the server."""
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from tests.scenario import Dibao

pytestmark = pytest.mark.browser


# Known and harmless: bpmn-js warns that `keyboard.bindTo` is deprecated (the modeler bundle's configuration).
KNOWN = re.compile(r"unsupported configuration <keyboard\.bindTo>")


def _console_errors(page) -> list[str]:
    """Console errors (CSP violations are reported there too), uncaught exceptions and failed requests; a failed
    load shows up as its own response below, so the console's generic 'Failed to load resource' is skipped."""
    errors: list[str] = []

    def on_console(message):
        if message.type == "error" and not KNOWN.search(message.text) \
                and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return errors


def test_ui__main_pages_run_under_the_csp_without_console_errors(page, login):
    case = Dibao(login)
    errors = _console_errors(page)
    page.goto("/login")
    browser_login(page, "admin")
    page.goto("/inbox")
    page.goto("/cases")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#diagram[data-rendered=true]")).to_be_visible(timeout=15_000)
    page.goto("/dashboard/")
    page.wait_for_selector("text=督办看板")
    page.goto("/modeler/edit?key=dibao")
    page.wait_for_selector("body[data-modeler-ready='1']", timeout=30_000)
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    page.goto(f"/tasks/{case.open_task('accept', 'jd_heping')['id']}")
    assert not [e for e in errors if re.search(r"Content Security Policy|Refused to", e)], errors
    assert errors == [], errors


def test_ui__logout_in_the_browser_ends_the_session(page, browser):
    browser_login(page, "jd_heping")
    cookies = page.context.cookies()
    page.click("text=退出")
    assert page.url.endswith("/login")
    thief = browser.new_context(base_url=page.url.rsplit("/login", 1)[0])
    thief.add_cookies(cookies)
    other = thief.new_page()
    other.goto("/inbox")
    assert "/login" in other.url
    thief.close()
