"""POST /methods/fire-emissions: the fire method over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from qinglu.methods import fire
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["methods"], responses=PROBLEM_RESPONSES)
Positive = Annotated[str, Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,6})?$")]
Fraction = Annotated[str, Field(pattern=r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$")]


class FireEmissionsIn(BaseModel):
    vegetation: Literal["savanna_and_grassland", "agricultural_residues", "tropical_forest",
                        "extra_tropical_forest", "biofuel_burning"]
    area: Positive | None = None
    unit: Literal["mu", "ha", "m2"] = "ha"
    geojson: dict[str, Any] | None = None
    fuel_consumed: Positive | None = None
    fuel_load: Positive | None = None
    combustion_factor: Fraction | None = None
    ef_set: Literal["ipcc2006", "andreae2019", "gfed4", "finn2.5"] = "ipcc2006"
    gwp: Literal["AR4", "AR5", "AR6"] = "AR5"
    co_treatment: Literal["excluded", "carbon_balance"] = "excluded"
    date: dt.date | None = Field(default=None, description="参数适用日期 / parameters valid on")

    def to_input(self) -> fire.FireInput:
        def number(text: str | None) -> float | None:
            return float(text) if text is not None else None

        return fire.FireInput(
            vegetation=self.vegetation, area=number(self.area), unit=self.unit,
            geojson=self.geojson, fuel_consumed=number(self.fuel_consumed),
            fuel_load=number(self.fuel_load), combustion_factor=number(self.combustion_factor),
            ef_set=self.ef_set, gwp=self.gwp, co_treatment=self.co_treatment, on=self.date)


@router.post("/methods/fire-emissions")
def fire_emissions(body: FireEmissionsIn) -> dict[str, Any]:
    """Emissions of one fire (IPCC 2006 Vol.4 Eq. 2.27), with parameters and sources."""
    return fire.estimate(body.to_input()).to_json_dict()
