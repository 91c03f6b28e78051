"""Authentication: bearer tokens for the API, the Flask session for pages; role checks for views."""
from __future__ import annotations

import functools
import time
from datetime import timedelta

from flask import current_app, g, request, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash

from engine.errors import Forbidden, InvalidInput
from workflows import messages
from workflows.models import User

from .engine_access import engine
from .errors import Unauthorized
from .extensions import db

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="jiuzhu-api-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"u": user.username})


def authenticate(username: str, password: str) -> User:
    """Check a password, counting failures; five in a row lock the account for 15 minutes."""
    now = engine().now()
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        raise Unauthorized("用户名或密码错误")
    if user.locked_until and user.locked_until > now:
        raise Unauthorized("登录失败次数过多，账户已临时锁定，请稍后再试")
    if not check_password_hash(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        db.session.commit()
        raise Unauthorized("用户名或密码错误")
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None
        db.session.commit()
    return user


def login_payload() -> tuple[str, str]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(messages.BODY_NOT_OBJECT, {"body": [messages.NOT_OBJECT]})
    fields = {}
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not username:
        fields["username"] = [messages.REQUIRED]
    if not isinstance(password, str) or not password:
        fields["password"] = [messages.REQUIRED]
    if fields:
        raise InvalidInput(messages.LOGIN_INCOMPLETE, fields)
    return username, password


def _user_from_request() -> User | None:
    header = request.headers.get("Authorization", "")
    username = None
    if header.startswith("Bearer "):
        try:
            data = _serializer().loads(header[7:].strip(),
                                       max_age=int(current_app.config["JIUZHU_TOKEN_HOURS"]) * 3600)
        except SignatureExpired as exc:
            raise Unauthorized("令牌已过期，请重新登录") from exc
        except BadSignature as exc:
            raise Unauthorized("令牌无效") from exc
        username = data.get("u") if isinstance(data, dict) else None
    elif session.get("user"):
        username = session["user"]
    if not username:
        return None
    user = _cached_user(username)
    if user is None or not user.active:
        raise Unauthorized("用户不存在或已停用")
    return user


# Users change rarely and every API call needs one; a short per-process cache saves a query per request. A
# deactivated user keeps access for at most USER_CACHE_SECONDS, like a token that has not expired yet.
USER_CACHE_SECONDS = 30.0
_user_cache: dict[str, tuple[float, User]] = {}


def _cached_user(username: str) -> User | None:
    now = time.monotonic()
    hit = _user_cache.get(username)
    if hit is not None and hit[0] > now:
        return hit[1]
    user = db.session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        _user_cache.pop(username, None)
        return None
    db.session.expunge(user)  # a detached snapshot: its attributes stay readable in any later request
    if len(_user_cache) > 10_000:
        _user_cache.clear()
    _user_cache[username] = (now + USER_CACHE_SECONDS, user)
    return user


def forget_user(username: str | None = None) -> None:
    """Drop a cached user after changing it (password, role, deactivation); no name drops them all."""
    if username is None:
        _user_cache.clear()
    else:
        _user_cache.pop(username, None)


def current_user() -> User:
    if "user" not in g:
        g.user = _user_from_request()
    if g.user is None:
        raise Unauthorized("请先登录")
    return g.user


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        current_user()
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user.role not in roles and user.role != "admin":
                raise Forbidden("当前角色无权执行此操作")
            return view(*args, **kwargs)

        return wrapped

    return decorator
