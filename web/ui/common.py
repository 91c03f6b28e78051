"""Helpers for pages: the logged-in user from the session, role guards that redirect to the login page."""
from __future__ import annotations

import functools

from flask import flash, g, redirect, request, url_for
from sqlalchemy import select

from workflows.models import User

from ..auth import page_session_error, page_username
from ..extensions import db


def page_user() -> User | None:
    """The user of the live page session (server-side: logged out, idle or expired sessions give None)."""
    if "page_user" not in g:
        username = page_username()
        g.page_user = db.session.scalars(select(User).where(User.username == username)).first() \
            if username else None
        if g.page_user is not None and not g.page_user.active:
            g.page_user = None
    return g.page_user


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if page_user() is None:
            ended = page_session_error()
            if ended:
                flash(ended, "info")
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
