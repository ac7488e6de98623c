"""Market data from settled trades: daily volume, VWAP, high and low.

Grouped in Python rather than SQL, because day truncation differs between SQLite and
PostgreSQL and the number of settled trades per query is modest."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.market.models import Listing, Order
from qinglu.registry.identifiers import region_name
from qinglu.registry.models import Project
from qinglu.registry.quantities import format_quantity, product_spec

COLUMNS = ("day", "product", "group", "group_name", "trades", "volume", "unit", "amount_cny",
           "vwap", "high", "low")


def _day(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date().isoformat()


def daily(session: Session, *, product: str | None = None, by: str = "product"
          ) -> list[dict[str, Any]]:
    """One row per day and group (product, project or county), oldest first."""
    query = (select(Order.settled_at, Order.quantity, Order.amount, Order.price,
                    Listing.product, Listing.project_id, Project.name, Project.region)
             .join(Listing, Listing.id == Order.listing_id)
             .outerjoin(Project, Project.id == Listing.project_id)
             .where(Order.status == "settled"))
    if product:
        query = query.where(Listing.product == product)
    buckets: dict[tuple[str, str, str, str], list[Any]] = defaultdict(list)
    for row in session.execute(query):
        group, name = _group(by, row)
        buckets[(_day(row.settled_at), row.product, group, name)].append(row)
    return [_summary(key, rows) for key, rows in sorted(buckets.items())]


def _group(by: str, row: Any) -> tuple[str, str]:
    if by == "project":
        return (str(row.project_id), row.name) if row.project_id else ("", "（未指定项目）")
    if by == "county":
        return (row.region, region_name(row.region)) if row.region else ("", "（未指定）")
    return row.product, row.product


def _summary(key: tuple[str, str, str, str], rows: list[Any]) -> dict[str, Any]:
    day, product, group, name = key
    volume = sum(r.quantity for r in rows)
    amount = sum((Decimal(r.amount) for r in rows), Decimal(0))
    in_unit = Decimal(volume) * product_spec(product).base_unit
    vwap = (amount / in_unit).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    prices = [Decimal(r.price) for r in rows]
    return {"day": day, "product": product, "group": group, "group_name": name,
            "trades": len(rows), "volume": format_quantity(product, volume),
            "unit": product_spec(product).unit, "amount_cny": str(amount),
            "vwap": str(vwap), "high": str(max(prices)), "low": str(min(prices))}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
