"""Request bodies. Quantities travel as decimal strings with a pattern, so the
OpenAPI schema says exactly what the API accepts."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Header
from pydantic import BaseModel, Field

from qinglu.core.quantities import QUANTITY_PATTERN

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, examples=["53.96"],
                                description="decimal, in the product's unit (tCO2e or MWh)")]
Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", examples=["522629"],
                              description="GB/T 2260 region code")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Text2000 = Annotated[str, Field(min_length=1, max_length=2000)]
# Products are rows an operator adds (registry.add_product), so any well-formed code is
# accepted here and an unknown one refused by the action (404 unknown-product).
ProductCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{1,7}$", examples=["FCS", "GEC"],
                                   description="product code (GET /api/v1/products)")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


class HolderIn(BaseModel):
    kind: Literal["org", "person"]
    name: Text200
    id_number: Annotated[str, Field(min_length=1, max_length=32)]
    region: Region


class AccountIn(BaseModel):
    holder_id: Id
    kind: Literal["holding", "escrow", "buffer"] = "holding"


class ProjectIn(BaseModel):
    name: Text200
    product: ProductCode
    region: Region
    methodology: Annotated[str, Field(min_length=1, max_length=64)]
    owner_holder_id: Id | None = None


class IssuanceIn(BaseModel):
    project_id: Id
    vintage: Annotated[int, Field(ge=1990, le=2100)]
    quantity: Quantity
    account_id: Id


class TransferIn(BaseModel):
    from_account: Id
    to_account: Id
    product: ProductCode
    quantity: Quantity
    project_id: Id | None = None


class RetirementIn(BaseModel):
    account_id: Id
    product: ProductCode
    quantity: Quantity
    beneficiary: Text200
    purpose: Text2000
    case_ref: Annotated[str, Field(max_length=100)] | None = None


class HoldIn(BaseModel):
    account_id: Id
    product: ProductCode
    quantity: Quantity
    purpose: Text2000


class SettleIn(BaseModel):
    to_account: Id
    quantity: Quantity | None = None


class ReleaseIn(BaseModel):
    quantity: Quantity | None = None


class CancellationIn(BaseModel):
    account_id: Id
    product: ProductCode
    quantity: Quantity
    reason: Text2000


class MovementOut(BaseModel):
    id: int
    entry: int
    product: str
    quantity: int
    serials: list[str]
