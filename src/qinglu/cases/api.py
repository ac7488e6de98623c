"""Case endpoints: an authority opens and follows its own cases; a verifier approves
accounting reports; the exchange's operator runs agreement, payment, retirement,
certification and closing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.cases import actions
from qinglu.cases.models import Case
from qinglu.cases.report import render_case_report
from qinglu.core.errors import Forbidden
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.methods.api import FireEmissionsIn
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep, require
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey, Quantity, Region, Text200

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
Decimal2 = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", examples=["60.00"])]


class IncidentIn(BaseModel):
    area: Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$")] | None = None
    unit: Literal["mu", "ha", "m2"] = "mu"
    vegetation: Annotated[str, Field(max_length=64)] | None = None
    polygon: dict[str, Any] | None = None


class CaseIn(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=100)]
    authority_holder_id: Id | None = None
    authority_kind: Literal["procuratorate", "court", "forestry_bureau", "environment_bureau"]
    kind: Literal["criminal_public_interest", "civil", "administrative"]
    defendant_holder_id: Id
    incident_date: date
    region: Region
    place: Annotated[str, Field(min_length=1, max_length=500)]
    incident: IncidentIn = IncidentIn()


class ExternalReportIn(BaseModel):
    firm: Text200
    report_ref: Text200
    stated_obligation: Quantity


class AgreementIn(BaseModel):
    quantity: Quantity
    seller_account: Id
    price: Decimal2


class PaymentIn(BaseModel):
    reference: Text200


def _visible(session: Session, who: Principal, case_id: int) -> Case:
    """Operators and verifiers see every case; an authority only its own."""
    case = actions.get_case(session, case_id)
    if who.role in ("operator", "verifier"):
        return case
    if who.role == "authority" and case.authority_holder_id == who.holder_id:
        return case
    raise Forbidden(f"无权查看案件 {case_id}", f"you may not see case {case_id}")


@router.get("")
def list_cases(session: SessionDep, who: PrincipalDep) -> list[dict[str, Any]]:
    require("operator", "verifier", "authority")(who)
    query = select(Case).order_by(Case.id)
    if who.role == "authority":
        query = query.where(Case.authority_holder_id == who.holder_id)
    return [actions.case_view(case) for case in session.scalars(query)]


@router.post("", status_code=201)
def open_case(body: CaseIn, session: SessionDep, who: PrincipalDep,
              key: IdempotencyKey = None) -> dict[str, Any]:
    require("operator", "authority")(who)
    authority = body.authority_holder_id
    if who.role == "authority":
        if authority not in (None, who.holder_id):
            raise Forbidden("只能以本机关名义立案", "an authority opens cases in its own name only")
        authority = who.holder_id
    if authority is None:
        raise Forbidden("须指明办案机关", "name the authority (authority_holder_id)")
    return actions.open_case(
        session, number=body.number, authority_holder_id=authority,
        authority_kind=body.authority_kind, kind=body.kind,
        defendant_holder_id=body.defendant_holder_id, incident_date=body.incident_date,
        region=body.region, place=body.place,
        incident=body.incident.model_dump(exclude_none=True), actor=who.actor,
        idempotency_key=key)


@router.get("/{case_id}")
def get_case(case_id: Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    require("operator", "verifier", "authority")(who)
    return actions.case_view(_visible(session, who, case_id))


@router.get("/{case_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(case_id: Id, session: SessionDep, who: PrincipalDep) -> Response:
    """The emission accounting report of a case accounted by Qinglu's method."""
    require("operator", "verifier", "authority")(who)
    data = render_case_report(session, _visible(session, who, case_id))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="case-{case_id}.pdf"'})


@router.post("/{case_id}/accounting", status_code=201)
def accounting(case_id: Id, body: FireEmissionsIn, session: SessionDep, who: PrincipalDep,
               key: IdempotencyKey = None) -> dict[str, Any]:
    """Account the case's fire with Qinglu's method (the same body as
    POST /methods/fire-emissions); the authority of the case or an operator."""
    require("operator", "authority")(who)
    case = _visible(session, who, case_id)
    fire_input = body.to_input()
    if fire_input.on is None:
        fire_input = replace(fire_input, on=case.incident_date)
    return actions.account_with_fire_method(session, case_id=case_id, fire_input=fire_input,
                                            actor=who.actor, idempotency_key=key)


@router.post("/{case_id}/external-report", status_code=201)
def external_report(case_id: Id, body: ExternalReportIn, session: SessionDep,
                    who: PrincipalDep, key: IdempotencyKey = None) -> dict[str, Any]:
    """A report prepared outside Qinglu, approved by the verifier who posts it."""
    require("verifier", "operator")(who)
    obligation, accounting = actions.external_report_accounting(
        firm=body.firm, report_ref=body.report_ref, stated_obligation=body.stated_obligation,
        approved_by=who.actor)
    return actions.record_accounting(session, case_id=case_id, obligation=obligation,
                                     accounting=accounting, actor=who.actor,
                                     idempotency_key=key)


@router.post("/{case_id}/agreement", status_code=201)
def agreement(case_id: Id, body: AgreementIn, session: SessionDep, who: OperatorDep,
              key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.agree(session, case_id=case_id, quantity=parse_quantity("FCS", body.quantity),
                         seller_account_id=body.seller_account, price=body.price,
                         actor=who.actor, idempotency_key=key)


@router.post("/{case_id}/payment", status_code=201)
def payment(case_id: Id, body: PaymentIn, session: SessionDep, who: OperatorDep,
            key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.pay(session, case_id=case_id, reference=body.reference, actor=who.actor,
                       idempotency_key=key)


@router.post("/{case_id}/retirement", status_code=201)
def retirement(case_id: Id, session: SessionDep, who: OperatorDep,
               key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.retire_for_case(session, case_id=case_id, actor=who.actor,
                                   idempotency_key=key)


@router.post("/{case_id}/certificate", status_code=201)
def certificate(case_id: Id, request: Request, session: SessionDep, who: OperatorDep,
                key: IdempotencyKey = None) -> dict[str, Any]:
    """The carbon-neutral certificate and the transaction voucher for a retired case."""
    return actions.certify(session, case_id=case_id, key=request.app.state.registry_key,
                           actor=who.actor, idempotency_key=key)


@router.post("/{case_id}/close", status_code=201)
def close(case_id: Id, session: SessionDep, who: OperatorDep,
          key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.close_case(session, case_id=case_id, actor=who.actor, idempotency_key=key)
