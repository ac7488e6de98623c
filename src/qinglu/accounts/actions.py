"""Users and tokens: argon2 password hashes, expiring bearer tokens stored hashed,
and a small in-process limiter on failed sign-ins."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.accounts.models import ROLES, ApiToken, User
from qinglu.core.errors import Conflict, InvalidInput, NotAuthenticated, TooManyAttempts
from qinglu.core.principal import Principal
from qinglu.registry.actions import get_holder

TOKEN_LIFETIME = timedelta(hours=8)
_hasher = PasswordHasher()


def add_user(session: Session, *, name: str, role: str, password: str,
             holder_id: int | None = None) -> User:
    name = name.strip()
    if not name:
        raise InvalidInput("用户名不能为空", "user name must not be empty")
    if role not in ROLES:
        raise InvalidInput(f"角色 {role!r} 无效（可选 {', '.join(ROLES)}）",
                           f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InvalidInput("密码至少8位", "the password needs at least 8 characters")
    if role in ("holder", "authority") and holder_id is None:
        raise InvalidInput(f"{role} 用户须关联持有人 (--holder)",
                           f"a {role} user needs a holder (--holder)")
    if holder_id is not None:
        get_holder(session, holder_id)
    if session.scalar(select(User.id).where(User.name == name)):
        raise Conflict(f"用户 {name} 已存在", f"user {name} exists already")
    user = User(name=name, role=role, holder_id=holder_id, password_hash=_hasher.hash(password))
    session.add(user)
    session.commit()
    return user


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.name, user.role, user.holder_id)


def principal_for_token(session: Session, token: str) -> Principal:
    """Who a bearer token (or the page's session cookie, which holds one) speaks for."""
    return principal_of(user_for_token(session, token))


class LoginLimiter:
    """At most `limit` failed sign-ins per key within `window` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        with self._lock:
            recent = self._recent(key)
            if len(recent) >= self.limit:
                raise TooManyAttempts("登录失败次数过多，请稍后再试",
                                      "too many failed sign-ins; try again later")

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(time.monotonic())

    def _recent(self, key: str) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and entries[0] < time.monotonic() - self.window:
            entries.popleft()
        return entries


def authenticate(session: Session, name: str, password: str, limiter: LoginLimiter,
                 client: str = "") -> User:
    key = f"{name}|{client}"
    limiter.check(key)
    user = session.scalar(select(User).where(User.name == name))
    try:
        if user is None:
            raise VerificationError("unknown user")
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        limiter.failed(key)
        raise NotAuthenticated("用户名或密码错误", "wrong user name or password") from None
    return user


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the bearer token issued and whom it speaks for."""

    token: str
    role: str
    holder_id: int | None


def sign_in(session: Session, name: str, password: str, limiter: LoginLimiter,
            client: str = "") -> SignedIn:
    """Check the password (at most `limiter`'s failures per name and client) and issue a
    token; the API's token endpoint and the sign-in page both call this."""
    user = authenticate(session, name, password, limiter, client)
    return SignedIn(issue_token(session, user), user.role, user.holder_id)


def user_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role, "holder_id": user.holder_id}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token),
                         expires_at=datetime.now(UTC) + lifetime))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None:
        raise NotAuthenticated("令牌无效", "invalid token")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        raise NotAuthenticated("令牌已过期，请重新登录", "the token has expired; sign in again")
    user = session.get(User, row.user_id)
    if user is None:  # pragma: no cover - foreign key keeps this from happening
        raise NotAuthenticated("令牌无效", "invalid token")
    return user
