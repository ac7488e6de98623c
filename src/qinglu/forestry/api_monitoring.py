"""Monitoring reports: an operator submits and issues, a verifier approves or rejects."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from qinglu.forestry import monitoring
from qinglu.forestry.report import render_monitoring_report
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep, require
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

router = APIRouter(tags=["monitoring"], responses=PROBLEM_RESPONSES)
# Measurements and method inputs travel as decimal strings (see schemas.py on why).
Volume = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$", examples=["6.40"])]
Tonnes = Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$", examples=["5.00"])]
Fraction = Annotated[str, Field(pattern=r"^0(\.[0-9]{1,4})?$", examples=["0.10"])]


class MeasurementIn(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=64)]
    volume_end: Volume
    volume_start: Volume | None = None


class MonitoringIn(BaseModel):
    period_start: date
    period_end: date
    measurements: Annotated[list[MeasurementIn], Field(min_length=1, max_length=100_000)]
    baseline_t: Tonnes
    leakage_t: Tonnes
    uncertainty_deduction: Fraction = "0"
    risk_class: Literal["low", "medium", "high"]
    override_parameters_csv: Annotated[str, Field(max_length=200_000)] | None = None


class RejectIn(BaseModel):
    reasons: Annotated[str, Field(min_length=1, max_length=2000)]


@router.post("/projects/{project_id}/monitoring-reports", status_code=201)
def submit(project_id: Id, body: MonitoringIn, session: SessionDep, who: OperatorDep,
           key: IdempotencyKey = None) -> dict[str, Any]:
    measurements = [{k: float(v) if k != "number" else v
                     for k, v in m.model_dump(exclude_none=True).items()}
                    for m in body.measurements]
    return monitoring.submit(
        session, project_id=project_id, period_start=body.period_start,
        period_end=body.period_end, measurements=measurements,
        baseline_t=float(body.baseline_t), leakage_t=float(body.leakage_t),
        uncertainty_deduction=float(body.uncertainty_deduction), risk_class=body.risk_class,
        override_csv=body.override_parameters_csv, actor=who.actor, idempotency_key=key)


@router.get("/monitoring-reports")
def list_reports(session: SessionDep, who: PrincipalDep,
                 project_id: Id | None = None) -> list[dict[str, Any]]:
    require("operator", "verifier")(who)
    return [monitoring.report_view(r) for r in monitoring.list_reports(session, project_id)]


@router.get("/monitoring-reports/{report_id}")
def get_report(report_id: Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    require("operator", "verifier")(who)
    return monitoring.report_view(monitoring.get_report(session, report_id))


@router.get("/monitoring-reports/{report_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(report_id: Id, session: SessionDep, who: PrincipalDep) -> Response:
    require("operator", "verifier")(who)
    data = render_monitoring_report(session, monitoring.get_report(session, report_id))
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="monitoring-{report_id}.pdf"'})


@router.post("/monitoring-reports/{report_id}/approval")
def approve(report_id: Id, session: SessionDep, who: PrincipalDep,
            key: IdempotencyKey = None) -> dict[str, Any]:
    require("verifier")(who)
    return monitoring.approve(session, report_id=report_id, actor=who.actor,
                              idempotency_key=key)


@router.post("/monitoring-reports/{report_id}/rejection")
def reject(report_id: Id, body: RejectIn, session: SessionDep, who: PrincipalDep,
           key: IdempotencyKey = None) -> dict[str, Any]:
    require("verifier")(who)
    return monitoring.reject(session, report_id=report_id, reasons=body.reasons,
                             actor=who.actor, idempotency_key=key)


@router.post("/monitoring-reports/{report_id}/issuance")
def issue(report_id: Id, session: SessionDep, who: OperatorDep,
          key: IdempotencyKey = None) -> dict[str, Any]:
    return monitoring.issue(session, report_id=report_id, actor=who.actor, idempotency_key=key)


class ReversalIn(BaseModel):
    burned_polygon: dict[str, Any] | None = None


@router.post("/cases/{case_id}/reversal")
def reversal(case_id: Id, body: ReversalIn, session: SessionDep, who: OperatorDep,
             key: IdempotencyKey = None) -> dict[str, Any]:
    """Cancel the burned parcels' carbon from the buffer; a shortfall flags the project."""
    from qinglu.forestry import reversals

    if body.burned_polygon is not None:
        reversals.set_burned_area(session, case_id=case_id, geojson=body.burned_polygon,
                                  actor=who.actor)
    return reversals.reverse(session, case_id=case_id, actor=who.actor, idempotency_key=key)
