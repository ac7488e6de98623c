"""Green electricity over HTTP: the CO2 method (POST /methods/green-power-co2) and the
GEC serial parser. The models parse the wire; the method owns defaults and factors."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from qinglu.methods import green
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["green"], responses=PROBLEM_RESPONSES)


class GreenCo2In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kwh: int = Field(ge=0, le=10**15, description="电量 kWh / electricity, kWh")
    year: int = Field(ge=2000, le=2100, description="电量所属年份 / the electricity's year")
    factor: Literal["grid_average", "fossil", "excl_market_nonfossil"] | None = Field(
        default=None, description=f"default {green.DEFAULT_FACTOR}")
    region: Literal["national", "north", "northeast", "east", "central", "northwest", "south",
                    "southwest"] | None = Field(
        default=None, description=f"default {green.DEFAULT_REGION}")


@router.post("/methods/green-power-co2")
def green_power_co2(body: GreenCo2In) -> dict[str, Any]:
    """CO2 of green electricity at one named, dated MEE/NBS factor, with its source."""
    return green.co2_of(body.kwh, body.year, body.factor, body.region).to_json_dict()


@router.get("/gec/serials/{serial}")
def gec_serial(serial: str) -> dict[str, Any]:
    """A national GEC serial split 17 + 15 (the check code is not validated)."""
    return green.parse_serial(serial).to_json_dict()
