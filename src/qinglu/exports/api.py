"""`GET /api/v1/exports/...`: the public registry in the CADT data model, and as CSV."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from qinglu.exports import actions as exports
from qinglu.web.auth import SessionDep
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(prefix="/exports", tags=["exports"], responses=PROBLEM_RESPONSES)


@router.get("/cadt.json", response_class=Response,
            responses={200: {"content": {"application/json": {}}}})
def cadt(request: Request, session: SessionDep) -> Response:
    """Projects, locations, issuances, units and retirements in the Climate Action Data
    Trust data model (v1 field names and pick lists); tCO2e products only."""
    return Response(exports.cadt_json(session, str(request.base_url)),
                    media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="qinglu-cadt.json"'})


@router.get("/units.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def units(request: Request, session: SessionDep) -> Response:
    """The same units as one CSV table, each with its project, region and retirement."""
    return Response(exports.units_csv(session, str(request.base_url)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="qinglu-units.csv"'})
