"""Case pages: an authority's cases, opening and accounting a case, its steps. Who sees
which case, units and the accounting date are the actions' to decide."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qinglu.cases import actions as cases
from qinglu.core.errors import Conflict, Forbidden, InvalidInput, NotFound, QingluError
from qinglu.core.principal import ANONYMOUS
from qinglu.core.quantities import AREA_UNIT_NAMES, parse_quantity
from qinglu.methods.fire import CATEGORY_NAMES
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request, session: SessionDep, user: UserDep,
               error: str | None = None) -> HTMLResponse:
    visible = cases.visible_cases(session, user or ANONYMOUS)
    return render(request, "cases.html", user, cases=visible[::-1], error=error,
                  vegetation=CATEGORY_NAMES, area_units=AREA_UNIT_NAMES)


def _holder_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


@router.post("/cases/new", response_model=None)
def new_case(
    request: Request, session: SessionDep, user: UserDep,
    number: Annotated[str, Form()], kind: Annotated[str, Form()],
    authority_kind: Annotated[str, Form()], defendant: Annotated[int, Form()],
    incident_date: Annotated[date, Form()], region: Annotated[str, Form()],
    place: Annotated[str, Form()], vegetation: Annotated[str, Form()],
    area: Annotated[str, Form()] = "", unit: Annotated[str, Form()] = "",
    fuel_consumed: Annotated[str, Form()] = "",
    authority_holder_id: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    evidence = {"vegetation": vegetation, "area": area.strip() or None,
                "unit": unit.strip() or None, "fuel_consumed": fuel_consumed.strip() or None}
    try:
        accounted = cases.open_fire_case(
            session, user or ANONYMOUS, authority_holder_id=_holder_id(authority_holder_id),
            number=number, authority_kind=authority_kind, kind=kind,
            defendant_holder_id=defendant, incident_date=incident_date, region=region,
            place=place, evidence=evidence)
    except (InvalidInput, Conflict, NotFound) as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return cases_page(request, session, user, error=message)
    return RedirectResponse(f"/cases/{accounted['id']}", status_code=303)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, case_id: int, session: SessionDep, user: UserDep,
              message: str | None = None) -> HTMLResponse:
    case = cases.case_for(session, user or ANONYMOUS, case_id)
    accounting = case["accounting"] or {}
    result = accounting.get("result") if accounting.get("source") == "qinglu" else None
    return render(request, "case.html", user, case=case, result=result, message=message)


@router.get("/cases/{case_id}/report.pdf")
def case_report(case_id: int, session: SessionDep, user: UserDep) -> Response:
    data = cases.case_report_pdf(session, user or ANONYMOUS, case_id)
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
