"""Login, logout and the home page that sends each role to where its work is."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from engine.errors import EngineError

from ..auth import authenticate
from .common import login_required, page_user

bp = Blueprint("pages", __name__)

# Where each role starts its day; pages that do not exist yet fall back to the API docs.
HOME_OF_ROLE = {
    "supervisor": "dashboard.index",
    "process_designer": "modeler.index",
}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would let a phishing link borrow our login page.
    if not target or urlsplit(target).netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login page; five failed attempts lock the account for 15 minutes."""
    error = None
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        if not username or not password:
            error = "请输入用户名和密码"
        else:
            try:
                user = authenticate(username, password)
            except EngineError as exc:
                error = str(exc)
            else:
                session.clear()
                session["user"] = user.username
                session.permanent = True
                return redirect(_safe_next(request.args.get("next")) or url_for("pages.home"))
    return render_template("ui/login.html", error=error, username=username), 401 if error else 200


@bp.post("/logout")
def logout():
    session.clear()
    flash("已退出登录", "info")
    return redirect(url_for("pages.login"))


@bp.get("/")
@login_required
def home():
    user = page_user()
    endpoint = HOME_OF_ROLE.get(user.role, "inbox.index")
    if endpoint in current_app.view_functions:
        return redirect(url_for(endpoint))
    return render_template("ui/home.html", user=user)
