"""Green-power pages: the public register of claims with issuance and claims by month,
and a company's claim desk (a signed-in holder claims from its own account)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from qinglu.core.errors import (
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    QingluError,
    require_text,
)
from qinglu.core.principal import Principal
from qinglu.core.quantities import typed_date, typed_number
from qinglu.green import actions
from qinglu.web import pages as web_pages
from qinglu.web.filters import install as install_filters
from qinglu.web.pages import SessionDep, UserDep, check_csrf, csrf_token, language, require_user
from qinglu.web.problems import field_named, read_field

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(env=install_filters(Environment(
    loader=ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")),
                         web_pages.templates.env.loader]),  # type: ignore[list-item]
    autoescape=True)))


def _render(request: Request, template: str, user: Principal | None, status: int = 200,
            **context: Any) -> HTMLResponse:
    lang = language(request)

    def translate(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    return templates.TemplateResponse(request, template, {
        "user": user, "lang": lang, "_": translate, "csrf": csrf_token(request), **context},
        status_code=status)


@router.get("/green", response_class=HTMLResponse)
def register_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """Anyone: every claim, and certificates issued and claimed by month."""
    return _render(request, "green_register.html", user,
                   claims=actions.public_claims(session), months=actions.by_month(session))


# The desk's one notice, stated with the figures of the claim the address names (read
# from the claim itself, public in the register anyway; never words from the address).
CLAIMED = ("已核销 {certificates} 张绿证：绿电占比 {green_share}，CO2 {co2_t} t"
           "（{certificate_number}）",
           "{certificates} certificates retired: green share {green_share}, CO2 {co2_t} t "
           "({certificate_number})")
DESK_FIELDS = ("account_id", "consumer", "period_start", "period_end", "consumption_kwh",
               "certificates")


@router.get("/green/desk", response_class=HTMLResponse)
def desk_page(request: Request, session: SessionDep, user: UserDep,
              message: str | None = None, claim: int | None = None) -> HTMLResponse:
    require_user(user, "holder")
    notice = None
    if message == "claimed" and claim is not None and 0 < claim < 2**31:
        try:
            made = actions.get_claim(session, claim)
        except NotFound:
            made = None
        if made is not None:
            notice = CLAIMED[1 if language(request) == "en" else 0].format(**made)
    return _render(request, "green_desk.html", user, message=notice, form={}, errors={})


def _whole(text: str, zh: str, en: str) -> int:
    """A whole number as typed (full-width digits, spaces), from 1 to 2^31 - 1."""
    value = Decimal(typed_number(text, zh, en))
    if value != value.to_integral_value() or not 0 < value < 2**31:
        raise InvalidInput(f"{zh}须为正整数：“{text.strip()}”",
                           f"{en} must be a positive whole number: “{text.strip()}”")
    return int(value)


def _claim_field(exc: QingluError) -> str:
    """Which of the desk's fields a refusal of the claim concerns."""
    return field_named(exc, (("certificates", "certificates"), ("consumption_kwh", "consumption"),
                             ("period_end", "period"), ("consumer", "consumer"),
                             ("account_id", "account"), ("account_id", "balance")), "form")


@router.post("/green/desk", response_model=None)
async def desk_claim(request: Request, session: SessionDep, user: UserDep) -> Response:
    """Claim green power: every field read as typed; a refusal shows the form again as
    typed with the message beside its field (nothing written); the claim is stated on a
    confirmation page before it is made (retiring certificates cannot be undone); success
    redirects to the desk with the claim's notice, so a refresh never claims twice."""
    holder = require_user(user, "holder")
    form = {key: str(value) for key, value in (await request.form()).items()}
    check_csrf(request, form.pop("csrf", None))
    lang = language(request)
    errors: dict[str, str] = {}
    text = form.get

    def read(field: str, parse: Callable[[], Any]) -> Any:
        return read_field(errors, field, lang, parse)

    account = read("account_id", lambda: _whole(text("account_id", ""), "绿证账户", "account"))
    start = read("period_start", lambda: typed_date(
        text("period_start", ""), "期间开始", "period start", "2026-01-31"))
    end = read("period_end", lambda: typed_date(
        text("period_end", ""), "期间结束", "period end", "2026-01-31"))
    kwh = read("consumption_kwh", lambda: _whole(text("consumption_kwh", ""), "用电量",
                                                 "consumption"))
    count = read("certificates", lambda: _whole(text("certificates", ""), "绿证数",
                                                "certificates")
                 if text("certificates", "").strip() else None)
    consumer = read("consumer", lambda: require_text("消费者 consumer", text("consumer", "")))
    if not errors and form.get("confirmed") != "1":
        # Retiring certificates cannot be undone: say what will happen, then do it.
        asked = {"account_id": account, "consumer": consumer, "period_start": start,
                 "period_end": end, "consumption_kwh": kwh, "certificates": count}
        hidden = {key: "" if value is None else str(value) for key, value in asked.items()}
        return _render(request, "green_confirm.html", user, asked=asked, hidden=hidden)
    made = None
    if not errors:
        try:
            made = actions.claim(session, request.app.state.registry_key, holder,
                                 account_id=account, consumer=consumer,
                                 period_start=start, period_end=end, consumption_kwh=kwh,
                                 certificates=count)
        except (NotAuthenticated, Forbidden):
            raise
        except QingluError as exc:
            errors[_claim_field(exc)] = exc.en if lang == "en" else exc.zh
    if made is None:
        typed = {key: text(key, "") for key in DESK_FIELDS}
        return _render(request, "green_desk.html", user, status=422, message=None,
                       form=typed, errors=errors)
    return RedirectResponse(f"/green/desk?message=claimed&claim={made['id']}",
                            status_code=303)
