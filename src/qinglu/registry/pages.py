"""Registry pages: projects and issuances, retirements, serial search, a holder's
accounts, and the operator's back office."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import QingluError
from qinglu.core.identifiers import region_name
from qinglu.core.principal import Principal
from qinglu.core.quantities import format_quantity, parse_quantity
from qinglu.core.serials import format_serial
from qinglu.registry import actions as registry
from qinglu.registry import stats
from qinglu.registry.models import Account, Holder, Issuance, Project
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


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


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, user: UserDep,
                 message: str | None = None) -> HTMLResponse:
    holder = require_user(user, "holder")
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
    holder = require_user(user, "holder")
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


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: UserDep,
               message: str | None = None) -> HTMLResponse:
    require_user(user, "operator")
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
    who = require_user(user, "operator")
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
