"""Case endpoints: an authority opens and follows its own cases; a verifier approves
accounting reports; the exchange's operator runs agreement, payment, retirement,
certification and closing. Who sees which case, and the date a fire is accounted on,
are the actions' to decide (cases/actions.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qinglu.cases import actions
from qinglu.core.quantities import parse_quantity
from qinglu.methods.api import FireEvidenceIn
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep, require
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey, Quantity, Region, Text200

router = APIRouter(prefix="/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
Decimal2 = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$", examples=["60.00"])]


class IncidentIn(BaseModel):
    """What is known of the incident; an area needs its unit (refused without one)."""

    model_config = ConfigDict(json_schema_extra={"dependentRequired": {"area": ["unit"]}})

    area: Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$")] | None = None
    unit: Literal["mu", "ha", "m2"] | None = Field(
        default=None, description="面积单位，给出面积时必填 / the area's unit, required with area")
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


@router.get("")
def list_cases(session: SessionDep, who: PrincipalDep) -> list[dict[str, Any]]:
    return actions.visible_cases(session, who)


@router.post("", status_code=201)
def open_case(body: CaseIn, session: SessionDep, who: PrincipalDep,
              key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.open_case_for(
        session, who, authority_holder_id=body.authority_holder_id, number=body.number,
        authority_kind=body.authority_kind, kind=body.kind,
        defendant_holder_id=body.defendant_holder_id, incident_date=body.incident_date,
        region=body.region, place=body.place,
        incident=body.incident.model_dump(exclude_none=True), idempotency_key=key)


@router.get("/{case_id}")
def get_case(case_id: Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    return actions.case_for(session, who, case_id)


@router.get("/{case_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(case_id: Id, session: SessionDep, who: PrincipalDep) -> Response:
    """The emission accounting report of a case accounted by Qinglu's method."""
    data = actions.case_report_pdf(session, who, case_id)
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="case-{case_id}.pdf"'})


@router.post("/{case_id}/accounting", status_code=201)
def accounting(case_id: Id, body: FireEvidenceIn, session: SessionDep, who: PrincipalDep,
               key: IdempotencyKey = None) -> dict[str, Any]:
    """Account the case's fire with Qinglu's method (the body of
    POST /methods/fire-emissions without a date: a case's fire is accounted on its
    incident date); the authority of the case or an operator."""
    return actions.account_with_fire_method(session, who, case_id=case_id,
                                            evidence=body.evidence(), idempotency_key=key)


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
def close(case_id: Id, session: SessionDep, who: PrincipalDep,
          key: IdempotencyKey = None) -> dict[str, Any]:
    """Closed, once certified, by the case's own authority or the operator."""
    return actions.close_case_for(session, who, case_id=case_id, idempotency_key=key)


@router.post("/{case_id}/reports", status_code=201)
def record_report(case_id: Id, body: ExternalReportIn, session: SessionDep, who: PrincipalDep,
                  key: IdempotencyKey = None) -> dict[str, Any]:
    """An accounting report prepared outside Qinglu, recorded by the case's authority (or
    the operator) for a verifier to approve; it changes no figure until approved."""
    return actions.record_external_report(
        session, who, case_id=case_id, firm=body.firm, report_ref=body.report_ref,
        stated_obligation=body.stated_obligation, idempotency_key=key)


@router.post("/{case_id}/reports/approval", status_code=201)
def approve_report(case_id: Id, session: SessionDep, who: PrincipalDep,
                   key: IdempotencyKey = None) -> dict[str, Any]:
    """A verifier approves the recorded report: its figure becomes the obligation."""
    return actions.approve_external_report(session, who, case_id=case_id, idempotency_key=key)


@router.get("/{case_id}/desk")
def desk(case_id: Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    """The case whole: parties, agreement, payment, documents and the timeline of its
    ledger entries (actor and time of each step)."""
    return actions.case_desk(session, who, case_id)
