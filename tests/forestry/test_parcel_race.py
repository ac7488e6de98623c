"""Racing parcel imports on PostgreSQL: of several imports of overlapping parcels into
different projects started at once, exactly one is registered; never two overlapping."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from shapely import box
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.forestry import parcels
from tests import factories as f

LON, LAT = 108.40, 26.70
STEP = 0.002
RACERS = 6
ROUNDS = 4

# Registered pairs of different projects overlapping beyond the tolerance (none allowed).
OVERLAPPING_PAIRS = text("""
SELECT count(*) FROM parcels a JOIN parcels b
  ON a.id < b.id AND a.project_id <> b.project_id AND ST_Intersects(a.geom, b.geom)
 WHERE ST_Area(geography(ST_Intersection(a.geom, b.geom)))
       > GREATEST(:m2, :share * LEAST(a.area_ha, b.area_ha) * 10000)
""")


def draft(number: str, geometry: Any) -> parcels.ParcelDraft:
    return parcels.ParcelDraft(row=f"row {number}", number=number, species="杉木", age=10,
                               volume=8.0, owner=None, village=None, geometry=geometry,
                               area_ha=parcels.geodesic_area_ha(geometry))


def _import(factory: sessionmaker[Session], project: int, parcel: parcels.ParcelDraft,
            start: threading.Barrier, outcomes: list[str]) -> None:
    with factory() as session:
        start.wait()
        try:
            parcels.register(session, project_id=project, actor="test", drafts=[parcel],
                             problems=[])
            outcomes.append("registered")
        except parcels.OverlapConflict:
            outcomes.append("refused")


@pytest.mark.slow
def test_racing_imports_never_register_overlapping_parcels(
        pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each write holds its transaction open a little longer after its check, so that
    # without the region lock every racer's check would pass before any commit.
    make_row = parcels._row

    def slow_row(project_id: int, d: parcels.ParcelDraft) -> Any:
        time.sleep(0.05)
        return make_row(project_id, d)

    monkeypatch.setattr(parcels, "_row", slow_row)
    engine = make_engine(pg_database_url, pool_size=RACERS + 1)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            projects = [f.project(session) for _ in range(RACERS)]
        for round_ in range(ROUNDS):
            start = threading.Barrier(RACERS)
            outcomes: list[str] = []

            threads = []
            for k in range(RACERS):
                x = LON + round_ * 3 * STEP + k * STEP / 10  # each shifted a tenth
                geometry = box(x, LAT, x + STEP, LAT + STEP)
                threads.append(threading.Thread(target=_import, args=(
                    factory, projects[k], draft(f"{round_}-{k}", geometry), start, outcomes)))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert sorted(outcomes) == ["refused"] * (RACERS - 1) + ["registered"], outcomes
        with factory() as session:
            assert session.scalar(text("SELECT count(*) FROM parcels")) == ROUNDS
            assert session.scalar(OVERLAPPING_PAIRS, {
                "m2": parcels.TOLERANCE_M2, "share": parcels.TOLERANCE_SHARE}) == 0
    finally:
        engine.dispose()
