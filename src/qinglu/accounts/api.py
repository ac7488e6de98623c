"""POST /auth/token: the OAuth2 password form in, a bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm
from pydantic import BaseModel

from qinglu.accounts.actions import sign_in, sign_out
from qinglu.web.auth import PrincipalDep, SessionDep, bearer, require_signed_in
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["auth"], responses=PROBLEM_RESPONSES)


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    role: str
    holder_id: int | None


@router.post("/auth/token", response_model=TokenOut)
def token(request: Request, session: SessionDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    client = request.client.host if request.client else ""
    signed_in = sign_in(session, form.username, form.password, client)
    return TokenOut(access_token=signed_in.token, token_type="bearer", role=signed_in.role,
                    holder_id=signed_in.holder_id)


@router.post("/auth/logout", status_code=204, response_class=Response)
def logout(session: SessionDep, who: PrincipalDep,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
           ) -> Response:
    """Revoke the bearer token this request carries: it no longer works anywhere."""
    require_signed_in(who)
    assert credentials is not None  # a signed-in caller came with its token
    sign_out(session, credentials.credentials)
    return Response(status_code=204)
