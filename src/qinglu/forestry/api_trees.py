"""Single trees (单株碳汇): register a project's trees, list them, issue a year's sinks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from qinglu.forestry import trees
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep, require
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

router = APIRouter(tags=["trees"], responses=PROBLEM_RESPONSES)
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


@router.post("/projects/{project_id}/trees", status_code=201)
def register_trees(project_id: Id, body: TreesIn, session: SessionDep, who: OperatorDep,
                   key: IdempotencyKey = None) -> dict[str, Any]:
    rows = [t.model_dump(exclude_none=True) for t in body.trees]
    return trees.register(session, project_id=project_id, rows=rows, actor=who.actor,
                          idempotency_key=key)


@router.get("/projects/{project_id}/trees")
def list_trees(project_id: Id, session: SessionDep, who: PrincipalDep) -> list[dict[str, Any]]:
    require("operator", "verifier")(who)
    return [trees.tree_view(t) for t in trees.list_trees(session, project_id)]


@router.post("/projects/{project_id}/tree-years", status_code=201)
def issue_tree_years(project_id: Id, body: TreeYearIn, session: SessionDep, who: OperatorDep,
                     key: IdempotencyKey = None) -> dict[str, Any]:
    measurements = [{k: float(v) if k != "number" else v
                     for k, v in m.model_dump(exclude_none=True).items()}
                    for m in body.measurements]
    return trees.issue_year(session, project_id=project_id, year=body.year,
                            measurements=measurements, risk_class=body.risk_class,
                            override_csv=body.override_parameters_csv, actor=who.actor,
                            idempotency_key=key)
