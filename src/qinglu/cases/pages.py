"""Case pages: an authority's cases, opening and accounting a case, its steps."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.cases import actions as cases
from qinglu.cases.models import Case
from qinglu.cases.report import render_case_report
from qinglu.core.errors import Forbidden, QingluError
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.methods.fire import CATEGORY_NAMES, FireInput
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


def _visible_cases(session: Session, user: Principal) -> list[dict[str, Any]]:
    query = select(Case).order_by(Case.id.desc())
    if user.role == "authority":
        query = query.where(Case.authority_holder_id == user.holder_id)
    return [cases.case_view(c) for c in session.scalars(query)]


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep, user: UserDep,
               error: str | None = None) -> HTMLResponse:
    who = require_user(user, "authority", "operator", "verifier")
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
    who = require_user(user, "authority", "operator")
    check_csrf(request, csrf)
    authority = who.holder_id if who.role == "authority" else int(authority_holder_id or 0)
    fuel = float(fuel_consumed) if fuel_consumed.strip() else None
    try:
        opened = cases.open_case(
            session, number=number, authority_holder_id=authority or 0,
            authority_kind=authority_kind, kind=kind, defendant_holder_id=defendant,
            incident_date=incident_date, region=region, place=place,
            incident={"area": str(area), "unit": unit, "vegetation": vegetation},
            actor=who.actor)
        cases.account_with_fire_method(
            session, case_id=opened["id"], actor=who.actor,
            fire_input=FireInput(vegetation=vegetation, area=area, unit=unit,
                                 fuel_consumed=fuel, on=incident_date))
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return cases_page(request, session, user, error=message)
    return RedirectResponse(f"/cases/{opened['id']}", status_code=303)


def _visible_case(session: Session, user: Principal | None, case_id: int) -> Case:
    who = require_user(user, "authority", "operator", "verifier")
    case = cases.get_case(session, case_id)
    if who.role == "authority" and case.authority_holder_id != who.holder_id:
        raise Forbidden(f"无权查看案件 {case_id}", f"you may not see case {case_id}")
    return case


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, session: SessionDep, user: UserDep,
              message: str | None = None) -> HTMLResponse:
    case = _visible_case(session, user, case_id)
    accounting = case.accounting or {}
    result = accounting.get("result") if accounting.get("source") == "qinglu" else None
    return render(request, "case.html", user, case=cases.case_view(case), result=result,
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
    who = require_user(user, "operator", "verifier")
    check_csrf(request, csrf)
    if who.role == "verifier" and step != "external":
        raise Forbidden("审核人只能审核核算报告", "a verifier approves accounting reports only")
    message = None
    try:
        if step == "external":
            obligation, accounting = cases.external_report_accounting(
                firm=firm, report_ref=report_ref, stated_obligation=quantity,
                approved_by=who.actor)
            cases.record_accounting(session, case_id=case_id, obligation=obligation,
                                           accounting=accounting, actor=who.actor)
        elif step == "agree":
            cases.agree(session, case_id=case_id,
                               quantity=parse_quantity("FCS", quantity),
                               seller_account_id=int(seller_account or 0), price=price,
                               actor=who.actor)
        elif step == "pay":
            cases.pay(session, case_id=case_id, reference=reference, actor=who.actor)
        elif step == "retire":
            cases.retire_for_case(session, case_id=case_id, actor=who.actor)
        elif step == "certify":
            cases.certify(session, case_id=case_id,
                                 key=request.app.state.registry_key, actor=who.actor)
    except (QingluError, ValueError) as exc:
        message = exc.message if isinstance(exc, QingluError) else str(exc)
    return case_page(request, case_id, session, user, message=message)


