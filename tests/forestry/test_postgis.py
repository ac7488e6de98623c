"""Parcels in PostGIS: the geometry column and its GiST index, the overlap rule as one
indexed query, and the same rule and refusal wording on both backends."""

from __future__ import annotations

import random
from typing import Any

import pytest
from shapely import box
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qinglu.core.quantities import M2_PER_HA
from qinglu.forestry import parcels
from qinglu.forestry.models import Parcel
from tests import factories as f

A = "test"
LON, LAT = 108.40, 26.70  # Jianhe county
STEP = 0.002  # ~199 m x 222 m: ~4.42 ha, so 0.5 % is ~221 m²


def draft(number: str, geometry: Any) -> parcels.ParcelDraft:
    return parcels.ParcelDraft(row=f"row {number}", number=number, species="杉木", age=10,
                               volume=8.0, owner=None, village=None, geometry=geometry,
                               area_ha=parcels.geodesic_area_ha(geometry))


def register(session: Session, project: int, drafts: list[parcels.ParcelDraft]) -> Any:
    return parcels.register(session, project_id=project, drafts=drafts, problems=[], actor=A)


def test_the_tolerance_is_one_rule() -> None:
    assert parcels.overlap_allowed(10.0, 100.0)  # 10 m² always allowed
    assert not parcels.overlap_allowed(10.1, 100.0)
    assert parcels.overlap_allowed(221.0, 44_200.0)  # 0.5 % of the smaller parcel
    assert not parcels.overlap_allowed(222.0, 44_200.0)


@pytest.mark.parametrize(("strip", "refused"), [
    (0.0000090, False),  # ~0.90 m x 222 m = ~199 m²: under 0.5 % of 4.42 ha (~221 m²)
    (0.0000110, True),   # ~1.09 m wide: ~243 m², over it
])
def test_same_decision_and_wording_on_both_backends(session: Session, strip: float,
                                                    refused: bool) -> None:
    first, second = f.project(session), f.project(session)
    register(session, first, [draft("1", box(LON, LAT, LON + STEP, LAT + STEP))])
    # The second project's parcel reaches `strip` degrees into the first one.
    x = LON + STEP - strip
    probe = draft("9", box(x, LAT, x + STEP, LAT + STEP))
    if not refused:
        assert [p["number"] for p in register(session, second, [probe]).imported] == ["9"]
        return
    with pytest.raises(parcels.OverlapConflict) as caught:
        register(session, second, [probe])
    overlap = parcels.geodesic_area_ha(box(x, LAT, LON + STEP, LAT + STEP)) * M2_PER_HA
    assert f"overlaps parcel 1 of project {first} by {round(overlap, 1)} m²" in str(
        caught.value.en)
    assert f"与项目 {first} 的小班 1 重叠" in caught.value.zh


def test_postgis_and_shapely_find_the_same_conflicts(pg_database_url: str) -> None:
    """On one PostgreSQL database: the indexed query and the STRtree path agree on
    random probes over a grid; PostGIS's overlap areas are the geodesic ones."""
    from qinglu.db.engine import make_engine, make_session_factory

    engine = make_engine(pg_database_url)
    try:
        with make_session_factory(engine)() as session:
            owner, other = f.project(session), f.project(session)
            grid = [draft(f"{i}-{j}", box(LON + i * STEP, LAT + j * STEP,
                                          LON + (i + 1) * STEP, LAT + (j + 1) * STEP))
                    for i in range(10) for j in range(10)]
            register(session, owner, grid)
            rng = random.Random(17)
            probes = []
            for _ in range(200):
                x, y = LON + rng.uniform(-1, 11) * STEP, LAT + rng.uniform(-1, 11) * STEP
                size = rng.uniform(0.01, 1.2) * STEP
                probes.append(box(x, y, x + size, y + size))
            areas = [parcels.geodesic_area_ha(g) * M2_PER_HA for g in probes]
            ours = parcels.postgis_conflicts(session, probes, areas, other)
            index = parcels.ParcelIndex.for_session(session)
            theirs = index.conflicts_many(probes, other)
            assert sum(map(len, ours)) > 50  # the probes do hit
            by_number = {d.number: d.geometry for d in grid}
            for probe, mine, shapely_found in zip(probes, ours, theirs, strict=True):
                shapely_found = sorted(shapely_found, key=lambda c: c["parcel_id"])
                assert [c["number"] for c in mine] == [c["number"] for c in shapely_found]
                for conflict in mine:  # PostGIS's spheroid area is pyproj's geodesic one
                    stored = [parcels.from_wkt(parcels.to_wkt(g, rounding_precision=8))
                              for g in (probe, by_number[conflict["number"]])]
                    exact = parcels.geodesic_area_ha(
                        stored[0].intersection(stored[1])) * M2_PER_HA
                    assert conflict["overlap_m2"] == pytest.approx(exact, abs=0.06)
            # A project's own parcels never conflict with it.
            assert not any(parcels.postgis_conflicts(session, probes, areas, owner))
    finally:
        engine.dispose()


def test_geometry_column_is_kept_by_the_database_and_indexed(pg_database_url: str) -> None:
    from qinglu.db.engine import make_engine, make_session_factory

    engine = make_engine(pg_database_url)
    try:
        with make_session_factory(engine)() as session:
            project = f.project(session)
            register(session, project, [draft("1", box(LON, LAT, LON + STEP, LAT + STEP))])
            wkt, geom, srid = session.execute(text(
                "SELECT geometry_wkt, ST_AsText(geom), ST_SRID(geom) FROM parcels")).one()
            assert srid == parcels.SRID
            assert parcels.from_wkt(geom).equals(parcels.from_wkt(wkt))
            # The column follows the WKT: no write path can leave them apart.
            parcel = session.scalars(select(Parcel)).one()
            parcel.geometry_wkt = parcels.to_wkt(box(LON, LAT, LON + STEP / 2, LAT + STEP))
            session.commit()
            area = session.scalar(text("SELECT ST_Area(geography(geom)) FROM parcels"))
            assert area == pytest.approx(parcels.geodesic_area_ha(
                box(LON, LAT, LON + STEP / 2, LAT + STEP)) * M2_PER_HA, rel=1e-6)
            # The overlap query goes through the GiST index.
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(session.execute(text(
                "EXPLAIN " + parcels.POSTGIS_CONFLICTS.text), {
                    "srid": parcels.SRID, "wkts": ["POINT(108.4 26.7)"], "areas": [1.0],
                    "project_id": 0, "m2_per_ha": M2_PER_HA, "tolerance_m2": 10.0,
                    "tolerance_share": 0.005}).scalars())
            assert "ix_parcels_geom" in plan
            session.rollback()
    finally:
        engine.dispose()
