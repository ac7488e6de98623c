"""POST /auth/token: the OAuth2 password form in, a bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from qinglu.accounts.actions import sign_in
from qinglu.web.auth import SessionDep
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
    signed_in = sign_in(session, form.username, form.password, request.app.state.login_limiter,
                        client)
    return TokenOut(access_token=signed_in.token, token_type="bearer", role=signed_in.role,
                    holder_id=signed_in.holder_id)
