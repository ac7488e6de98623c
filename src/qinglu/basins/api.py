"""Basin compensation over HTTP: the two stand-alone methods (water class, pollutant-load
charge), basins and their sections, agreements, monitoring imports, assessment,
settlement, statements (JSON, PDF, CSV) and their public verification.

Every figure travels as a decimal string with its unit in a field beside it (required:
a figure without its unit is refused); the methods and actions own units and rules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qinglu.basins import actions
from qinglu.documents.signing import RegistryKey
from qinglu.methods import basin, water
from qinglu.web.auth import PrincipalDep, SessionDep
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import IdempotencyKey, Region, Text200

router = APIRouter(tags=["basins"], responses=PROBLEM_RESPONSES)
Figure = Annotated[str, Field(pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?([eE][+]?[0-9]{1,2})?$",
                              examples=["0.25"])]
ConcentrationUnit = Literal["mg/L", "μg/L", "ug/L"]
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
Number = Annotated[str, Path(pattern=r"^QL-B[MS]-[0-9]{4}-[0-9]{6,9}$",
                             examples=["QL-BS-2024-000001"])]
Year = Annotated[int, Query(ge=1990, le=2100)]
CSV_MEDIA = "text/csv; charset=utf-8"


def _key(request: Request) -> RegistryKey:
    key: RegistryKey = request.app.state.registry_key
    return key


class WaterClassIn(BaseModel):
    """A sample's concentrations, in `unit` (required: a bare number is refused)."""

    model_config = ConfigDict(extra="forbid")
    codmn: Figure
    nh3n: Figure
    tp: Figure
    tn: Figure | None = None
    unit: ConcentrationUnit = Field(description="浓度单位 / the concentrations' unit")
    lake: bool = Field(default=False, description="湖泊、水库 / lake or reservoir")
    date: dt.date | None = Field(default=None, description="采样日期，限值按此日取值 / the "
                                 "sample's date; the limits valid on it (none: today's)")


@router.post("/methods/water-class", tags=["methods"])
def water_class(body: WaterClassIn) -> dict[str, Any]:
    """Water class by GB 3838-2002 Table 1: the worst indicator sets it."""
    given = body.model_dump(exclude={"unit", "date"}, exclude_none=True)
    return water.classify(water.water_input(given, unit=body.unit, on=body.date)).to_json_dict()


class LoadChargeIn(BaseModel):
    """One month's pollutant-load charge at a section: (measured − target) × volume × rate."""

    model_config = ConfigDict(extra="forbid")
    indicator: Literal["CODMn", "NH3-N", "TP", "TN"]
    measured: Figure
    target: Figure
    concentration_unit: ConcentrationUnit
    volume: Figure = Field(description="月断面水量 / the month's volume at the section")
    volume_unit: Literal["m3", "万m3", "亿m3"]
    rate: Figure = Field(description="补偿标准 / rate per tonne of excess")
    rate_unit: Literal["万元/t", "元/t", "元/kg"]
    direction: Literal["one_way", "two_way"] | None = Field(
        default=None, description="one_way (default): only an excess is paid")


@router.post("/methods/pollutant-load-charge", tags=["methods"])
def pollutant_load_charge(body: LoadChargeIn) -> dict[str, Any]:
    """The pollutant-load charge and who pays it; t = mg/L × m³ × 10⁻⁶."""
    return basin.load_charge_input(
        body.model_dump(exclude_none=True, include={"indicator", "measured", "target",
                                                    "volume", "rate", "direction"}),
        units={"measured": body.concentration_unit, "target": body.concentration_unit,
               "volume": body.volume_unit, "rate": body.rate_unit}).to_json_dict()


class BasinIn(BaseModel):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    name: Text200


class PartyIn(BaseModel):
    region: Region
    name: Text200
    level: Literal["province", "prefecture", "county"]


class SectionIn(BaseModel):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
    name: Text200
    kind: Literal["quality", "quantity", "both"]
    upstream: Region
    downstream: Region
    waterbody: Literal["river", "lake"] = "river"
    lon: Annotated[str, Field(pattern=r"^-?[0-9]{1,3}(\.[0-9]{1,6})?$")] | None = None
    lat: Annotated[str, Field(pattern=r"^-?[0-9]{1,2}(\.[0-9]{1,6})?$")] | None = None
    position: Annotated[int, Field(ge=0, le=10_000)] = 0


class RuleIn(BaseModel):
    kind: Literal["pollutant_load", "class_step", "quantity", "p_index", "joint_fund"]
    section: Annotated[str, Field(max_length=40)] | None = None
    params: dict[str, Any]


class AgreementIn(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=60)]
    name: Annotated[str, Field(min_length=1, max_length=300)]
    basin: Annotated[str, Field(min_length=1, max_length=40)]
    valid_from: dt.date
    valid_to: dt.date | None = None
    source: Annotated[str, Field(min_length=1, max_length=4000)]
    example: bool = False
    rules: Annotated[list[RuleIn], Field(min_length=1, max_length=1000)]


class MonitoringIn(BaseModel):
    filename: Annotated[str, Field(pattern=r"^[^/\\]{1,200}\.csv$", examples=["2024.csv"])]
    csv: Annotated[str, Field(min_length=1, max_length=20_000_000,
                              description="section, month, codmn [mg/L], nh3n [mg/L], "
                                          "tp [mg/L], tn, volume [万m3], min_flow [m3/s], flow")]
    correction: bool = False
    reason: Annotated[str, Field(max_length=2000)] | None = None


class AssessIn(BaseModel):
    year: Annotated[int, Field(ge=1990, le=2100)]
    month: Annotated[int, Field(ge=1, le=12)] | None = None


class SettleIn(BaseModel):
    year: Annotated[int, Field(ge=1990, le=2100)]


@router.get("/basins")
def overview(session: SessionDep, who: PrincipalDep, year: Year) -> dict[str, Any]:
    """The province's overview: basins and each party's net position for a year."""
    return actions.overview(session, who, year)


@router.post("/basins", status_code=201)
def add_basin(body: BasinIn, session: SessionDep, who: PrincipalDep,
              key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.add_basin(session, who, code=body.code, name=body.name, idempotency_key=key)


@router.post("/basin-parties", status_code=201)
def add_party(body: PartyIn, session: SessionDep, who: PrincipalDep,
              key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.add_party(session, who, region=body.region, name=body.name,
                             level=body.level, idempotency_key=key)


@router.get("/basins/{code}")
def basin_detail(code: Code, session: SessionDep, who: PrincipalDep, year: Year
                 ) -> dict[str, Any]:
    """A basin: sections, agreements and rules, the year's statements and settlements."""
    return actions.basin_detail(session, who, code, year)


@router.post("/basins/{code}/sections", status_code=201)
def add_section(code: Code, body: SectionIn, session: SessionDep, who: PrincipalDep,
                key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.add_section(session, who, basin=code, **body.model_dump(),
                               idempotency_key=key)


@router.post("/basin-agreements", status_code=201)
def add_agreement(body: AgreementIn, session: SessionDep, who: PrincipalDep,
                  key: IdempotencyKey = None) -> dict[str, Any]:
    """An agreement and its rules as data (checked as the method reads them)."""
    return actions.add_agreement(session, who, body.model_dump(mode="json"),
                                 idempotency_key=key)


@router.get("/basin-rule-templates/{rule_set}")
def rule_template(rule_set: Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")],
                  on: Annotated[dt.date, Query(alias="date")]) -> dict[str, Any]:
    """The cited figures of a known rule set valid on a date."""
    return actions.rule_template(rule_set, on)


@router.post("/basins/{code}/monitoring", status_code=201)
def import_monitoring(code: Code, body: MonitoringIn, request: Request, session: SessionDep,
                      who: PrincipalDep, key: IdempotencyKey = None) -> dict[str, Any]:
    """Monitoring data as CSV text, all or nothing (422 names each bad row)."""
    return actions.import_monitoring(
        session, who, _key(request), basin=code, filename=body.filename,
        content=body.csv.encode("utf-8"), correction=body.correction, reason=body.reason,
        idempotency_key=key)


@router.post("/basins/{code}/assessments", status_code=201)
def assess(code: Code, body: AssessIn, request: Request, session: SessionDep,
           who: PrincipalDep, key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.assess(session, who, _key(request), basin=code, year=body.year,
                          month=body.month, idempotency_key=key)


@router.post("/basins/{code}/settlements", status_code=201)
def settle(code: Code, body: SettleIn, request: Request, session: SessionDep,
           who: PrincipalDep, key: IdempotencyKey = None) -> dict[str, Any]:
    return actions.settle(session, who, _key(request), basin=code, year=body.year,
                          idempotency_key=key)


@router.get("/basins/{code}/statements")
def statements(code: Code, session: SessionDep, who: PrincipalDep, year: Year
               ) -> dict[str, Any]:
    return actions.list_statements(session, who, code, year)


@router.get("/basins/{code}/statements.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def statements_csv(code: Code, session: SessionDep, who: PrincipalDep, year: Year) -> Response:
    """Every current line of the year, each with the statement, rule and row behind it."""
    return Response(actions.year_csv(session, who, code, year), media_type=CSV_MEDIA)


@router.get("/basin-statements/{number}")
def statement(number: Number, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    """A statement, its lines and their sources, and all its versions."""
    return actions.statement_view(session, who, number)


@router.get("/basin-statements/{number}/statement.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def statement_pdf(number: Number, session: SessionDep, who: PrincipalDep) -> Response:
    return Response(actions.statement_pdf(session, who, number), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})


@router.get("/basin-statements/{number}/lines.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def statement_csv(number: Number, session: SessionDep, who: PrincipalDep) -> Response:
    return Response(actions.statement_csv(session, who, number), media_type=CSV_MEDIA)


@router.get("/basin-statements/{number}/verify")
def verify(number: Number, request: Request, session: SessionDep,
           p: Annotated[str | None, Query(max_length=8000)] = None) -> dict[str, Any]:
    """Public: is this statement the registry's, unaltered, and do its lines still follow
    from the stored rows?"""
    return actions.verify_statement(session, _key(request), number=number, payload=p)
