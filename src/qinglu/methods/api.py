"""POST /methods/fire-emissions: the fire method over HTTP. The models parse the wire;
defaults, units and the date's meaning are the method's (methods/fire.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from qinglu.methods import fire
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["methods"], responses=PROBLEM_RESPONSES)
Positive = Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$")]
Fraction = Annotated[str, Field(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$")]


class FireEvidenceIn(BaseModel):
    """What is known of one fire. An area needs its unit (an area without one is refused,
    never taken as ha or mu); a polygon needs none. Absent options take the method's
    defaults."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"dependentRequired": {"area": ["unit"]}})

    vegetation: Literal["savanna_and_grassland", "agricultural_residues", "tropical_forest",
                        "extra_tropical_forest", "biofuel_burning"]
    area: Positive | None = None
    unit: Literal["mu", "ha", "m2"] | None = Field(
        default=None, description="面积单位，给出面积时必填 / the area's unit, required with area")
    geojson: dict[str, Any] | None = None
    fuel_consumed: Positive | None = None
    fuel_load: Positive | None = None
    combustion_factor: Fraction | None = None
    ef_set: Literal["ipcc2006", "andreae2019", "gfed4", "finn2.5"] | None = Field(
        default=None, description=f"default {fire.DEFAULT_EF_SET}")
    gwp: Literal["AR4", "AR5", "AR6"] | None = Field(
        default=None, description=f"default {fire.DEFAULT_GWP_SET}")
    co_treatment: Literal["excluded", "carbon_balance"] | None = Field(
        default=None, description=f"default {fire.DEFAULT_CO_TREATMENT}")

    def evidence(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"date"})


class FireEmissionsIn(FireEvidenceIn):
    date: dt.date | None = Field(default=None, description="火灾日期，参数按此日取值 / the "
                                 "fire's date; parameters valid on it (none: today's)")


@router.post("/methods/fire-emissions")
def fire_emissions(body: FireEmissionsIn) -> dict[str, Any]:
    """Emissions of one fire (IPCC 2006 Vol.4 Eq. 2.27), with parameters and sources."""
    return fire.estimate(fire.fire_input(body.evidence(), on=body.date)).to_json_dict()
