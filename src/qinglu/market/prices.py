"""Market data from settled trades: daily volume, VWAP, high and low.

Grouped in Python rather than SQL, because day truncation differs between SQLite and
PostgreSQL and the number of settled trades per query is modest."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.identifiers import region_name
from qinglu.core.money import round_fen
from qinglu.core.quantities import format_quantity, product_spec
from qinglu.core.serials import parse_serial
from qinglu.market.models import Listing, Order
from qinglu.registry.actions import project_names

CHART_DAYS = 90  # what the dashboard and the market page chart
GROUPINGS = ("product", "project", "county")

COLUMNS = ("day", "product", "group", "group_name", "fills", "volume", "unit", "amount_cny",
           "vwap", "high", "low")


def _day(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date().isoformat()


def daily(session: Session, *, product: str | None = None, by: str = "product",
          since: date | None = None) -> list[dict[str, Any]]:
    """One row per day and group (product, project or county), oldest first.

    A trade's units may come from several projects: its serial ranges say which (and
    the county), so each range counts towards its own project at the trade's price.
    `since` (a UTC day) keeps pages that show recent prices from reading all history."""
    query = (select(Order.settled_at, Order.price, Order.serials, Listing.product)
             .join(Listing, Listing.id == Order.listing_id)
             .where(Order.status == "settled"))
    if product:
        query = query.where(Listing.product == product)
    if since is not None:
        query = query.where(Order.settled_at >= datetime.combine(since, time(), UTC))
    names = project_names(session)
    buckets: dict[tuple[str, str, str, str], list[Fill]] = defaultdict(list)
    for row in session.execute(query):
        for serial in json.loads(row.serials or "[]"):
            fill = Fill.of(serial, Decimal(row.price))
            group, name = _group(by, row.product, fill, names)
            buckets[(_day(row.settled_at), row.product, group, name)].append(fill)
    return [_summary(key, fills) for key, fills in sorted(buckets.items())]


@dataclass(frozen=True)
class Fill:
    """One serial range of a trade: its units, their project and county, the price."""

    quantity: int
    project_id: int
    region: str
    price: Decimal

    @classmethod
    def of(cls, serial: str, price: Decimal) -> Fill:
        parsed = parse_serial(serial)
        return cls(parsed.end - parsed.start + 1, parsed.project_id, parsed.region, price)


def _group(by: str, product: str, fill: Fill, names: dict[int, str]) -> tuple[str, str]:
    if by == "project":
        return str(fill.project_id), names.get(fill.project_id, "")
    if by == "county":
        return fill.region, region_name(fill.region)
    return product, product


def _summary(key: tuple[str, str, str, str], fills: list[Fill]) -> dict[str, Any]:
    day, product, group, name = key
    spec = product_spec(product)
    volume = sum(fill.quantity for fill in fills)
    amount = round_fen(sum((fill.price * Decimal(fill.quantity) * spec.base_unit
                            for fill in fills), Decimal(0)))
    vwap = (amount / (Decimal(volume) * spec.base_unit)).quantize(Decimal("0.0001"),
                                                                   rounding=ROUND_HALF_UP)
    prices = [fill.price for fill in fills]
    return {"day": day, "product": product, "group": group, "group_name": name,
            "fills": len(fills), "volume": format_quantity(product, volume),
            "unit": spec.unit, "amount_cny": str(amount),
            "vwap": str(vwap), "high": str(max(prices)), "low": str(min(prices))}


def recent(session: Session) -> list[dict[str, Any]]:
    """The last `CHART_DAYS` days per product, for the charts on the pages."""
    return daily(session, since=datetime.now(UTC).date() - timedelta(days=CHART_DAYS))


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
