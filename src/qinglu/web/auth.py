"""FastAPI dependencies shared by every route: the request's session, who is calling
(bearer tokens for the API), role checks, and the app's clock.

What a caller may see or do with a given record is decided by the actions, which take
the principal (e.g. `registry.actions.account_of`); only plumbing lives here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from qinglu.accounts.actions import principal_for_token
from qinglu.core.errors import Forbidden, NotAuthenticated
from qinglu.core.principal import ANONYMOUS, Principal
from qinglu.web.deps import get_session, release

bearer = HTTPBearer(auto_error=False, description="POST /api/v1/auth/token for a token")
SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """API callers are identified by bearer token only (never by the page cookie, so a
    forged cross-site form cannot act through the API)."""
    if credentials is None:
        return ANONYMOUS
    try:
        return principal_for_token(session, credentials.credentials)
    finally:
        release(session)  # before this thread is handed back (see get_session)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_signed_in(principal: Principal) -> Principal:
    if principal.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    return principal


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (401 for the anonymous public)."""

    def check(principal: PrincipalDep) -> Principal:
        require_signed_in(principal)
        if principal.role not in roles:
            raise Forbidden(f"角色 {principal.role} 无权执行此操作",
                            f"role {principal.role} may not do this")
        return principal

    return check


OperatorDep = Annotated[Principal, Depends(require("operator"))]


def app_clock(request: Request) -> datetime | None:
    """The app's own clock when one is set (`app.state.clock`: tests fix the time); None
    lets each action read the wall clock itself."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else None


NowDep = Annotated[datetime | None, Depends(app_clock)]
