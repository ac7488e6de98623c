"""Web pages (Jinja2 + htmx): Chinese by default, English on request.

Signed-in users carry an HttpOnly session cookie holding an API token; every
form and htmx request carries a CSRF token derived from it (HMAC), checked on
each POST. The JSON API never accepts the cookie, only bearer tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.accounts.actions import authenticate, issue_token, principal_of, user_for_token
from qinglu.cases import actions as case_service
from qinglu.cases.models import Case
from qinglu.cases.report import render_case_report
from qinglu.core.errors import Forbidden, NotAuthenticated, QingluError
from qinglu.core.identifiers import region_name
from qinglu.core.principal import Principal
from qinglu.core.quantities import format_quantity, parse_quantity
from qinglu.core.serials import format_serial
from qinglu.documents import actions as documents
from qinglu.market import prices
from qinglu.methods.fire import CATEGORY_NAMES, FireInput
from qinglu.registry import actions as registry
from qinglu.registry import stats
from qinglu.registry.models import Account, Holder, Issuance, Project
from qinglu.web.deps import get_session

SESSION_COOKIE = "qinglu_session"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)
SessionDep = Annotated[Session, Depends(get_session)]


def page_user(request: Request, session: SessionDep) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return principal_of(user_for_token(session, token))
    except NotAuthenticated:
        return None


UserDep = Annotated[Principal | None, Depends(page_user)]


def csrf_token(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE, "anonymous")
    secret: bytes = request.app.state.web_secret
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, csrf_token(request)):
        raise Forbidden("表单已过期，请刷新页面重试", "the form expired; reload the page and retry")


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if lang == "en" else "zh"


def render(request: Request, template: str, user: Principal | None, status: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)

    def translate(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    response = templates.TemplateResponse(
        request, template,
        {"user": user, "lang": lang, "_": translate, "csrf": csrf_token(request), **context},
        status_code=status,
    )
    if request.query_params.get("lang"):
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "dashboard.html", user, totals=stats.totals(session),
                  daily=prices.recent(session))


@router.get("/projects", response_class=HTMLResponse)
def projects(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    rows = []
    for project in session.scalars(select(Project).order_by(Project.id)):
        issuances = session.scalars(
            select(Issuance).where(Issuance.project_id == project.id).order_by(Issuance.id)
        ).all()
        rows.append({"project": project, "region": region_name(project.region),
                     "issuances": [{"vintage": i.vintage,
                                    "quantity": format_quantity(i.product, i.quantity),
                                    "serial": format_serial(
                                        i.product, project.region, project.id, i.vintage,
                                        i.serial_start, i.serial_end)}
                                   for i in issuances]})
    return render(request, "projects.html", user, projects=rows)


@router.get("/retirements", response_class=HTMLResponse)
def retirements(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "retirements.html", user,
                  retirements=stats.recent_retirements(session))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, user: UserDep,
           serial: str = "") -> HTMLResponse:
    found, error = [], None
    if serial:
        try:
            found = registry.find_serial(session, serial)
        except QingluError as exc:
            error = exc.zh if language(request) == "zh" else exc.en
    template = "_serial_result.html" if request.headers.get("HX-Request") else "search.html"
    return render(request, template, user, serial=serial, found=found, error=error)


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, session: SessionDep, user: UserDep,
                number: str = "") -> HTMLResponse:
    result = _verify(request, session, number.strip(), None) if number.strip() else None
    return render(request, "verify.html", user, number=number, result=result)


@router.get("/verify/{number}", response_class=HTMLResponse)
def verify_link(request: Request, number: str, session: SessionDep, user: UserDep,
                p: str | None = None) -> HTMLResponse:
    """Where a certificate's QR code leads: the number and its signed payload."""
    return render(request, "verify.html", user, number=number,
                  result=_verify(request, session, number, p))


def _verify(request: Request, session: Session, number: str,
            payload: str | None) -> documents.Verification:
    return documents.verify_certificate(session, request.app.state.registry_key, number=number,
                                      payload=payload)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: UserDep) -> HTMLResponse:
    return render(request, "login.html", user, error=None)


@router.post("/login", response_model=None)
def login(request: Request, session: SessionDep,
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf: Annotated[str | None, Form()] = None) -> Response:
    check_csrf(request, csrf)
    client = request.client.host if request.client else ""
    try:
        found = authenticate(session, username, password, request.app.state.login_limiter,
                             client)
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return render(request, "login.html", None, status=exc.status, error=message)
    response = RedirectResponse(_home_for(found.role), status_code=303)
    response.set_cookie(SESSION_COOKIE, issue_token(session, found), httponly=True,
                        samesite="lax", max_age=8 * 3600)
    return response


def _home_for(role: str) -> str:
    return {"holder": "/account", "authority": "/cases", "operator": "/admin",
            "verifier": "/cases"}.get(role, "/")


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> RedirectResponse:
    check_csrf(request, csrf)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _require_user(user: Principal | None, *roles: str) -> Principal:
    if user is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if user.role not in roles:
        raise Forbidden(f"角色 {user.role} 无权访问此页",
                        f"role {user.role} may not open this page")
    return user


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, user: UserDep,
                 message: str | None = None) -> HTMLResponse:
    holder = _require_user(user, "holder")
    balances = [{"account": a, "balance": registry.balance(session, a.id)}
                for a in registry.accounts_of(session, holder.holder_id or 0)]
    return render(request, "account.html", user, balances=balances, message=message)


@router.post("/account/transfer", response_class=HTMLResponse)
def account_transfer(
    request: Request, session: SessionDep, user: UserDep,
    from_account: Annotated[int, Form()], to_account: Annotated[int, Form()],
    product: Annotated[str, Form()], quantity: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    holder = _require_user(user, "holder")
    check_csrf(request, csrf)
    from qinglu.web.auth import ensure_owns_account

    message: str
    try:
        ensure_owns_account(session, holder, from_account)
        result = registry.transfer(session, from_account=from_account, to_account=to_account,
                                product=product, quantity=parse_quantity(product, quantity),
                                actor=holder.actor)
        message = (f"已转让 {quantity} / transferred {quantity}: "
                   f"{', '.join(result['serials'])}")
    except QingluError as exc:
        message = exc.message
    return account_page(request, session, user, message=message)


def _visible_cases(session: Session, user: Principal) -> list[dict[str, Any]]:
    query = select(Case).order_by(Case.id.desc())
    if user.role == "authority":
        query = query.where(Case.authority_holder_id == user.holder_id)
    return [case_service.case_view(c) for c in session.scalars(query)]


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep, user: UserDep,
               error: str | None = None) -> HTMLResponse:
    who = _require_user(user, "authority", "operator", "verifier")
    return render(request, "cases.html", user, cases=_visible_cases(session, who), error=error,
                  vegetation=CATEGORY_NAMES)


@router.post("/cases/new", response_model=None)
def new_case(
    request: Request, session: SessionDep, user: UserDep,
    number: Annotated[str, Form()], kind: Annotated[str, Form()],
    authority_kind: Annotated[str, Form()], defendant: Annotated[int, Form()],
    incident_date: Annotated[date, Form()], region: Annotated[str, Form()],
    place: Annotated[str, Form()], area: Annotated[float, Form()],
    unit: Annotated[str, Form()], vegetation: Annotated[str, Form()],
    fuel_consumed: Annotated[str, Form()] = "",
    authority_holder_id: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    who = _require_user(user, "authority", "operator")
    check_csrf(request, csrf)
    authority = who.holder_id if who.role == "authority" else int(authority_holder_id or 0)
    fuel = float(fuel_consumed) if fuel_consumed.strip() else None
    try:
        opened = case_service.open_case(
            session, number=number, authority_holder_id=authority or 0,
            authority_kind=authority_kind, kind=kind, defendant_holder_id=defendant,
            incident_date=incident_date, region=region, place=place,
            incident={"area": str(area), "unit": unit, "vegetation": vegetation},
            actor=who.actor)
        case_service.account_with_fire_method(
            session, case_id=opened["id"], actor=who.actor,
            fire_input=FireInput(vegetation=vegetation, area=area, unit=unit,
                                 fuel_consumed=fuel, on=incident_date))
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return cases_page(request, session, user, error=message)
    return RedirectResponse(f"/cases/{opened['id']}", status_code=303)


def _visible_case(session: Session, user: Principal | None, case_id: int) -> Case:
    who = _require_user(user, "authority", "operator", "verifier")
    case = case_service.get_case(session, case_id)
    if who.role == "authority" and case.authority_holder_id != who.holder_id:
        raise Forbidden(f"无权查看案件 {case_id}", f"you may not see case {case_id}")
    return case


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, session: SessionDep, user: UserDep,
              message: str | None = None) -> HTMLResponse:
    case = _visible_case(session, user, case_id)
    accounting = case.accounting or {}
    result = accounting.get("result") if accounting.get("source") == "qinglu" else None
    return render(request, "case.html", user, case=case_service.case_view(case), result=result,
                  message=message)


@router.get("/cases/{case_id}/report.pdf")
def case_report(case_id: int, session: SessionDep, user: UserDep) -> Response:
    data = render_case_report(session, _visible_case(session, user, case_id))
    return Response(data, media_type="application/pdf")


@router.post("/cases/{case_id}/step", response_class=HTMLResponse)
def case_step(
    request: Request, case_id: int, session: SessionDep, user: UserDep,
    step: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None,
    quantity: Annotated[str, Form()] = "", seller_account: Annotated[str, Form()] = "0",
    price: Annotated[str, Form()] = "", reference: Annotated[str, Form()] = "",
    firm: Annotated[str, Form()] = "", report_ref: Annotated[str, Form()] = "",
) -> HTMLResponse:
    who = _require_user(user, "operator", "verifier")
    check_csrf(request, csrf)
    if who.role == "verifier" and step != "external":
        raise Forbidden("审核人只能审核核算报告", "a verifier approves accounting reports only")
    message = None
    try:
        if step == "external":
            obligation, accounting = case_service.external_report_accounting(
                firm=firm, report_ref=report_ref, stated_obligation=quantity,
                approved_by=who.actor)
            case_service.record_accounting(session, case_id=case_id, obligation=obligation,
                                           accounting=accounting, actor=who.actor)
        elif step == "agree":
            case_service.agree(session, case_id=case_id,
                               quantity=parse_quantity("FCS", quantity),
                               seller_account_id=int(seller_account or 0), price=price,
                               actor=who.actor)
        elif step == "pay":
            case_service.pay(session, case_id=case_id, reference=reference, actor=who.actor)
        elif step == "retire":
            case_service.retire_for_case(session, case_id=case_id, actor=who.actor)
        elif step == "certify":
            case_service.certify(session, case_id=case_id,
                                 key=request.app.state.registry_key, actor=who.actor)
    except (QingluError, ValueError) as exc:
        message = exc.message if isinstance(exc, QingluError) else str(exc)
    return case_page(request, case_id, session, user, message=message)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: UserDep,
               message: str | None = None) -> HTMLResponse:
    _require_user(user, "operator")
    accounts_by_holder: dict[int, list[Account]] = {}
    for account in session.scalars(select(Account).order_by(Account.id)):
        accounts_by_holder.setdefault(account.holder_id, []).append(account)
    holders = [{**registry.holder_view(h), "accounts": accounts_by_holder.get(h.id, [])}
               for h in session.scalars(select(Holder).order_by(Holder.id))]
    return render(request, "admin.html", user, holders=holders, message=message)


@router.post("/admin/{action}", response_class=HTMLResponse)
async def admin_action(request: Request, action: str, session: SessionDep,
                       user: UserDep) -> HTMLResponse:
    """The back office's forms: holder, account, project, issue."""
    who = _require_user(user, "operator")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.pop("csrf", None))
    try:
        result = _admin_write(session, who, action, form)
        message = f"✔ {action}: {result}"
    except (QingluError, ValueError, KeyError) as exc:
        message = exc.message if isinstance(exc, QingluError) else f"✘ {exc}"
    return admin_page(request, session, user, message=message)


def _admin_write(session: Session, who: Principal, action: str,
                 form: dict[str, str]) -> dict[str, Any]:
    if action == "holder":
        return registry.add_holder(session, kind=form["kind"], name=form["name"],
                                           id_number=form["id_number"], region=form["region"],
                                           actor=who.actor)
    if action == "account":
        return registry.open_account(session, holder_id=int(form["holder_id"]),
                                             kind=form["kind"], actor=who.actor)
    if action == "project":
        return registry.add_project(session, name=form["name"],
                                            product=form["product"], region=form["region"],
                                            methodology=form["methodology"], actor=who.actor)
    if action == "issue":
        project = registry.get_project(session, int(form["project_id"]))
        return registry.issue(session, project_id=project.id, vintage=int(form["vintage"]),
                           quantity=parse_quantity(project.product, form["quantity"]),
                           to_account=int(form["account_id"]), actor=who.actor)
    raise ValueError(f"unknown action {action}")
