"""Registry endpoints: reads (ledger head, balances, serial look-up, projects) and writes
(holders, accounts, projects, issuances, transfers, retirements, holds, cancellations;
every POST takes an Idempotency-Key header)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from qinglu.core.paging import MAX_LIMIT
from qinglu.core.quantities import parse_quantity
from qinglu.documents import actions as documents
from qinglu.registry import actions as registry
from qinglu.web import schemas as s
from qinglu.web.auth import OperatorDep, PrincipalDep, SessionDep
from qinglu.web.deps import PlainReadRoute, hot_read, json_response, link_next_page
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

router = APIRouter(responses=PROBLEM_RESPONSES)
# Serial look-up, a busiest public read: a plain read route of the application's own.
hot_router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES, route_class=PlainReadRoute)


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
    return registry.ledger_head_view(session)


# The public log (RFC 6962 tree over the entries; C2SP checkpoints): docs/verification.md.
LogIndex = Annotated[int, Query(ge=1, le=2**53)]


@router.get("/log/checkpoint", tags=["log"], response_class=PlainTextResponse)
def log_checkpoint(request: Request, session: SessionDep) -> PlainTextResponse:
    """The latest signed checkpoint, a C2SP tlog-checkpoint signed note (text/plain)."""
    made = registry.log_checkpoint(session, request.app.state.registry_key)
    return PlainTextResponse(made["note"])


@router.get("/log/proof/inclusion", tags=["log"])
def log_inclusion(session: SessionDep, entry: LogIndex, size: LogIndex) -> dict[str, Any]:
    """RFC 6962 audit path of entry `entry` (leaf entry - 1) in the tree of `size`."""
    return registry.log_inclusion_proof(session, entry, size)


@router.get("/log/proof/consistency", tags=["log"])
def log_consistency(session: SessionDep, first: Annotated[int, Query(alias="from", ge=1,
                                                                     le=2**53)],
                    second: Annotated[int, Query(alias="to", ge=1, le=2**53)]
                    ) -> dict[str, Any]:
    """RFC 6962 consistency proof from the tree of `from` entries to that of `to`."""
    return registry.log_consistency_proof(session, first, second)


@router.get("/log/entries", tags=["log"])
def log_entries(session: SessionDep, start: LogIndex, end: LogIndex) -> dict[str, Any]:
    """Entries start..end (at most 1,000) with each one's leaf bytes and chain hash."""
    return registry.log_entries(session, start, end)


@router.get("/accounts/{account_id}/balance", tags=["accounts"])
def get_balance(account_id: Id, session: SessionDep,
                who: PrincipalDep) -> dict[str, dict[str, str]]:
    return registry.balance_for(session, who, account_id)


@hot_router.get("/units/{serial}", response_model=UnitLookupOut, tags=["units"])
async def get_unit(serial: str, request: Request) -> Response:
    blocks = await hot_read(request, lambda: registry.serial_lookup(serial))
    first = blocks[0]
    return json_response({"serial": serial, "account_id": first["account_id"],
                          "state": first["state"], "blocks": blocks})


# A page of a list (core.paging): read as text, so that a bad value is refused in the
# registry's words, the same on the API and the pages.
PageAfter = Annotated[str | None, Query(
    description="the id of the previous page's last project (0 or absent: from the start)",
    examples=["100"])]
PageLimit = Annotated[str | None, Query(
    description=f"projects per page, 1 to {MAX_LIMIT} (default {registry.PROJECTS_API_SIZE})",
    examples=["100"])]


@router.get("/projects", response_model=list[ProjectOut], tags=["projects"])
def list_projects(request: Request, response: Response, session: SessionDep,
                  after: PageAfter = None, limit: PageLimit = None) -> list[dict[str, Any]]:
    """Projects in id order, a page at a time: when there are more, a `Link` header
    (RFC 8288) gives the next page's address, `<...?after=N&limit=M>; rel="next"`."""
    page = registry.paging(after, limit, registry.PROJECTS_API_SIZE)
    found = registry.projects_page(session, page)
    link_next_page(request, response, found["next"], page.limit)
    return found["projects"]


@router.get("/projects/{project_id}", response_model=ProjectOut, tags=["projects"])
def get_project(project_id: Id, session: SessionDep) -> dict[str, Any]:
    return registry.show_project(session, project_id)


@router.post("/holders", status_code=201, tags=["holders"])
def add_holder(body: s.HolderIn, session: SessionDep, who: OperatorDep,
               key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.add_holder(session, **body.model_dump(), actor=who.actor,
                              idempotency_key=key)


@router.post("/accounts", status_code=201, tags=["accounts"])
def open_account(body: s.AccountIn, session: SessionDep, who: OperatorDep,
                 key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.open_account(session, holder_id=body.holder_id, kind=body.kind,
                                actor=who.actor, idempotency_key=key)


@router.post("/projects", status_code=201, tags=["projects"])
def add_project(body: s.ProjectIn, session: SessionDep, who: OperatorDep,
                key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.add_project(session, **body.model_dump(), actor=who.actor,
                               idempotency_key=key)


@router.post("/issuances", status_code=201, tags=["issuances"])
def issue(body: s.IssuanceIn, session: SessionDep, who: OperatorDep,
          key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.issue(session, project_id=body.project_id, vintage=body.vintage,
                          quantity=registry.project_quantity(session, body.project_id,
                                                             body.quantity),
                          to_account=body.account_id, actor=who.actor, idempotency_key=key)


@router.post("/transfers", status_code=201, tags=["transfers"])
def transfer(body: s.TransferIn, session: SessionDep, who: PrincipalDep,
             key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.transfer(session, from_account=body.from_account, to_account=body.to_account,
                             product=body.product,
                             quantity=parse_quantity(body.product, body.quantity),
                             project_id=body.project_id, actor=who, idempotency_key=key)


@router.post("/retirements", status_code=201, tags=["retirements"])
def retire(body: s.RetirementIn, request: Request, session: SessionDep, who: PrincipalDep,
           key: s.IdempotencyKey = None) -> dict[str, Any]:
    return documents.retire(
        session, request.app.state.registry_key, from_account=body.account_id,
        product=body.product, quantity=parse_quantity(body.product, body.quantity),
        beneficiary=body.beneficiary, purpose=body.purpose, case_ref=body.case_ref,
        actor=who, idempotency_key=key)


@router.post("/holds", status_code=201, tags=["holds"])
def hold(body: s.HoldIn, session: SessionDep, who: PrincipalDep,
         key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.hold(session, from_account=body.account_id, product=body.product,
                         quantity=parse_quantity(body.product, body.quantity),
                         purpose=body.purpose, actor=who, idempotency_key=key)


@router.post("/holds/{hold_id}/settle", status_code=201, tags=["holds"])
def settle(hold_id: s.Id, body: s.SettleIn, session: SessionDep, who: OperatorDep,
           key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.settle(session, hold_id=hold_id, to_account=body.to_account,
                           quantity=registry.hold_quantity(session, hold_id, body.quantity),
                           actor=who.actor, idempotency_key=key)


@router.post("/holds/{hold_id}/release", status_code=201, tags=["holds"])
def release(hold_id: s.Id, body: s.ReleaseIn, session: SessionDep, who: OperatorDep,
            key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.release(session, hold_id=hold_id,
                            quantity=registry.hold_quantity(session, hold_id, body.quantity),
                            actor=who.actor, idempotency_key=key)


@router.post("/cancellations", status_code=201, tags=["cancellations"])
def cancel(body: s.CancellationIn, session: SessionDep, who: OperatorDep,
           key: s.IdempotencyKey = None) -> dict[str, Any]:
    return registry.cancel(session, from_account=body.account_id, product=body.product,
                        quantity=parse_quantity(body.product, body.quantity),
                        reason=body.reason, actor=who.actor, idempotency_key=key)


class ProductIn(BaseModel):
    """A product as data: added by an operator, no code change."""

    code: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]{1,7}$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=200)
    unit: str = Field(min_length=1, max_length=16)
    decimals: int = Field(ge=0, le=6, description="base unit = 10^-decimals of the unit")
    tradable: bool = True
    validity_months: int | None = Field(default=None, ge=1, le=1200)
    scope: Literal["county", "prefecture", "province", "nation"] = "nation"
    methods: list[str] = Field(default_factory=list, max_length=20)


@router.post("/products", status_code=201, tags=["registry"])
def add_product(body: ProductIn, session: SessionDep, who: PrincipalDep,
                key: IdempotencyKey = None) -> dict[str, Any]:
    """Add a product (operator): its rules bind every issuance and move of its units."""
    return registry.add_product(session, actor=who, idempotency_key=key,
                                **body.model_dump())


@router.get("/products", tags=["registry"])
def products(session: SessionDep) -> list[dict[str, Any]]:
    """Every product and its rules."""
    return registry.list_products(session)


class UpgradeIn(BaseModel):
    from_account: Id
    from_product: str = "GZCT"
    to_product: str = "GZCTP"
    quantity: str = Field(pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$")


@router.post("/products/upgrade", tags=["registry"])
def upgrade_tickets(body: UpgradeIn, session: SessionDep, who: PrincipalDep,
                    key: IdempotencyKey = None) -> dict[str, Any]:
    """Convert prefecture tickets into provincial ones in one ledger write."""
    return registry.upgrade_tickets(
        session, from_account=body.from_account, from_product=body.from_product,
        to_product=body.to_product, quantity=parse_quantity(body.from_product, body.quantity),
        actor=who, idempotency_key=key)
