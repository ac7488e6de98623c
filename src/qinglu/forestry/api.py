"""Forestry endpoints: parcels, monitoring reports (an operator submits and issues, a
verifier approves or rejects) and single trees (单株碳汇)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from qinglu.forestry import actions as forestry
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep, require
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

parcels_router = APIRouter(tags=["parcels"], responses=PROBLEM_RESPONSES)


class FeatureCollectionIn(BaseModel):
    type: Literal["FeatureCollection"]
    features: Annotated[list[dict[str, Any]], Field(max_length=100_000)]
    crs: dict[str, Any] | None = None


@parcels_router.post("/projects/{project_id}/parcels", status_code=201)
def import_parcels(project_id: Id, body: FeatureCollectionIn, session: SessionDep,
                   who: OperatorDep, skip_bad: bool = False,
                   key: IdempotencyKey = None) -> dict[str, Any]:
    return forestry.import_parcel_features(
        session, project_id=project_id, collection=body.model_dump(),
        actor=who.actor, skip_bad=skip_bad, idempotency_key=key)


monitoring_router = APIRouter(tags=["monitoring"], responses=PROBLEM_RESPONSES)
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


@monitoring_router.post("/projects/{project_id}/monitoring-reports", status_code=201)
def submit(project_id: Id, body: MonitoringIn, session: SessionDep, who: OperatorDep,
           key: IdempotencyKey = None) -> dict[str, Any]:
    measurements = [{k: float(v) if k != "number" else v
                     for k, v in m.model_dump(exclude_none=True).items()}
                    for m in body.measurements]
    return forestry.submit_report(
        session, project_id=project_id, period_start=body.period_start,
        period_end=body.period_end, measurements=measurements,
        baseline_t=float(body.baseline_t), leakage_t=float(body.leakage_t),
        uncertainty_deduction=float(body.uncertainty_deduction), risk_class=body.risk_class,
        override_csv=body.override_parameters_csv, actor=who.actor, idempotency_key=key)


@monitoring_router.get("/monitoring-reports")
def list_reports(session: SessionDep, who: PrincipalDep,
                 project_id: Id | None = None) -> list[dict[str, Any]]:
    require("operator", "verifier")(who)
    return forestry.monitoring_reports(session, project_id)


@monitoring_router.get("/monitoring-reports/{report_id}")
def get_report(report_id: Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    require("operator", "verifier")(who)
    return forestry.monitoring_report(session, report_id)


@monitoring_router.get("/monitoring-reports/{report_id}/report.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def report_pdf(report_id: Id, session: SessionDep, who: PrincipalDep) -> Response:
    require("operator", "verifier")(who)
    data = forestry.monitoring_report_pdf(session, report_id)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="monitoring-{report_id}.pdf"'})


@monitoring_router.post("/monitoring-reports/{report_id}/approval")
def approve(report_id: Id, session: SessionDep, who: PrincipalDep,
            key: IdempotencyKey = None) -> dict[str, Any]:
    require("verifier")(who)
    return forestry.approve_report(session, report_id=report_id, actor=who.actor,
                                   idempotency_key=key)


@monitoring_router.post("/monitoring-reports/{report_id}/rejection")
def reject(report_id: Id, body: RejectIn, session: SessionDep, who: PrincipalDep,
           key: IdempotencyKey = None) -> dict[str, Any]:
    require("verifier")(who)
    return forestry.reject_report(session, report_id=report_id, reasons=body.reasons,
                                  actor=who.actor, idempotency_key=key)


@monitoring_router.post("/monitoring-reports/{report_id}/issuance")
def issue(report_id: Id, session: SessionDep, who: OperatorDep,
          key: IdempotencyKey = None) -> dict[str, Any]:
    return forestry.issue_report(session, report_id=report_id, actor=who.actor,
                                 idempotency_key=key)


class ReversalIn(BaseModel):
    burned_polygon: dict[str, Any] | None = None


@monitoring_router.post("/cases/{case_id}/reversal")
def reversal(case_id: Id, body: ReversalIn, session: SessionDep, who: OperatorDep,
             key: IdempotencyKey = None) -> dict[str, Any]:
    """Cancel the burned parcels' carbon from the buffer; a shortfall flags the project."""
    return forestry.record_reversal(session, case_id=case_id, actor=who.actor,
                                    burned_polygon=body.burned_polygon, idempotency_key=key)


trees_router = APIRouter(tags=["trees"], responses=PROBLEM_RESPONSES)
# Measurements travel as decimal strings (see schemas.py on why).
Degrees = Annotated[str, Field(pattern=r"^-?[0-9]{1,3}(\.[0-9]{1,9})?$", examples=["108.41"])]
Measure = Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,3})?$", examples=["22.5"])]
Text = Annotated[str, Field(min_length=1, max_length=64)]


class TreeIn(BaseModel):
    number: Text
    species: Text
    lon: Degrees
    lat: Degrees
    crs: Literal["EPSG:4490", "EPSG:4326"] = "EPSG:4490"
    dbh_cm: Measure
    height_m: Measure
    photo_ref: Annotated[str, Field(max_length=500)] | None = None
    owner_holder_id: Id | None = None
    owner_id_number: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    year: Annotated[int, Field(ge=1950, le=2100)] | None = None


class TreesIn(BaseModel):
    trees: Annotated[list[TreeIn], Field(min_length=1, max_length=100_000)]


class TreeMeasurementIn(BaseModel):
    number: Text
    dbh_cm: Measure | None = None
    height_m: Measure | None = None
    dbh_increment_cm: Measure | None = None
    height_increment_m: Measure | None = None


class TreeYearIn(BaseModel):
    year: Annotated[int, Field(ge=1950, le=2100)]
    risk_class: Literal["low", "medium", "high"]
    measurements: Annotated[list[TreeMeasurementIn], Field(min_length=1, max_length=100_000)]
    override_parameters_csv: Annotated[str, Field(max_length=200_000)] | None = None


@trees_router.post("/projects/{project_id}/trees", status_code=201)
def register_trees(project_id: Id, body: TreesIn, session: SessionDep, who: OperatorDep,
                   key: IdempotencyKey = None) -> dict[str, Any]:
    rows = [t.model_dump(exclude_none=True) for t in body.trees]
    return forestry.register_trees(session, project_id=project_id, rows=rows,
                                   actor=who.actor, idempotency_key=key)


@trees_router.get("/projects/{project_id}/trees")
def list_trees(project_id: Id, session: SessionDep, who: PrincipalDep) -> list[dict[str, Any]]:
    require("operator", "verifier")(who)
    return forestry.trees_of(session, project_id)


@trees_router.post("/projects/{project_id}/tree-years", status_code=201)
def issue_tree_years(project_id: Id, body: TreeYearIn, session: SessionDep, who: OperatorDep,
                     key: IdempotencyKey = None) -> dict[str, Any]:
    measurements = [{k: float(v) if k != "number" else v
                     for k, v in m.model_dump(exclude_none=True).items()}
                    for m in body.measurements]
    return forestry.issue_tree_year(session, project_id=project_id, year=body.year,
                                    measurements=measurements, risk_class=body.risk_class,
                                    override_csv=body.override_parameters_csv,
                                    actor=who.actor, idempotency_key=key)


router = APIRouter()
for _part in (parcels_router, monitoring_router, trees_router):
    router.include_router(_part)
