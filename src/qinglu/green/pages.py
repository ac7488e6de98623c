"""Green-power pages: the public register of claims with issuance and claims by month,
and a company's claim desk (a signed-in holder claims from its own account)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from qinglu.core.errors import QingluError
from qinglu.core.principal import Principal
from qinglu.green import actions
from qinglu.web import pages as web_pages
from qinglu.web.filters import install as install_filters
from qinglu.web.pages import SessionDep, UserDep, check_csrf, csrf_token, language, require_user

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(env=install_filters(Environment(
    loader=ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")),
                         web_pages.templates.env.loader]),  # type: ignore[list-item]
    autoescape=True)))


def _render(request: Request, template: str, user: Principal | None, **context: Any
            ) -> HTMLResponse:
    lang = language(request)

    def translate(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return templates.TemplateResponse(request, template, {
        "user": user, "lang": lang, "_": translate, "csrf": csrf_token(request), **context})


@router.get("/green", response_class=HTMLResponse)
def register_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """Anyone: every claim, and certificates issued and claimed by month."""
    return _render(request, "green_register.html", user,
                   claims=actions.public_claims(session), months=actions.by_month(session))


@router.get("/green/desk", response_class=HTMLResponse)
def desk_page(request: Request, session: SessionDep, user: UserDep,
              message: str | None = None) -> HTMLResponse:
    require_user(user, "holder")
    return _render(request, "green_desk.html", user, message=message)


@router.post("/green/desk", response_class=HTMLResponse)
def desk_claim(
    request: Request, session: SessionDep, user: UserDep,
    account_id: Annotated[int, Form()], consumer: Annotated[str, Form()],
    period_start: Annotated[date, Form()], period_end: Annotated[date, Form()],
    consumption_kwh: Annotated[int, Form()],
    certificates: Annotated[int | None, Form()] = None,
    csrf: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    holder = require_user(user, "holder")
    check_csrf(request, csrf)
    try:
        made = actions.claim(session, request.app.state.registry_key, holder,
                             account_id=account_id, consumer=consumer,
                             period_start=period_start, period_end=period_end,
                             consumption_kwh=consumption_kwh, certificates=certificates)
        message = (f"已核销 {made['certificates']} 张绿证 / {made['certificates']} certificates "
                   f"retired: {made['green_share']}, CO2 {made['co2_t']} t "
                   f"({made['certificate_number']})")
    except QingluError as exc:
        message = exc.message
    return desk_page(request, session, user, message=message)
