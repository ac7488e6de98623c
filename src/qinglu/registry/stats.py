"""Public totals for the dashboard: units issued, held, in escrow and retired, by
product and by county."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qinglu.core.identifiers import public_beneficiary, region_name
from qinglu.core.labels import as_shanghai
from qinglu.core.quantities import format_quantity
from qinglu.registry.models import Issuance, Project, Retirement, UnitBlock

STATES = ("held", "escrow", "retired", "cancelled")


def totals(session: Session) -> dict[str, Any]:
    """{"products": {FCS: {issued, held, ...}}, "regions": [{region, name, product, ...}]}."""
    rows = session.execute(
        select(Issuance.product, Project.region, UnitBlock.state,
               func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .join(Project, Project.id == Issuance.project_id)
        .group_by(Issuance.product, Project.region, UnitBlock.state)
    ).all()
    products: dict[str, dict[str, int]] = {}
    regions: dict[tuple[str, str], dict[str, int]] = {}
    for product, region, state, amount in rows:
        for bucket in (products.setdefault(product, dict.fromkeys(STATES, 0)),
                       regions.setdefault((product, region), dict.fromkeys(STATES, 0))):
            bucket[state] += int(amount)
    return {
        "products": {
            product: {"issued": format_quantity(product, sum(states.values())),
                      **{s: format_quantity(product, v) for s, v in states.items()}}
            for product, states in sorted(products.items())
        },
        "regions": [
            {"product": product, "region": region, "name": region_name(region),
             "issued": format_quantity(product, sum(states.values())),
             **{s: format_quantity(product, v) for s, v in states.items()}}
            for (product, region), states in sorted(regions.items())
        ],
    }


def recent_retirements(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    """Retirements for the public registry; a person beneficiary shows as surname + 某."""
    rows = session.scalars(select(Retirement).order_by(Retirement.id.desc()).limit(limit))
    return [
        {"id": r.id, "product": r.product, "quantity": format_quantity(r.product, r.quantity),
         "beneficiary": public_beneficiary(r.beneficiary),
         "purpose": r.purpose, "case_ref": r.case_ref, "serials": r.serials,
         # The day in China Standard Time: a retirement at 20:00 UTC is the next morning.
         "date": as_shanghai(r.created_at).isoformat()[:10]}
        for r in rows
    ]
