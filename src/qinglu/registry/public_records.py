"""The public registry as plain records, for exports other registries read
(`exports.actions`): projects, issuances, unit blocks, retirements, cancellations, with
nothing the public registry does not show (no account, no holder's identifier; a
developer or beneficiary who is a person appears as `public_beneficiary` shows them).
Five queries, whatever the size of the registry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.identifiers import public_beneficiary
from qinglu.registry.models import (
    Account,
    Cancellation,
    Holder,
    Issuance,
    Product,
    Project,
    Retirement,
    UnitBlock,
)


def collect(session: Session) -> dict[str, list[dict[str, Any]]]:
    holders = dict(session.execute(
        select(Project.id, Holder.name).join(Holder, Holder.id == Project.owner_holder_id)).all())
    projects = [{"id": p.id, "name": p.name, "product": p.product, "region": p.region,
                 "methodology": p.methodology, "status": p.status,
                 "developer": public_beneficiary(holders[p.id]) if p.id in holders else None,
                 "created_at": p.created_at}
                for p in session.scalars(select(Project).order_by(Project.id))]
    products = [{"code": p.code, "unit": p.unit, "decimals": p.decimals}
                for p in session.scalars(select(Product).order_by(Product.code))]
    issuances = [{"id": i.id, "project_id": i.project_id, "product": i.product,
                  "vintage": i.vintage, "serial_start": i.serial_start,
                  "serial_end": i.serial_end, "created_at": i.created_at}
                 for i in session.scalars(select(Issuance).order_by(Issuance.id))]
    blocks = [{"issuance_id": b.issuance_id, "serial_start": b.serial_start,
               "serial_end": b.serial_end, "state": b.state, "account_kind": kind,
               "retirement_id": b.retirement_id, "cancellation_id": b.cancellation_id}
              for b, kind in session.execute(
                  select(UnitBlock, Account.kind).join(Account, Account.id == UnitBlock.account_id)
                  .order_by(UnitBlock.issuance_id, UnitBlock.serial_start))]
    retirements = [{"id": r.id, "product": r.product, "quantity": r.quantity,
                    "beneficiary": public_beneficiary(r.beneficiary), "purpose": r.purpose,
                    "created_at": r.created_at}
                   for r in session.scalars(select(Retirement).order_by(Retirement.id))]
    cancellations = {c.id: c.reason for c in session.scalars(select(Cancellation))}
    return {"products": products, "projects": projects, "issuances": issuances,
            "blocks": blocks, "retirements": retirements,
            "cancellations": [{"id": k, "reason": v} for k, v in sorted(cancellations.items())]}
