"""Green electricity over HTTP: the CO2 method (POST /methods/green-power-co2), the GEC
serial parser, power projects, generation imports, the expiry job and green-power
claims (a company's claim desk and the public register). The models parse the wire; the
method and the actions own defaults, units and rules."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qinglu.core.paging import MAX_LIMIT
from qinglu.documents.signing import RegistryKey
from qinglu.green import actions
from qinglu.methods import green
from qinglu.web.auth import PrincipalDep, SessionDep
from qinglu.web.deps import link_next_page
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

router = APIRouter(tags=["green"], responses=PROBLEM_RESPONSES)
Factor = Literal["grid_average", "fossil", "excl_market_nonfossil"]
Region = Literal["national", "north", "northeast", "east", "central", "northwest", "south",
                 "southwest"]
Technology = Literal["wind", "solar", "biomass", "geothermal", "ocean", "hydro", "storage"]
Kwh = Annotated[int, Field(ge=0, le=10**15, description="电量 kWh")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]


def _key(request: Request) -> RegistryKey:
    key: RegistryKey = request.app.state.registry_key
    return key


class GreenCo2In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kwh: Kwh
    year: int = Field(ge=2000, le=2100, description="电量所属年份 / the electricity's year")
    factor: Factor | None = Field(default=None, description=f"default {green.DEFAULT_FACTOR}")
    region: Region | None = Field(default=None, description=f"default {green.DEFAULT_REGION}")


@router.post("/methods/green-power-co2")
def green_power_co2(body: GreenCo2In) -> dict[str, Any]:
    """CO2 of green electricity at one named, dated MEE/NBS factor, with its source."""
    return green.co2_of(body.kwh, body.year, body.factor, body.region).to_json_dict()


@router.get("/gec/serials/{serial}")
def gec_serial(serial: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    """A national GEC serial split 17 + 15 (the check code is not validated)."""
    return green.parse_serial(serial).to_json_dict()


class PowerProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filing_code: str = Field(min_length=17, max_length=17, description="建档立卡编码")
    name: Text200
    technology: Technology
    commissioned: dt.date
    region: str = Field(pattern=r"^[0-9]{6}$", description="GB/T 2260")
    account_id: Id
    self_consumed: bool = False


@router.post("/gec/projects", status_code=201)
def add_power_project(body: PowerProjectIn, session: SessionDep, who: PrincipalDep,
                      key: IdempotencyKey = None) -> dict[str, Any]:
    """File a renewable power project (operator)."""
    return actions.register_project(
        session, who, name=body.name, filing_code_text=body.filing_code,
        technology=body.technology, commissioned=body.commissioned, region=body.region,
        account_id=body.account_id, self_consumed=body.self_consumed, idempotency_key=key)


# A page of the list (core.paging): read as text, so that a bad value is refused in the
# registry's words, as on /api/v1/projects.
PageAfter = Annotated[str | None, Query(
    description="the id of the previous page's last power project (0 or absent: from the "
                "start)", examples=["100"])]
PageLimit = Annotated[str | None, Query(
    description=f"power projects per page, 1 to {MAX_LIMIT} "
                f"(default {actions.PROJECTS_PAGE_SIZE})", examples=["100"])]


@router.get("/gec/projects")
def power_projects(request: Request, response: Response, session: SessionDep,
                   after: PageAfter = None, limit: PageLimit = None) -> list[dict[str, Any]]:
    """Power projects filed for green certificates, in id order, a page at a time: when
    there are more, a `Link` header (RFC 8288) gives the next page's address,
    `<...?after=N&limit=M>; rel="next"`."""
    found = actions.projects_page(session, after, limit)
    link_next_page(request, response, found["next"], found["limit"])
    projects: list[dict[str, Any]] = found["projects"]
    return projects


class GenerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(default="generation.csv", max_length=200)
    csv: str = Field(description="filing_code,month,kwh rows as CSV text")


@router.post("/gec/generation", status_code=201)
def import_generation(body: GenerationIn, session: SessionDep, who: PrincipalDep,
                      key: IdempotencyKey = None) -> dict[str, Any]:
    """Generation rows, all or nothing (422 names each bad row); issues the months."""
    return actions.import_generation(session, who, filename=body.filename,
                                     content=body.csv.encode("utf-8"), idempotency_key=key)


class ExpireIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    today: dt.date


@router.post("/gec/expire")
def expire(body: ExpireIn, session: SessionDep, who: PrincipalDep,
           key: IdempotencyKey = None) -> dict[str, Any]:
    """The expiry job (operator): cancel certificates valid only before `today`."""
    return actions.expire(session, who, today=body.today, idempotency_key=key)


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Id
    consumer: Text200
    period_start: dt.date
    period_end: dt.date
    consumption_kwh: Kwh
    certificates: int | None = Field(default=None, ge=1, le=2_147_483_647)
    factor: Factor | None = None
    region: Region | None = None
    factor_year: int | None = Field(default=None, ge=2000, le=2100)
    reported_co2_t: str | None = Field(default=None, pattern=r"^[0-9]{1,12}(\.[0-9]{1,6})?$")
    reported_source: str | None = Field(default=None, max_length=500)


@router.post("/claims", status_code=201)
def claim(body: ClaimIn, request: Request, session: SessionDep, who: PrincipalDep,
          key: IdempotencyKey = None) -> dict[str, Any]:
    """A green-power claim from the caller's account: certificates retired (核销)."""
    return actions.claim(
        session, _key(request), who, account_id=body.account_id, consumer=body.consumer,
        period_start=body.period_start, period_end=body.period_end,
        consumption_kwh=body.consumption_kwh, certificates=body.certificates,
        factor=body.factor, region=body.region, factor_year=body.factor_year,
        reported_co2_t=body.reported_co2_t, reported_source=body.reported_source,
        idempotency_key=key)


@router.get("/claims")
def claims(session: SessionDep) -> list[dict[str, Any]]:
    """The public register of green-power claims."""
    return actions.public_claims(session)


@router.get("/claims/{claim_id}")
def claim_detail(claim_id: Id, session: SessionDep) -> dict[str, Any]:
    return actions.get_claim(session, claim_id)


@router.get("/claims/{claim_id}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def claim_pdf(claim_id: Id, request: Request, session: SessionDep) -> Response:
    """The claim's signed certificate."""
    data = actions.claim_pdf(session, claim_id, str(request.base_url))
    return Response(data, media_type="application/pdf")
