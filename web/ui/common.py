"""Helpers for pages: the logged-in user from the session, role guards that redirect to the login page."""
from __future__ import annotations

import functools

from flask import flash, g, redirect, request, session, url_for
from sqlalchemy import select

from workflows.models import User

from ..extensions import db


def page_user() -> User | None:
    if "page_user" not in g:
        username = session.get("user")
        g.page_user = db.session.scalars(select(User).where(User.username == username)).first() \
            if username else None
        if g.page_user is not None and not g.page_user.active:
            g.page_user = None
    return g.page_user


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if page_user() is None:
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str):
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            user = page_user()
            if user.role not in roles and user.role != "admin":
                flash("当前角色无权访问该页面", "error")
                return redirect(url_for("pages.home"))
            return view(*args, **kwargs)

        return wrapped

    return decorator
