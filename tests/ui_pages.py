"""Helpers for page tests without a browser: a logged-in test client that sends the CSRF token with its forms."""
from __future__ import annotations

import re

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class PageClient:
    """login as a demo user through the login form; `post` adds the session's CSRF token."""

    def __init__(self, app, username: str | None = None, password: str = "demo"):
        self.client = app.test_client()
        self.token = csrf_token(self.client.get("/login").get_data(as_text=True))
        if username:
            response = self.client.post("/login", data={"username": username, "password": password,
                                                        "csrf_token": self.token})
            assert response.status_code == 302, response.get_data(as_text=True)
            # Logging in starts a new session: take its token from the layout's logout form.
            self.token = csrf_token(self.client.get("/notice").get_data(as_text=True))

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data=None, *, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(path, data=data, **kwargs)

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def add_user(app, username: str, display_name: str, role: str, street: str | None = None,
             community: str | None = None) -> None:
    """Another member of staff (password demo), e.g. a second clerk of a street to hand tasks over to."""
    from werkzeug.security import generate_password_hash

    from web.extensions import db
    from workflows.models import User

    with app.app_context():
        db.session.add(User(username=username, display_name=display_name, role=role, district="示范区",
                            street=street, community=community, password_hash=generate_password_hash("demo"),
                            active=True, failed_logins=0))
        db.session.commit()


def error_for(html: str, field: str) -> list[str]:
    """The messages shown next to a field (the pages mark them with data-error-for)."""
    return re.findall(rf'data-error-for="{re.escape(field)}" role="alert">([^<]*)<', html)
