"""Public totals for the dashboard: units issued, held, in escrow and retired, by
product and by county."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from qinglu.core.identifiers import public_beneficiary, region_name
from qinglu.core.labels import as_shanghai
from qinglu.core.quantities import format_quantity
from qinglu.registry.models import (
    TOTAL_STATES,
    Issuance,
    Project,
    Retirement,
    UnitBlock,
    UnitTotal,
)

STATES = ("held", "escrow", "retired", "cancelled")


def totals(session: Session) -> dict[str, Any]:
    """{"products": {FCS: {issued, held, ...}}, "regions": [{region, name, product, ...}]}.

    Read from the totals kept as units move (UnitTotal, a few rows a group), not summed
    from every block: held is what was issued less what is in escrow, retired or
    cancelled."""
    regions = kept_totals(session)
    products: dict[str, dict[str, int]] = {}
    for (product, _region), states in regions.items():
        summed = products.setdefault(product, dict.fromkeys(STATES, 0))
        for state, amount in states.items():
            summed[state] += amount
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


def _by_state(counted: dict[str, int]) -> dict[str, int]:
    """Units by block state from the kept totals (issued, escrow, retired, cancelled)."""
    moved = {state: counted[state] for state in STATES if state != "held"}
    return {"held": counted["issued"] - sum(moved.values()), **moved}


def totals_from_blocks(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """Units by product, county and state summed from every block: what the kept totals
    must equal (the audit compares them)."""
    rows = session.execute(
        select(Issuance.product, Project.region, UnitBlock.state,
               func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .join(Project, Project.id == Issuance.project_id)
        .group_by(Issuance.product, Project.region, UnitBlock.state)
    ).all()
    found: dict[tuple[str, str], dict[str, int]] = {}
    for product, region, state, amount in rows:
        found.setdefault((product, region), dict.fromkeys(STATES, 0))[state] = int(amount)
    return found


def kept_totals(session: Session) -> dict[tuple[str, str], dict[str, int]]:
    """Units by product, county and state from the kept totals."""
    grouped: dict[tuple[str, str], dict[str, int]] = {}
    for product, region, state, amount in session.execute(
            select(UnitTotal.product, UnitTotal.region, UnitTotal.state,
                   func.sum(UnitTotal.units))
            .group_by(UnitTotal.product, UnitTotal.region, UnitTotal.state)):
        grouped.setdefault((product, region), dict.fromkeys(TOTAL_STATES, 0))[state] = int(
            amount)
    return {key: _by_state(counted) for key, counted in grouped.items()}


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


# The kept totals' rows are folded into one a group once there are this many more.
COMPACT_AFTER_ROWS = 1_000


def compact_totals(session: Session) -> int:
    """Fold the kept totals' rows into one a product, county and state (their sums
    unchanged); rows appended meanwhile by other transactions are left for the next
    time. Returns the number of rows folded (0 while there are few)."""
    first, last = session.execute(select(func.min(UnitTotal.id), func.max(UnitTotal.id))).one()
    if first is None or last - first < COMPACT_AFTER_ROWS:
        session.rollback()
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # One statement: exactly the rows it deletes are summed again (a row committed
        # while it runs is outside its snapshot, so neither deleted nor summed).
        folded = session.execute(text(
            "WITH gone AS (DELETE FROM unit_totals WHERE id <= :last "
            "RETURNING product, region, state, units), "
            "summed AS (INSERT INTO unit_totals (product, region, state, units) "
            "SELECT product, region, state, sum(units) FROM gone "
            "GROUP BY product, region, state HAVING sum(units) <> 0) "
            "SELECT count(*) FROM gone"), {"last": last}).scalar_one()
    else:  # one writer at a time: the rows read are the rows deleted
        sums = session.execute(
            select(UnitTotal.product, UnitTotal.region, UnitTotal.state,
                   func.sum(UnitTotal.units), func.count())
            .where(UnitTotal.id <= last)
            .group_by(UnitTotal.product, UnitTotal.region, UnitTotal.state)).all()
        session.execute(delete(UnitTotal).where(UnitTotal.id <= last))
        kept = [{"product": p, "region": r, "state": s, "units": u} for p, r, s, u, _ in sums
                if u]
        if kept:
            session.execute(insert(UnitTotal), kept)
        folded = sum(n for *_, n in sums)
    session.commit()
    return int(folded)
