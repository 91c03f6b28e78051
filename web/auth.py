"""Authentication: server-side sessions for pages (cookie) and the API (bearer token); login throttling; role
checks for views.

A session is a `user_sessions` row. The client holds a random id (in the signed Flask cookie for pages, inside the
signed bearer token for the API); the row keeps only its SHA-256, so a database dump yields no usable credential.
Logging out, `JIUZHU_SESSION_IDLE_MINUTES` without a request or the end of `JIUZHU_TOKEN_HOURS` end a session for
good: a replayed cookie or token is refused. `last_seen_at` is written at most once a minute (not per request).

Failed logins are counted per (account, source address) and per account, each with one atomic UPDATE … RETURNING
before the password is checked, so parallel guesses cannot slip past the count. Five failures from one source
refuse that source for that account for one minute, then two, four … up to an hour (429 with Retry-After); many
failures on an account from everywhere refuse only sources that already failed on it. Nobody else's guesses lock a
user out: their sessions keep working and a login from a source without failures goes through. Unknown users get
the same work (a dummy hash with the same work factor, the same counters), so timing does not tell names apart.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
import time
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import EngineError, Forbidden, InvalidInput
from workflows import messages
from workflows.models import LoginAttempt, User, UserSession

from .errors import Unauthorized
from .extensions import db

log = logging.getLogger(__name__)

# -- throttling ---------------------------------------------------------------------------------------------------
SOURCE_LIMIT = 5  # failures from one source on one account before that source waits
ACCOUNT_LIMIT = 20  # failures on one account from all sources before sources that failed on it wait
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)
ACCOUNT_DELAY = timedelta(minutes=15)
TOUCH_EVERY = timedelta(minutes=1)
SESSION_CLOCK = "jiuzhu.session_clock"  # app.extensions key of the clock sessions and throttling run on

PAGE, API = "page", "api"


class TooManyAttempts(EngineError):
    """429: this source must wait before trying this account again."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int):
        self.retry_after = max(1, retry_after)
        minutes = math.ceil(self.retry_after / 60)
        super().__init__(f"登录失败次数过多，请 {minutes} 分钟后再试")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="jiuzhu-api-token")


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _idle() -> timedelta:
    return timedelta(minutes=float(current_app.config.get("JIUZHU_SESSION_IDLE_MINUTES") or 30))


def _lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config.get("JIUZHU_TOKEN_HOURS") or 12))


def _now() -> datetime:
    # Sessions and login throttling run on real time even when the engine runs a simulated clock (demos, capacity
    # simulation): a block must end by itself and moving the process clock must not log everyone out. The clock is
    # an app extension (the system clock, set by create_app) so tests can put a movable one in its place.
    return current_app.extensions[SESSION_CLOCK].now()


# -- sessions -------------------------------------------------------------------------------------------------------
def open_session(user: User, kind: str) -> str:
    """Start a session for a user and return its random id (the only copy: the row stores its hash)."""
    now = _now()
    raw = secrets.token_urlsafe(32)
    db.session.add(UserSession(token_hash=_digest(raw), user_id=user.id, kind=kind, created_at=now,
                               last_seen_at=now, expires_at=now + _lifetime()))
    db.session.commit()
    return raw


def issue_token(user: User) -> str:
    return _serializer().dumps({"s": open_session(user, API)})


def start_page_session(user: User) -> None:
    """Log a browser in: a fresh cookie (no fixation) that carries only the session id (and Flask-WTF's token)."""
    raw = open_session(user, PAGE)
    session.clear()
    session["sid"] = raw
    session.permanent = True


def page_session_id(username: str) -> str:
    """Tests and benchmarks: a page session id for a user, to put into a test client's cookie as `sid`."""
    user = db.session.scalars(select(User).where(User.username == username)).one()
    return open_session(user, PAGE)


def end_session(raw: str | None) -> None:
    if not raw:
        return
    db.session.execute(update(UserSession).where(UserSession.token_hash == _digest(raw),
                                                 UserSession.revoked_at.is_(None))
                       .values(revoked_at=_now()))
    db.session.commit()


def token_session_id(token: str) -> str:
    try:
        data = _serializer().loads(token)
    except BadSignature as exc:
        raise Unauthorized("令牌无效") from exc
    raw = data.get("s") if isinstance(data, dict) else None
    if not isinstance(raw, str):
        raise Unauthorized("令牌无效，请重新登录")
    return raw


def _session_username(raw: str, kind: str) -> str:
    """The user of a live session; refuses ended, expired and idle ones (ending the latter two for good)."""
    row = db.session.execute(
        select(UserSession.id, UserSession.last_seen_at, UserSession.expires_at, UserSession.revoked_at,
               User.username)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _digest(raw), UserSession.kind == kind)).first()
    again = "令牌" if kind == API else "登录"
    if row is None or row.revoked_at is not None:
        raise Unauthorized(f"{again}已失效，请重新登录")
    now = _now()
    if row.expires_at <= now or now - row.last_seen_at >= _idle():
        db.session.execute(update(UserSession).where(UserSession.id == row.id).values(revoked_at=now))
        db.session.commit()
        if row.expires_at <= now:
            raise Unauthorized(f"{again}已过期，请重新登录")
        raise Unauthorized("长时间未操作，已自动退出，请重新登录")
    if now - row.last_seen_at >= TOUCH_EVERY:
        # At most one write a minute per session; the conditional UPDATE lets parallel requests race harmlessly.
        try:
            db.session.execute(update(UserSession).where(UserSession.id == row.id,
                                                         UserSession.last_seen_at == row.last_seen_at)
                               .values(last_seen_at=now))
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("could not record session activity", exc_info=True)
    return row.username


def load_identity() -> None:
    """Resolve the request's credentials once, before the view runs (so the activity write commits nothing else).

    Errors are kept and raised only where a view asks for the user: an expired token does not break /health.
    """
    if "identity" in g:
        return
    header = request.headers.get("Authorization", "")
    identity: tuple[str, str | None] | EngineError | None = None
    try:
        if header.startswith("Bearer "):
            identity = (API, _session_username(token_session_id(header[7:].strip()), API))
        elif session.get("sid"):
            identity = (PAGE, _session_username(session["sid"], PAGE))
    except Unauthorized as exc:
        identity = exc
        if not header.startswith("Bearer "):
            session.pop("sid", None)  # the browser drops a dead cookie
    g.identity = identity


def _identity():
    load_identity()
    return g.identity


# -- logging in -----------------------------------------------------------------------------------------------------
_dummy_hash: str | None = None


def _dummy() -> str:
    # Hashed once per process with the same method and work factor as real passwords (werkzeug's default).
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash(secrets.token_hex(16))
    return _dummy_hash


def _key(prefix: str, *parts: str) -> str:
    # Hashed: usernames of any length fit, and the table holds no names or addresses.
    return f"{prefix}:{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()}"


def _insert_ignoring_duplicates(values: dict) -> bool:
    dialect_insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    inserted = db.session.execute(dialect_insert(LoginAttempt).values(**values)
                                  .on_conflict_do_nothing(index_elements=["key"])
                                  .returning(LoginAttempt.key)).first()
    return inserted is not None


def _retry_after(until: datetime, now: datetime) -> int:
    return math.ceil((until - now).total_seconds())


def _count_attempt(key: str, now: datetime) -> tuple[int, int]:
    """Count one attempt from a source before its password is checked; (failures so far, strikes). Atomic: one
    UPDATE … RETURNING (or the first INSERT), so N parallel attempts get N different numbers."""
    table = LoginAttempt
    for _ in range(3):
        row = db.session.execute(
            update(table).where(table.key == key, (table.blocked_until.is_(None)) | (table.blocked_until <= now))
            .values(failures=table.failures + 1, last_failure_at=now)
            .returning(table.failures, table.strikes)
            .execution_options(synchronize_session=False)).first()
        if row is not None:
            db.session.commit()
            return row.failures, row.strikes
        if _insert_ignoring_duplicates({"key": key, "failures": 1, "strikes": 0, "last_failure_at": now}):
            db.session.commit()
            return 1, 0
        until = db.session.scalar(select(table.blocked_until).where(table.key == key))
        db.session.commit()
        if until is not None and until > now:
            raise TooManyAttempts(_retry_after(until, now))
    raise TooManyAttempts(60)  # pragma: no cover - the row kept changing under us


def _block(key: str, now: datetime, strikes: int) -> None:
    delay = min(FIRST_DELAY * (2 ** min(strikes, 16)), MAX_DELAY)
    table = LoginAttempt
    db.session.execute(
        update(table).where(table.key == key, (table.blocked_until.is_(None)) | (table.blocked_until <= now))
        .values(blocked_until=now + delay, strikes=table.strikes + 1, failures=0)
        .execution_options(synchronize_session=False))
    db.session.commit()
    until = db.session.scalar(select(table.blocked_until).where(table.key == key))
    db.session.commit()
    raise TooManyAttempts(_retry_after(until, now) if until else int(delay.total_seconds()))


def _count_account_failure(key: str, now: datetime) -> None:
    table = LoginAttempt
    failures = db.session.scalar(
        update(table).where(table.key == key).values(failures=table.failures + 1, last_failure_at=now)
        .returning(table.failures).execution_options(synchronize_session=False))
    if failures is None and not _insert_ignoring_duplicates(
            {"key": key, "failures": 1, "strikes": 0, "last_failure_at": now}):
        failures = db.session.scalar(  # inserted by a parallel attempt just now
            update(table).where(table.key == key).values(failures=table.failures + 1, last_failure_at=now)
            .returning(table.failures).execution_options(synchronize_session=False))
    if failures is not None and failures >= ACCOUNT_LIMIT:
        db.session.execute(update(table).where(table.key == key)
                           .values(blocked_until=now + ACCOUNT_DELAY, failures=0, strikes=table.strikes + 1)
                           .execution_options(synchronize_session=False))
    db.session.commit()


def source_address() -> str:
    return (request.remote_addr if has_request_context() else None) or "-"


def authenticate(username: str, password: str, source: str | None = None) -> User:
    """Check a password, throttling failures per (account, source) and per account; see the module docstring."""
    now = _now()
    source = source or source_address()
    source_key, account_key = _key("s", username, source), _key("a", username)
    failures, strikes = _count_attempt(source_key, now)
    if failures > SOURCE_LIMIT:
        _block(source_key, now, strikes)
    if failures > 1 or strikes:  # this source already failed on this account: an account-wide block applies to it
        until = db.session.scalar(select(LoginAttempt.blocked_until).where(LoginAttempt.key == account_key))
        if until is not None and until > now:
            db.session.commit()
            raise TooManyAttempts(_retry_after(until, now))
    user = db.session.scalars(select(User).where(User.username == username)).first()
    known = user is not None and user.active
    # Unknown and inactive users get the same hash work, so timing does not reveal which names exist.
    if not check_password_hash(user.password_hash if known else _dummy(), password) or not known:
        _count_account_failure(account_key, now)
        raise Unauthorized("用户名或密码错误")
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.key == source_key))
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
    identity = _identity()
    if identity is None:
        return None
    if isinstance(identity, EngineError):
        raise identity
    user = _cached_user(identity[1])
    if user is None or not user.active:
        raise Unauthorized("用户不存在或已停用")
    return user


def page_username() -> str | None:
    """The user of the page session cookie (not of a bearer token), or None when there is no live one."""
    identity = _identity()
    if isinstance(identity, tuple) and identity[0] == PAGE:
        return identity[1]
    return None


def page_session_error() -> str | None:
    identity = _identity()
    return str(identity) if isinstance(identity, EngineError) and not request.headers.get(
        "Authorization", "").startswith("Bearer ") else None


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
