"""Reversals: carbon lost when a registered forest burns, cancelled from the buffer.

For a fire case with a burned-area polygon, every registered parcel it intersects,
of a project that has issued units, loses

    lost_i = credited_i × area(parcel_i ∩ burned) / area(parcel_i)

where credited_i is what the registry credited to the owner from that parcel: over
every issued monitoring report r of the project, the owner's units of r (issued
minus buffer) apportioned to the parcels by their positive stock change,

    credited_i = Σ_r owner_r × max(ΔC_i,r, 0) / Σ_j max(ΔC_j,r, 0)      (tCO2e)

and areas are geodesic (GRS80). The buffer backs the units that were credited (so
that units already sold stay whole), not the standing stock, which was never
issued; this is the approach of Verra's AFOLU non-permanence risk buffer and most
registries. The project's loss is Σ lost_i rounded **up** to 0.01 t (a loss is an
obligation). It is cancelled from the
registry's pooled buffer account in one ledger write together with the reversal
rows. If the buffer holds less, what it holds is cancelled, the project is flagged
(`status = "flagged"`) and the shortfall is recorded and returned; it is never
dropped silently.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from shapely import from_wkt
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.cases.actions import get_case
from qinglu.core.errors import Conflict, InvalidInput
from qinglu.core.geometry import burned_area
from qinglu.core.ledger import WriteContext, run_write
from qinglu.forestry.models import MonitoringReport, Parcel, Reversal
from qinglu.forestry.parcels import geodesic_area_ha
from qinglu.registry import actions as registry
from qinglu.registry.actions import get_project, held_units, system_account


def burned_geometry(geojson: object) -> BaseGeometry:
    """The burned area as core.geometry reads it (a polygon, a feature, or a collection of
    them united), and inside China: parcels are registered there only."""
    geom = burned_area(geojson)
    minx, miny, maxx, maxy = geom.bounds
    if minx < 73 or maxx > 136 or miny < 3 or maxy > 54:
        raise InvalidInput("过火范围须为中国境内经纬度", "the burned area must be lon/lat in China")
    return geom


def set_burned_area(session: Session, *, case_id: int, geojson: object, actor: str,
                    idempotency_key: str | None = None) -> dict[str, Any]:
    """Record a case's burned-area polygon (GeoJSON, lon/lat: see core.geometry)."""
    geom = burned_geometry(geojson)
    mapped = json.loads(json.dumps(geom.__geo_interface__))

    def action(ctx: WriteContext) -> dict[str, Any]:
        case = get_case(ctx.session, case_id, lock=True)
        case.burned_polygon = mapped
        return {"case_id": case.id, "burned_ha": round(geodesic_area_ha(geom), 4)}

    return run_write(session, kind="case.burned_area", actor=actor,
                     request={"case_id": case_id, "geometry": mapped}, action=action,
                     idempotency_key=idempotency_key)


def credited_by_parcel(session: Session, project_id: int) -> dict[str, float]:
    """Parcel number -> tCO2e issued to the owner from it, over all issued reports.

    Each report's owner units (issued minus the buffer part) are apportioned to its
    parcels in proportion to their positive stock change ΔC; a parcel that lost volume
    in a period was credited nothing for it."""
    credited: dict[str, float] = {}
    reports = session.scalars(
        select(MonitoringReport).where(MonitoringReport.project_id == project_id,
                                       MonitoringReport.status == "issued")
        .order_by(MonitoringReport.period_end))
    for report in reports:
        owner_t = (report.quantity - (report.buffer_quantity or 0)) / 100
        gains = {row["number"]: max(float(row["delta_c_t"]), 0.0)
                 for row in report.result["parcels"]}
        total = sum(gains.values())
        if owner_t <= 0 or total <= 0:
            continue
        for number, gain in gains.items():
            credited[number] = credited.get(number, 0.0) + owner_t * gain / total
    return credited


def units_up(tonnes: float) -> int:
    """tCO2e -> hundredths, rounded up; 6-place rounding first absorbs float noise."""
    if tonnes <= 0:
        return 0
    return math.ceil(Decimal(repr(round(tonnes, 6))).scaleb(2))


def assess(session: Session, burned_polygon: dict[str, Any] | None
           ) -> dict[int, dict[str, Any]]:
    """Per affected project: each burned parcel's share and loss (pure reads)."""
    if not burned_polygon:
        raise InvalidInput("案件没有过火范围", "the case has no burned-area polygon")
    burned = burned_geometry(burned_polygon)
    minx, miny, maxx, maxy = burned.bounds
    candidates = session.scalars(select(Parcel).where(
        Parcel.maxx >= minx, Parcel.minx <= maxx, Parcel.maxy >= miny, Parcel.miny <= maxy)
        .order_by(Parcel.id))
    projects: dict[int, dict[str, Any]] = {}
    credits: dict[int, dict[str, float]] = {}
    for parcel in candidates:
        geometry = from_wkt(parcel.geometry_wkt)
        overlap = geometry.intersection(burned)
        if overlap.is_empty:
            continue
        if parcel.project_id not in credits:
            credits[parcel.project_id] = credited_by_parcel(session, parcel.project_id)
        credited = credits[parcel.project_id].get(parcel.number)
        if not credited:  # nothing credited from this parcel: nothing to reverse
            continue
        burned_ha = geodesic_area_ha(overlap)
        parcel_ha = geodesic_area_ha(geometry)
        share = min(1.0, burned_ha / parcel_ha)
        entry = projects.setdefault(parcel.project_id, {"parcels": [], "lost_t": 0.0})
        entry["parcels"].append({
            "parcel_id": parcel.id, "number": parcel.number, "species": parcel.species,
            "parcel_ha": round(parcel_ha, 6), "burned_ha": round(burned_ha, 6),
            "share": round(share, 8), "credited_t": round(credited, 6),
            "lost_t": round(credited * share, 6)})
        entry["lost_t"] += credited * share
    for entry in projects.values():
        entry["lost"] = units_up(entry["lost_t"])
    return projects


def reverse(session: Session, *, case_id: int, actor: str,
            idempotency_key: str | None = None) -> dict[str, Any]:
    """Cancel the burned share of the credited carbon from the buffer; flag and report any
    shortfall."""

    def action(ctx: WriteContext) -> dict[str, Any]:
        case = get_case(ctx.session, case_id, lock=True)
        if ctx.session.scalar(select(Reversal.id).where(Reversal.case_id == case_id)):
            raise Conflict(f"案件 {case.number} 的逆转已记录",
                           f"the reversal of case {case.number} is recorded already")
        affected = assess(ctx.session, case.burned_polygon)
        buffer = system_account(ctx.session, "buffer")
        available = held_units(ctx.session, buffer.id, "FCS")
        results = []
        for project_id, entry in sorted(affected.items()):
            project = get_project(ctx.session, project_id)
            lost = int(entry["lost"])
            take = min(lost, available)
            cancellation_id = None
            if take:
                cancelled = registry.cancel_in(
                    ctx, from_account=buffer.id, product="FCS", quantity=take,
                    reason=f"逆转 reversal: case {case.number}, project {project_id}")
                cancellation_id = int(cancelled["id"])
                available -= take
            shortfall = lost - take
            if shortfall:
                project.status = "flagged"
            row = Reversal(case_id=case.id, project_id=project_id, lost=lost, cancelled=take,
                           shortfall=shortfall, cancellation_id=cancellation_id,
                           detail={"parcels": entry["parcels"],
                                   "lost_t": round(entry["lost_t"], 6)})
            ctx.session.add(row)
            ctx.session.flush()
            results.append({"id": row.id, "project_id": project_id, "lost": lost,
                            "cancelled": take, "shortfall": shortfall,
                            "cancellation_id": cancellation_id, "parcels": entry["parcels"],
                            "project_flagged": bool(shortfall)})
        ctx.records["reversals"] = results
        return {"case_id": case.id, "reversals": results,
                "shortfall": sum(r["shortfall"] for r in results)}

    return run_write(session, kind="reversal", actor=actor, request={"case_id": case_id},
                     action=action, idempotency_key=idempotency_key)
