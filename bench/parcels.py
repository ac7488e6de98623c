"""Parcel registration with the overlap check, on SQLite, against a bare STRtree loop.

Registers N generated non-overlapping parcels (default 100,000, a grid of ~1 mu squares
in Jianhe county) to project A through the real import path (`parcels.register`: the
in-file overlap check, the check against every registered parcel of other projects,
one ledger write per batch), then checks M new parcels (default 10,000) for project B
against them in one vectorised pass, `ParcelIndex.conflicts_many` (what an import does:
it is all-or-nothing, so the whole file is checked at once); 10 % are shifted a quarter
cell (each overlaps four registered parcels: a conflict), 45 % touch a registered
parcel's border, 45 % lie clear of the grid. The same M geometries then go through a
bare `shapely.STRtree.query(g, predicate="intersects")` loop over the same registered
geometries, and, for reference, one bare bulk query and our one-at-a-time path
(`conflicts`). Prints parcels/s, µs per check, and `ratio=<ours / bare loop>` as the
last line.

    .venv/bin/python bench/parcels.py [--parcels 100000] [--checks 10000] [--batch 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from shapely import STRtree, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.forestry import parcels  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402

LON, LAT = 108.20, 26.50
CELL = 0.0003  # ~30 m x 33 m, about 1.5 mu
COLUMNS = 400


def cell(i: int, shift: float = 0.0, offset_lat: float = 0.0):  # type: ignore[no-untyped-def]
    x = LON + (i % COLUMNS) * CELL + shift
    y = LAT + (i // COLUMNS) * CELL + shift + offset_lat
    return box(x, y, x + CELL * 0.999, y + CELL * 0.999)


def draft(i: int, geometry) -> parcels.ParcelDraft:  # type: ignore[no-untyped-def]
    return parcels.ParcelDraft(row=f"row {i}", number=f"B-{i}", species="杉木", age=10,
                               volume=8.0, owner=None, village=None, geometry=geometry,
                               area_ha=parcels.geodesic_area_ha(geometry))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=2_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qinglu-bench-parcels-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        project_a = registry.add_project(session, name="A", product="FCS", region="522629",
                                        methodology="bench", actor="bench")["id"]
        project_b = registry.add_project(session, name="B", product="FCS", region="522629",
                                        methodology="bench", actor="bench")["id"]
        geometries = [cell(i) for i in range(args.parcels)]
        started = time.perf_counter()
        for first in range(0, args.parcels, args.batch):
            batch = [draft(i, geometries[i]) for i in
                     range(first, min(first + args.batch, args.parcels))]
            parcels.register(session, project_id=project_a, drafts=batch, problems=[],
                             actor="bench")
        registered_s = time.perf_counter() - started
        print(f"registered {args.parcels:,} parcels in {registered_s:.1f} s "
              f"({args.parcels / registered_s:,.0f} parcels/s, batches of {args.batch:,})")

        # The new parcels: 10 % overlap registered ones by a quarter cell each way (a real
        # conflict, four parcels each), 45 % share borders exactly with registered parcels
        # (a neighbouring project's parcels: touching is allowed), 45 % lie clear.
        rows = -(-args.parcels // COLUMNS)
        n_overlap = args.checks // 10
        n_touch = (args.checks - n_overlap) // 2
        kinds = (["overlap"] * n_overlap + ["touch"] * n_touch
                 + ["clear"] * (args.checks - n_overlap - n_touch))
        probes = []
        for k, kind in enumerate(kinds):
            i = k * 7 % args.parcels
            if kind == "overlap":
                probes.append(cell(i, shift=CELL / 4))
            elif kind == "touch":  # exactly the registered cell's east neighbour gap-free
                g = geometries[i]
                x0 = g.bounds[2]
                probes.append(box(x0, g.bounds[1], x0 + CELL * 0.001, g.bounds[3]))
            else:
                probes.append(cell(i, offset_lat=(rows + 2) * CELL))
        index = parcels.ParcelIndex.for_session(session)
        timings: dict[str, float] = {}
        found = 0
        for kind in ("overlap", "touch", "clear"):
            group = [g for k, g in zip(kinds, probes, strict=True) if k == kind]
            started = time.perf_counter()
            found += sum(bool(c) for c in index.conflicts_many(group, project_b))
            timings[kind] = time.perf_counter() - started
        started = time.perf_counter()
        batch_found = sum(bool(c) for c in index.conflicts_many(probes, project_b))
        ours = time.perf_counter() - started
        assert batch_found == found
        started = time.perf_counter()
        single_found = sum(bool(index.conflicts(g, project_b)) for g in probes)
        single = time.perf_counter() - started
        assert single_found == found, (single_found, found)
    engine.dispose()

    tree = STRtree(geometries)
    bare_timings: dict[str, float] = {"overlap": 0.0, "touch": 0.0, "clear": 0.0}
    hits = 0
    for kind, g in zip(kinds, probes, strict=True):
        started = time.perf_counter()
        hits += len(tree.query(g, predicate="intersects")) > 0
        bare_timings[kind] += time.perf_counter() - started
    bare = sum(bare_timings.values())
    started = time.perf_counter()
    bulk = tree.query(np.array(probes, dtype=object), predicate="intersects")
    bare_bulk = time.perf_counter() - started
    print(f"checked {args.checks:,} new parcels in one pass: {found:,} refused for overlap; "
          f"{ours / args.checks * 1e6:.1f} µs per check")
    print(f"  one at a time (conflicts): {single / args.checks * 1e6:.1f} µs per check, "
          f"same {single_found:,} refused")
    print(f"bare STRtree query loop: {hits:,} intersect; {bare / args.checks * 1e6:.1f} µs "
          "per query")
    print(f"  bare bulk query: {len(set(bulk[0].tolist())):,} intersect; "
          f"{bare_bulk / args.checks * 1e6:.1f} µs per geometry "
          f"(ours / bulk {ours / bare_bulk:.2f})")
    for kind in timings:
        count = kinds.count(kind)
        print(f"  {kind:8} {count:6,}: ours (batch) {timings[kind] / count * 1e6:6.1f} µs, bare "
              f"{bare_timings[kind] / count * 1e6:5.1f} µs, "
              f"ratio {timings[kind] / bare_timings[kind]:.2f}")
    print(f"ratio={ours / bare:.2f}")


if __name__ == "__main__":
    main()
