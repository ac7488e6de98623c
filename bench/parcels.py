"""Parcel overlap checks on PostGIS with 1,000,000 registered parcels, against a bare
indexed `ST_Intersects` query in the same run.

Registers N parcels (default 1,000,000: a 1,000 x 1,000 grid of ~1.5 mu squares in
Jianhe county) for project A in bulk with one SQL statement (generate_series; each row's
WKT and geodesic area made in SQL, its `geom` computed by the database as every parcel's
is, the GiST index built afterwards), in a database of its own (`qinglu_parcels`, reused
by later runs while it holds N parcels). The import path itself is not what is timed:
bulk rows are the same rows it writes. Then M probes for project B (default 4,000: 10 %
shifted a quarter cell, overlapping four parcels each, a conflict; 45 % touching a
parcel's border; 45 % clear of the grid) are each checked one at a time, alternately by

- ours: `parcels.postgis_conflicts` (what an import runs: the indexed ST_Intersects,
  the overlap's area on the spheroid, the tolerance), and
- bare: `SELECT id FROM parcels WHERE ST_Intersects(geom, <probe>)`,

each a round trip on the same connection. Prints µs per check, by kind, and
`ratio=<bare / ours>` as the last line (target >= 0.33: ours within 3x of bare).

    .venv/bin/python bench/parcels.py [--parcels 1000000] [--checks 4000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from shapely import box, to_wkt
from shapely.geometry.base import BaseGeometry
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import pg_url  # noqa: E402
from qinglu.core.quantities import M2_PER_HA  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.forestry import parcels  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402

DATABASE = "qinglu_parcels"
LON, LAT = 108.20, 26.50
CELL = 0.0003  # ~30 m x 33 m, about 1.5 mu
COLUMNS = 1000

GENERATE = text("""
INSERT INTO parcels (project_id, number, species, age, area_ha, volume_m3_per_mu,
                     geometry_wkt, minx, miny, maxx, maxy, created_at)
SELECT :project, 'A-' || i, '杉木', 10, ST_Area(geography(ST_GeomFromText(w, 4490))) / 1e4,
       8.0, w, x, y, x + :side, y + :side, now()
  FROM generate_series(0, :n - 1) AS i,
       LATERAL (SELECT :lon + (i % :columns) * :cell AS x,
                       :lat + (i / :columns) * :cell AS y) AS corner,
       LATERAL (SELECT format('POLYGON((%s %s,%s %s,%s %s,%s %s,%s %s))',
                              x, y, x + :side, y, x + :side, y + :side, x, y + :side, x, y)
                       AS w) AS shape
""")
BARE = text("SELECT id FROM parcels WHERE ST_Intersects(geom, ST_GeomFromText(:wkt, 4490))")


def cell(i: int, shift: float = 0.0, offset_lat: float = 0.0) -> BaseGeometry:
    x = LON + (i % COLUMNS) * CELL + shift
    y = LAT + (i // COLUMNS) * CELL + shift + offset_lat
    return box(x, y, x + CELL * 0.999, y + CELL * 0.999)


def database_url(base: str) -> str:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                       {"d": DATABASE}) is None:
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return make_url(base).set(database=DATABASE).render_as_string(hide_password=False)


def generate(url: str, n: int) -> tuple[int, int]:
    """Projects A (holding n parcels) and B; generated unless an earlier run left them."""
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        ids = session.execute(text("SELECT id FROM projects WHERE name IN ('A', 'B') "
                                   "ORDER BY name")).scalars().all()
        if len(ids) == 2 and session.scalar(text(
                "SELECT count(*) FROM parcels WHERE project_id = :p"), {"p": ids[0]}) == n:
            print(f"reusing {n:,} parcels in database {DATABASE}")
            engine.dispose()
            return ids[0], ids[1]
        session.execute(text("TRUNCATE parcels CASCADE"))
        session.commit()
        a, b = (registry.add_project(session, name=name, product="FCS", region="522629",
                                     methodology="bench", actor="bench")["id"]
                for name in ("A", "B"))
        started = time.perf_counter()
        session.execute(text("DROP INDEX ix_parcels_geom"))
        session.execute(GENERATE, {"project": a, "n": n, "lon": LON, "lat": LAT,
                                   "columns": COLUMNS, "cell": CELL, "side": CELL * 0.999})
        session.execute(text("CREATE INDEX ix_parcels_geom ON parcels USING gist (geom)"))
        session.commit()
        session.connection().execute(text("ANALYZE parcels"))
        session.commit()
        print(f"generated {n:,} parcels in {time.perf_counter() - started:.1f} s (bulk SQL)")
    engine.dispose()
    return a, b


def probes_of(n: int, checks: int) -> tuple[list[str], list[BaseGeometry]]:
    rows = -(-n // COLUMNS)
    n_overlap = checks // 10
    n_touch = (checks - n_overlap) // 2
    kinds = ["overlap"] * n_overlap + ["touch"] * n_touch + [
        "clear"] * (checks - n_overlap - n_touch)
    probes = []
    for k, kind in enumerate(kinds):
        i = k * 7919 % n
        if kind == "overlap":
            probes.append(cell(i, shift=CELL / 4))
        elif kind == "touch":  # a sliver sharing the cell's east border, gap-free
            minx, miny, maxx, maxy = cell(i).bounds
            probes.append(box(maxx, miny, maxx + CELL * 0.001, maxy))
        else:
            probes.append(cell(i, offset_lat=(rows + 2) * CELL))
    return kinds, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=4_000)
    args = parser.parse_args()
    url = database_url(pg_url())
    _a, project_b = generate(url, args.parcels)
    kinds, probes = probes_of(args.parcels, args.checks)
    ours = {kind: 0.0 for kind in ("overlap", "touch", "clear")}
    bare = dict.fromkeys(ours, 0.0)
    refused = hits = 0
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for kind, probe in zip(kinds, probes, strict=True):  # alternate, to share the noise
            area = parcels.geodesic_area_ha(probe) * M2_PER_HA
            started = time.perf_counter()
            refused += bool(parcels.postgis_conflicts(session, [probe], [area], project_b)[0])
            ours[kind] += time.perf_counter() - started
            started = time.perf_counter()
            hits += bool(session.execute(BARE, {"wkt": to_wkt(probe, rounding_precision=8)})
                         .first())
            bare[kind] += time.perf_counter() - started
        session.rollback()
        started = time.perf_counter()
        batch = parcels.postgis_conflicts(
            session, probes, [parcels.geodesic_area_ha(p) * M2_PER_HA for p in probes],
            project_b)
        batch_s = time.perf_counter() - started
        assert sum(bool(c) for c in batch) == refused
    engine.dispose()
    total_ours, total_bare = sum(ours.values()), sum(bare.values())
    print(f"{args.checks:,} checks one at a time against {args.parcels:,} parcels: "
          f"{refused:,} refused for overlap, {hits:,} intersect")
    print(f"  ours (postgis_conflicts) {total_ours / args.checks * 1e6:.0f} µs per check, "
          f"bare ST_Intersects {total_bare / args.checks * 1e6:.0f} µs")
    for kind in ours:
        count = kinds.count(kind)
        print(f"  {kind:8} {count:6,}: ours {ours[kind] / count * 1e6:6.0f} µs, bare "
              f"{bare[kind] / count * 1e6:6.0f} µs")
    print(f"  all {args.checks:,} in one query (as an import checks its file): "
          f"{batch_s / args.checks * 1e6:.0f} µs per parcel")
    print(f"ratio={total_bare / total_ours:.2f}")


if __name__ == "__main__":
    main()
