"""Who is calling: bearer tokens for the API; role checks shared by every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from qinglu.accounts.actions import principal_of, user_for_token
from qinglu.core.errors import Forbidden, NotAuthenticated
from qinglu.core.principal import ANONYMOUS, Principal
from qinglu.registry.actions import get_account
from qinglu.registry.models import Account
from qinglu.web.deps import get_session

bearer = HTTPBearer(auto_error=False, description="POST /api/v1/auth/token for a token")
SessionDep = Annotated[Session, Depends(get_session)]


def current_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """API callers are identified by bearer token only (never by the page cookie, so a
    forged cross-site form cannot act through the API)."""
    if credentials is not None:
        return principal_of(user_for_token(session, credentials.credentials))
    return ANONYMOUS


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that admits only the given roles (401 for the anonymous public)."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role is None:
            raise NotAuthenticated("请先登录", "sign in first")
        if principal.role not in roles:
            raise Forbidden(f"角色 {principal.role} 无权执行此操作",
                            f"role {principal.role} may not do this")
        return principal

    return check


def ensure_owns_account(session: Session, principal: Principal, account_id: int) -> Account:
    """Operators may act on any account; a holder only on its own."""
    account = get_account(session, account_id)
    if principal.role == "operator":
        return account
    if principal.role == "holder" and account.holder_id == principal.holder_id:
        return account
    raise Forbidden(f"无权操作账户 {account_id}", f"you may not move units of account {account_id}")


OperatorDep = Annotated[Principal, Depends(require("operator"))]
