"""Users and tokens: argon2 password hashes, expiring bearer tokens stored hashed and
revocable (sign-out, disabling a user, a new password), and sign-in throttling per
name and per address counted in the database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from qinglu.accounts.models import ROLES, ApiToken, LoginFailure, User
from qinglu.core.errors import (
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)
from qinglu.core.principal import Principal
from qinglu.db.engine import begin_write
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
    _check_password(password)
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


MIN_PASSWORD_LENGTH = 12  # ASVS 2.1.1; no upper limit and no composition rules


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"密码至少{MIN_PASSWORD_LENGTH}个字符",
                           f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.name, user.role, user.holder_id)


def principal_for_token(session: Session, token: str) -> Principal:
    """Who a bearer token (or the page's session cookie, which holds one) speaks for."""
    return principal_of(user_for_token(session, token))


# Failed sign-ins allowed within LOGIN_WINDOW: per user name from any address (one
# account guessed at from many machines), and per address across names (one machine
# trying many accounts). Counted in the database: shared by workers, kept on restart.
LOGIN_WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 10
FAILURES_PER_ADDRESS = 20
FAILURES_PER_NAME_AND_ADDRESS = 5  # one machine guessing at one account
_TOO_MANY = ("登录失败次数过多，请稍后再试", "too many failed sign-ins; try again later")
_WRONG = ("用户名或密码错误", "wrong user name or password")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password: an unknown name is checked against it, so that it
    costs as much as a known name with a wrong password (no enumeration by timing)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _check_throttle(session: Session, name: str, address: str, now: datetime) -> None:
    since = now - LOGIN_WINDOW
    recent = select(func.count()).select_from(LoginFailure).where(LoginFailure.at > since)
    by_name = session.scalar(recent.where(LoginFailure.user_name == name)) or 0
    by_address = session.scalar(recent.where(LoginFailure.address == address)) or 0
    by_both = session.scalar(recent.where(LoginFailure.user_name == name,
                                          LoginFailure.address == address)) or 0
    if (by_name >= FAILURES_PER_NAME or by_address >= FAILURES_PER_ADDRESS
            or by_both >= FAILURES_PER_NAME_AND_ADDRESS):
        raise TooManyAttempts(*_TOO_MANY)


def _record_failure(session: Session, name: str, address: str, now: datetime) -> None:
    begin_write(session)
    session.add(LoginFailure(user_name=name[:100], address=address[:64], at=now))
    # Old failures no longer count; dropped here, so the table stays small.
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - LOGIN_WINDOW))
    session.commit()


def authenticate(session: Session, name: str, password: str, client: str = "") -> User:
    """The user whose name and password these are; refused (429) after too many failures
    for the name or from the address, whoever tries and wherever from."""
    now = datetime.now(UTC)
    _check_throttle(session, name, client, now)
    user = session.scalar(select(User).where(User.name == name))
    try:
        _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password)
        if user is None:  # pragma: no cover - a random password is never guessed
            raise VerificationError("unknown user")
    except (VerificationError, InvalidHashError):
        _record_failure(session, name, client, now)
        raise NotAuthenticated(*_WRONG) from None
    if user.disabled:
        raise NotAuthenticated("该用户已停用", "this user is disabled")
    return user


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the bearer token issued and whom it speaks for."""

    token: str
    role: str
    holder_id: int | None


def sign_in(session: Session, name: str, password: str, client: str = "") -> SignedIn:
    """Check the password (throttled per name and per client address) and issue a
    token; the API's token endpoint and the sign-in page both call this."""
    user = authenticate(session, name, password, client)
    return SignedIn(issue_token(session, user), user.role, user.holder_id)


def user_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "role": user.role, "holder_id": user.holder_id,
            "disabled": bool(user.disabled)}


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
    if user is None or user.disabled:  # a disabled user's tokens were revoked already
        raise NotAuthenticated("令牌无效", "invalid token")
    return user


def sign_out(session: Session, token: str) -> None:
    """Revoke the token (the page's session cookie holds one): it no longer works,
    neither as a cookie nor as a bearer token. An unknown token is no error."""
    session.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))
    session.commit()


def _user_named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"用户 {name} 不存在", f"no user named {name}")
    return user


def _revoke_all(session: Session, user: User) -> int:
    result = session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_tokens(session: Session, name: str) -> dict[str, Any]:
    """Revoke every token of the user: every session of theirs ends at once."""
    user = _user_named(session, name)
    revoked = _revoke_all(session, user)
    session.commit()
    return {**user_view(user), "revoked_tokens": revoked}


def set_disabled(session: Session, name: str, disabled: bool) -> dict[str, Any]:
    """Disable a user (its tokens are revoked: it is signed out everywhere) or enable
    it again (it then signs in anew)."""
    user = _user_named(session, name)
    user.disabled = disabled
    revoked = _revoke_all(session, user) if disabled else 0
    session.commit()
    return {**user_view(user), "revoked_tokens": revoked}


def change_password(session: Session, name: str, password: str) -> dict[str, Any]:
    """Set a new password; every token issued under the old one is revoked."""
    _check_password(password)
    user = _user_named(session, name)
    user.password_hash = _hasher.hash(password)
    revoked = _revoke_all(session, user)
    session.commit()
    return {**user_view(user), "revoked_tokens": revoked}
