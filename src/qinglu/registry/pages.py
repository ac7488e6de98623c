"""Registry pages: projects and issuances, retirements, serial search, a holder's
accounts, and the operator's back office."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from qinglu.core.errors import QingluError
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.registry import actions as registry
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


@router.get("/projects", response_class=HTMLResponse)
def projects(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "projects.html", user,
                  projects=registry.projects_with_issuances(session))


@router.get("/retirements", response_class=HTMLResponse)
def retirements(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "retirements.html", user,
                  retirements=registry.public_retirements(session))


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


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, user: UserDep,
                 message: str | None = None) -> HTMLResponse:
    holder = require_user(user, "holder")
    return render(request, "account.html", user, balances=registry.holdings_of(session, holder),
                  message=message)


@router.post("/account/transfer", response_class=HTMLResponse)
def account_transfer(
    request: Request, session: SessionDep, user: UserDep,
    from_account: Annotated[int, Form()], to_account: Annotated[int, Form()],
    product: Annotated[str, Form()], quantity: Annotated[str, Form()],
    csrf: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    holder = require_user(user, "holder")
    check_csrf(request, csrf)
    message: str
    try:
        result = registry.transfer(session, from_account=from_account, to_account=to_account,
                                   product=product, quantity=parse_quantity(product, quantity),
                                   actor=holder)
        message = (f"已转让 {quantity} / transferred {quantity}: "
                   f"{', '.join(result['serials'])}")
    except QingluError as exc:
        message = exc.message
    return account_page(request, session, user, message=message)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: UserDep,
               message: str | None = None) -> HTMLResponse:
    require_user(user, "operator")
    return render(request, "admin.html", user, holders=registry.holders_with_accounts(session),
                  message=message)


@router.post("/admin/{action}", response_class=HTMLResponse)
async def admin_action(request: Request, action: str, session: SessionDep,
                       user: UserDep) -> HTMLResponse:
    """The back office's forms: holder, account, project, issue."""
    who = require_user(user, "operator")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.pop("csrf", None))
    try:
        result = _admin_write(session, who, action, form)
        message = f"✔ {action}: {result}"
    except (QingluError, ValueError, KeyError) as exc:
        message = exc.message if isinstance(exc, QingluError) else f"✘ {exc}"
    return admin_page(request, session, user, message=message)


def _admin_write(session: SessionDep, who: Principal, action: str,
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
        project_id = int(form["project_id"])
        return registry.issue(session, project_id=project_id, vintage=int(form["vintage"]),
                              quantity=registry.project_quantity(session, project_id,
                                                                 form["quantity"]),
                              to_account=int(form["account_id"]), actor=who.actor)
    raise ValueError(f"unknown action {action}")
