"""Read-only registry endpoints: ledger head, balances, serial look-up, projects."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.ledger import ledger_head
from qinglu.registry import actions as registry
from qinglu.registry.models import Project
from qinglu.web.deps import PlainReadRoute, get_session, hot_read, json_response
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id

router = APIRouter(responses=PROBLEM_RESPONSES)
# Serial look-up, a busiest public read: a plain read route of the application's own.
hot_router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, route_class=PlainReadRoute)
SessionDep = Annotated[Session, Depends(get_session)]


class LedgerHeadOut(BaseModel):
    sequence: int
    hash: str


class UnitOut(BaseModel):
    serial: str
    block_serial: str
    account_id: int
    state: str
    product: str
    quantity: str
    issuance_id: int
    project_id: int
    vintage: int
    hold_id: int | None
    retirement_id: int | None
    cancellation_id: int | None


class UnitLookupOut(BaseModel):
    serial: str
    account_id: int
    state: str
    blocks: list[UnitOut]


class ProjectOut(BaseModel):
    id: int
    name: str
    product: str
    region: str
    methodology: str
    status: str
    owner_holder_id: int | None


@router.get("/ledger/head", response_model=LedgerHeadOut, tags=["ledger"])
def get_ledger_head(session: SessionDep) -> dict[str, Any]:
    sequence, digest = ledger_head(session)
    return {"sequence": sequence, "hash": digest}


@router.get("/accounts/{account_id}/balance", tags=["accounts"])
def get_balance(account_id: Id, session: SessionDep) -> dict[str, dict[str, str]]:
    return registry.balance(session, account_id)


@hot_router.get("/units/{serial}", response_model=UnitLookupOut, tags=["units"])
async def get_unit(serial: str, request: Request) -> Response:
    blocks = await hot_read(request, lambda connection: registry.find_serial(connection, serial))
    first = blocks[0]
    return json_response({"serial": serial, "account_id": first["account_id"],
                          "state": first["state"], "blocks": blocks})


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
def list_projects(session: SessionDep) -> list[dict[str, Any]]:
    return [registry.project_view(p) for p in session.scalars(select(Project).order_by(Project.id))]


@router.get("/projects/{project_id}", response_model=ProjectOut, tags=["projects"])
def get_project(project_id: Id, session: SessionDep) -> dict[str, Any]:
    return registry.project_view(registry.get_project(session, project_id))
