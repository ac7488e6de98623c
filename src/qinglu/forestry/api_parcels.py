"""POST /projects/{id}/parcels: register parcels from a GeoJSON FeatureCollection."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from pyproj import CRS

from qinglu.forestry import parcels
from qinglu.web.auth import OperatorDep, SessionDep
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

router = APIRouter(tags=["parcels"], responses=PROBLEM_RESPONSES)


class FeatureCollectionIn(BaseModel):
    type: Literal["FeatureCollection"]
    features: Annotated[list[dict[str, Any]], Field(max_length=100_000)]
    crs: dict[str, Any] | None = None


@router.post("/projects/{project_id}/parcels", status_code=201)
def import_parcels(project_id: Id, body: FeatureCollectionIn, session: SessionDep,
                   who: OperatorDep, skip_bad: bool = False,
                   key: IdempotencyKey = None) -> dict[str, Any]:
    from shapely.geometry import shape

    named = (body.crs or {}).get("properties", {}).get("name")
    crs = CRS.from_user_input(named) if named else parcels.CGCS2000
    features = []
    for n, item in enumerate(body.features, 1):
        try:
            geometry = shape(item["geometry"]) if item.get("geometry") else None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            geometry = None
        features.append(parcels.Feature(f"feature {n}", geometry,
                                        dict(item.get("properties") or {})))
    drafts, problems = parcels.validate(features, crs)
    report = parcels.register(session, project_id=project_id, drafts=drafts,
                              problems=problems, actor=who.actor, skip_bad=skip_bad,
                              idempotency_key=key)
    return {"imported": report.imported,
            "skipped": [{"row": row, "reason": reason} for row, reason in report.skipped]}
