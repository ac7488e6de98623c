"""The fire method's batch path against bare numpy, on 1,000,000 generated fires.

Writes a CSV of N fires (seeded), reads it back through the CLI's reader, runs
`estimate_batch` on the arrays, and in the same run evaluates Eq. 2.27 with bare
numpy on the same arrays (same factors). Prints fires/s for both, the end-to-end
rate including CSV parsing, peak memory, and `ratio=<bare time / batch time>`
(1.0: no overhead; target at least 0.33).

    .venv/bin/python bench/fire.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import csv
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from qinglu.methods import fire
from qinglu.methods.cli import read_fires

ON = date(2026, 1, 1)


def generate(path: Path, n: int) -> None:
    rng = np.random.default_rng(2026)
    areas = rng.uniform(1, 2000, n).round(2)
    categories = rng.choice([0, 2, 3], n)
    fuel = rng.uniform(0.5, 60, n).round(2)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "area", "unit", "vegetation", "fuel_consumed"])
        for i in range(n):
            writer.writerow([i, areas[i], "mu", fire.CATEGORIES[categories[i]], fuel[i]])


def bare_numpy(area_ha: np.ndarray, category: np.ndarray, fuel: np.ndarray,
               fs: fire.FactorSet) -> np.ndarray:
    """Eq. 2.27 and the CO2e sum written out directly: the baseline."""
    dm = area_ha * fuel
    f = fs.factors[category]
    co2 = dm * f[:, fs.species.index("CO2")] * 1e-3
    ch4 = dm * f[:, fs.species.index("CH4")] * 1e-3
    n2o = dm * f[:, fs.species.index("N2O")] * 1e-3
    others = [dm * f[:, j] * 1e-3 for j, s in enumerate(fs.species) if s not in fire.GREENHOUSE]
    co2e = co2 + ch4 * fs.gwp["CH4"] + n2o * fs.gwp["N2O"]
    del others
    return np.ceil(np.round(co2e * 100, 6)).astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fires.csv"
        generate(path, args.n)
        started = time.perf_counter()
        fires = read_fires(path)
        parse_s = time.perf_counter() - started
    fs = fire.factor_set(fire.DEFAULT_EF_SET, fire.DEFAULT_GWP_SET, ON)
    args_arrays = (fires["area_ha"], fires["vegetation"], fires["fuel_consumed"])
    best_batch = best_bare = float("inf")
    for _ in range(3):  # best of three, each path on the same arrays
        t0 = time.perf_counter()
        out = fire.estimate_batch(*args_arrays, on=ON)
        best_batch = min(best_batch, time.perf_counter() - t0)
        t0 = time.perf_counter()
        baseline = bare_numpy(*args_arrays, fs)
        best_bare = min(best_bare, time.perf_counter() - t0)
    assert np.array_equal(out["obligation_units"], baseline), "batch and bare numpy disagree"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.n
    print(f"fires={n} csv_parse={parse_s:.2f}s ({n / parse_s:,.0f}/s)")
    print(f"batch path: {best_batch * 1000:.1f} ms ({n / best_batch:,.0f} fires/s)")
    print(f"bare numpy: {best_bare * 1000:.1f} ms ({n / best_bare:,.0f} fires/s)")
    print(f"end to end incl. CSV: {n / (parse_s + best_batch):,.0f} fires/s; "
          f"peak memory {peak_mb:.0f} MB")
    print(f"ratio={best_bare / best_batch:.3f}")


if __name__ == "__main__":
    main()
