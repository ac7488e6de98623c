"""POST /auth/token: the OAuth2 password form in, a bearer token out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from qinglu.accounts.actions import authenticate, issue_token
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
    user = authenticate(session, form.username, form.password, request.app.state.login_limiter,
                        client)
    return TokenOut(access_token=issue_token(session, user), token_type="bearer",
                    role=user.role, holder_id=user.holder_id)
