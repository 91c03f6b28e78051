"""Login, logout and the home page that sends each role to where its work is."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from engine.errors import EngineError

from ..auth import TooManyAttempts, authenticate, end_session, start_page_session
from .common import login_required, page_user
from .links import safe_next

bp = Blueprint("pages", __name__)

# Where each role starts its day; pages that do not exist yet fall back to the API docs.
HOME_OF_ROLE = {
    "supervisor": "dashboard.index",
    "process_designer": "modeler.index",
}


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The login page; repeated failures from one address make that address wait (429), never the account."""
    error = None
    status = 200
    headers = {}
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        if not username or not password:
            error = "请输入用户名和密码"
        else:
            try:
                user = authenticate(username, password)
            except TooManyAttempts as exc:
                error, status, headers = str(exc), 429, {"Retry-After": str(exc.retry_after)}
            except EngineError as exc:
                error, status = str(exc), 401
            else:
                start_page_session(user)
                return redirect(safe_next(request.args.get("next")) or url_for("pages.home"))
        if error and status == 200:
            status = 401
    return render_template("ui/login.html", error=error, username=username), status, headers


@bp.post("/logout")
def logout():
    """Ends the page session on the server: the old cookie, replayed, no longer logs anyone in."""
    end_session(session.get("sid"))
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
