"""Basin compensation: a year of monthly data for 55 sections × 8 basins, assessed and
settled, against a bare numpy evaluation of the same formulas in the same run.

Generates (seeded) 8 basins of 25 water-quality sections (13 under a class-step rule,
12 under a pollutant-load rule on CODMn, NH3-N and TP) and 30 water-quantity sections
(monthly volume and minimum release flow against monthly targets), between 9
prefectures and the province, and 12 months of monitoring data for each (5,280 rows).

1. The method: water class (GB 3838-2002 Table 1), every monthly rule and the yearly
   netting per pair of parties, through the batch path the assessment action calls
   (`water.classify_batch`, `basin.assess_monthly`, `basin.net_by_pair`: exact int64
   fen, the money rule), against the same formulas written out in bare float numpy.
   Both must give the same net per pair to the fen. Best of 50 runs each.
2. The whole path on SQLite: the basins, sections and rules registered, the monitoring
   files imported (all-or-nothing checks), every month assessed (5,280 signed monthly
   statements) and the year settled (signed statements per pair).

Prints the times and `ratio=<bare numpy time / method time>` (target at least 0.3).

    .venv/bin/python bench/basin.py
"""

from __future__ import annotations

import argparse
import calendar
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qinglu.methods import basin, water
from qinglu.methods.basin_units import CONCENTRATION, FLOW, VOLUME, to_base

YEAR = 2024
BASINS = ("wujiang", "yuanjiang", "niulan", "liujiang", "nanpan", "beipan", "hongshui",
          "chishui")
PREFECTURES = ("520100", "520200", "520300", "520400", "520500", "520600", "522300",
               "522600", "522700")
PROVINCE = "520000"
QUALITY_STEP, QUALITY_LOAD, QUANTITY = 13, 12, 30
LOAD_RATES = {"CODMn": "0.1", "NH3-N": "0.7", "TP": "1"}  # 万元/t, Guizhou 2014's form
COLUMNS = ("codmn", "nh3n", "tp")


@dataclass
class Section:
    basin: str
    code: str
    kind: str  # class_step | pollutant_load | quantity
    up: str
    down: str
    params: dict[str, Any]
    months: list[dict[str, str]] = field(default_factory=list)  # figures with units


def _months(values: list[float]) -> dict[str, str]:
    return {str(m): f"{v:.0f}" for m, v in zip(range(1, 13), values, strict=True)}


def scenario(seed: int = 2026) -> list[Section]:
    rng = np.random.default_rng(seed)
    sections = []
    for b, name in enumerate(BASINS):
        for n in range(QUALITY_STEP + QUALITY_LOAD + QUANTITY):
            up, down = rng.choice(PREFECTURES, 2, replace=False)
            if n % 11 == 10:
                down = PROVINCE  # a section leaving the province
            kind = ("class_step" if n < QUALITY_STEP else
                    "pollutant_load" if n < QUALITY_STEP + QUALITY_LOAD else "quantity")
            flow = rng.uniform(5, 600) * (0.5 + 0.5 * np.sin(np.arange(12) / 12 * np.pi) * 1.6)
            if kind == "class_step":
                params: dict[str, Any] = {
                    "target_class": "II", "better_per_class": "20", "worse_per_class": "20",
                    "amount_unit": "万元", "direction": "two_way", "waterbody": "river"}
            elif kind == "pollutant_load":
                params = {"indicators": {k: {"rate": v} for k, v in LOAD_RATES.items()},
                          "target_class": "II", "rate_unit": "万元/t", "direction": "one_way",
                          "waterbody": "river"}
            else:
                days = [calendar.monthrange(YEAR, m)[1] for m in range(1, 13)]
                params = {"volume_unit": "万m3", "flow_unit": "m3/s", "amount_unit": "万元",
                          "volume_targets": _months([f * d * 8.64 * 0.85
                                                     for f, d in zip(flow, days, strict=True)]),
                          "min_flow_targets": _months(list(flow * 0.3)),
                          "volume_attained": "5", "volume_missed": "5", "flow_attained": "5",
                          "flow_missed": "5"}
            section = Section(name, f"{name[:2].upper()}-{b}{n:02d}", kind, str(up), str(down),
                              params)
            for m in range(12):
                month_days = calendar.monthrange(YEAR, m + 1)[1]
                wobble = rng.uniform(0.7, 1.15)
                section.months.append({
                    "codmn": f"{rng.uniform(1.5, 6.5):.2f}", "nh3n": f"{rng.uniform(0.1, 1.2):.3f}",
                    "tp": f"{rng.uniform(0.01, 0.3):.3f}",
                    "volume": f"{flow[m] * wobble * month_days * 8.64:.0f}",
                    "min_flow": f"{flow[m] * wobble * 0.33:.3f}"})
            sections.append(section)
    return sections


@dataclass
class Arrays:
    """The scenario in base units, as the assessment action hands it to the method."""

    rows: int
    pair: np.ndarray  # pair index of each monitoring row
    pairs: int
    sign: np.ndarray  # +1 when the pair's first party is the row's downstream party
    conc: dict[str, np.ndarray]
    step: basin.StepBatch | None
    step_rows: np.ndarray
    load: basin.LoadBatch
    quantity: basin.QuantityBatch
    limits: water.Limits


def arrays(sections: list[Section]) -> Arrays:
    limits = water.limits_on("river", date(YEAR, 1, 1))
    rows: list[dict[str, str]] = []
    pair_of: list[int] = []
    sign: list[int] = []
    pair_ids: dict[tuple[str, str], int] = {}
    step_rows, load_ev, qty_ev = [], [], []
    for section in sections:
        rule = basin.parse_rule(section.kind, section.params)
        a, b = sorted((section.up, section.down))
        index = pair_ids.setdefault((a, b), len(pair_ids))
        for m, figures in enumerate(section.months):
            row = len(rows)
            rows.append(figures)
            pair_of.append(index)
            sign.append(1 if a == section.down else -1)
            if isinstance(rule, basin.ClassStepRule):
                step_rows.append((row, rule))
            elif isinstance(rule, basin.LoadRule):
                for name in rule.indicators:
                    load_ev.append((row, name, rule))
            elif isinstance(rule, basin.QuantityRule):
                qty_ev.append((row, "volume", rule.volume_targets[m + 1], rule.volume_attained_fen,
                               rule.volume_missed_fen))
                qty_ev.append((row, "min_flow", rule.flow_targets[m + 1], rule.flow_attained_fen,
                               rule.flow_missed_fen))
    conc = {name: np.array([to_base(CONCENTRATION, r[col], "mg/L", what=name) for r in rows],
                           dtype=np.int64)
            for name, col in zip(("CODMn", "NH3-N", "TP"), COLUMNS, strict=True)}
    volume = np.array([to_base(VOLUME, r["volume"], "万m3", what="v") for r in rows],
                      dtype=np.int64)
    min_flow = np.array([to_base(FLOW, r["min_flow"], "m3/s", what="f") for r in rows],
                        dtype=np.int64)
    srows = np.array([r for r, _ in step_rows], dtype=np.int64)
    step = basin.StepBatch(
        row=srows, klass=np.zeros(len(srows), dtype=np.int64),
        target=np.array([r.target_class for _, r in step_rows], dtype=np.int64),
        better=np.array([r.better_fen for _, r in step_rows], dtype=np.int64),
        worse=np.array([r.worse_fen for _, r in step_rows], dtype=np.int64),
        two_way=np.array([r.two_way for _, r in step_rows], dtype=np.bool_))
    lrows = np.array([r for r, _, _ in load_ev], dtype=np.int64)
    load = basin.LoadBatch(
        row=lrows,
        measured=np.concatenate([conc[name][[r]] for r, name, _ in load_ev]),
        target=np.array([rule.target_on(name, date(YEAR, 1, 1)) for _, name, rule in load_ev],
                        dtype=np.int64),
        volume=volume[lrows],
        rate=np.array([rule.rates[name] for _, name, rule in load_ev], dtype=np.int64),
        two_way=np.array([rule.two_way for _, _, rule in load_ev], dtype=np.bool_))
    qrows = np.array([e[0] for e in qty_ev], dtype=np.int64)
    quantity = basin.QuantityBatch(
        row=qrows,
        value=np.where(np.array([e[1] == "volume" for e in qty_ev]), volume[qrows],
                       min_flow[qrows]),
        target=np.array([e[2] for e in qty_ev], dtype=np.int64),
        attained=np.array([e[3] for e in qty_ev], dtype=np.int64),
        missed=np.array([e[4] for e in qty_ev], dtype=np.int64))
    return Arrays(len(rows), np.array(pair_of, dtype=np.int64), len(pair_ids),
                  np.array(sign, dtype=np.int64), conc, step, srows, load, quantity, limits)


def method_path(a: Arrays) -> np.ndarray:
    """What the assessment and settlement actions run: class, every rule, netting."""
    chosen = {name: values[a.step_rows] for name, values in a.conc.items()}
    klass, _ = water.classify_batch(chosen, a.limits)
    assert a.step is not None
    steps = basin.StepBatch(a.step.row, klass, a.step.target, a.step.better, a.step.worse,
                            a.step.two_way)
    result = basin.assess_monthly(a.rows, steps, a.load, a.quantity)
    _, _, net = basin.net_by_pair(a.pair, result.row_total * a.sign, a.pairs)
    return net


def bare_numpy(a: Arrays, limits_f: dict[str, np.ndarray], conc_f: dict[str, np.ndarray],
               volume_f: np.ndarray, rate_f: np.ndarray, target_f: np.ndarray) -> np.ndarray:
    """The same formulas in plain float numpy: class by searchsorted and max, steps ×
    amount, (measured − target) × volume × 1e-6 × rate × 1e4 rounded to the fen,
    attained ? amount : −amount, sums per pair."""
    classes = np.max([np.searchsorted(limits_f[k], conc_f[k][a.step_rows]) for k in limits_f],
                     axis=0)
    assert a.step is not None
    steps = a.step.target - classes
    step_fen = np.where(steps > 0, steps * a.step.better, steps * a.step.worse)
    excess = np.maximum(conc_f["measured"] - target_f, 0) * volume_f
    load_fen = -np.round(excess * 1e-6 * rate_f * 1e4 * 100)
    qty_fen = np.where(a.quantity.value >= a.quantity.target, a.quantity.attained,
                       -a.quantity.missed)
    total = (np.bincount(a.step.row, step_fen, a.rows) + np.bincount(a.load.row, load_fen, a.rows)
             + np.bincount(a.quantity.row, qty_fen, a.rows))
    return np.bincount(a.pair, total * a.sign, a.pairs).astype(np.int64)


def best(fn: Any, repeats: int) -> tuple[float, Any]:
    fastest, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        fastest = min(fastest, time.perf_counter() - t0)
    return fastest, out


def bench_method(sections: list[Section], repeats: int) -> float:
    a = arrays(sections)
    limits_f = {k: v / 1e4 for k, v in a.limits.by_indicator.items() if k in ("CODMn", "NH3-N",
                                                                              "TP")}
    conc_f = {k: v / 1e4 for k, v in a.conc.items()}
    conc_f["measured"] = a.load.measured / 1e4
    target_f = a.load.target / 1e4
    volume_f = a.load.volume.astype(np.float64)
    rate_f = a.load.rate / 1e6  # 万元/t
    method_s, net = best(lambda: method_path(a), repeats)
    bare_s, baseline = best(lambda: bare_numpy(a, limits_f, conc_f, volume_f, rate_f, target_f),
                            repeats)
    assert np.array_equal(net, baseline), "the method and bare numpy disagree"
    evaluations = len(a.step_rows) + len(a.load.row) + len(a.quantity.row)
    print(f"rows={a.rows} rule evaluations={evaluations} pairs={a.pairs} "
          f"(sum of nets {net.sum() / 100:,.2f} yuan)")
    print(f"method (int64 fen, exact): {method_s * 1e3:.3f} ms")
    print(f"bare numpy (float):        {bare_s * 1e3:.3f} ms")
    return bare_s / method_s


def _csv(sections: list[Section], basin_code: str) -> bytes:
    lines = ["section,month,codmn [mg/L],nh3n [mg/L],tp [mg/L],volume [万m3],min_flow [m3/s]"]
    for s in sections:
        if s.basin != basin_code:
            continue
        for m, f in enumerate(s.months, 1):
            quality = s.kind != "quantity"
            lines.append(",".join([s.code, f"{YEAR}-{m:02d}",
                                   *(f[c] if quality else "" for c in COLUMNS),
                                   f["volume"], f["min_flow"]]))
    return ("\n".join(lines) + "\n").encode()


def bench_database(sections: list[Section]) -> None:
    from qinglu.basins import actions
    from qinglu.db.engine import make_engine, make_session_factory
    from qinglu.db.migrate import upgrade
    from qinglu.documents.signing import load_or_create_key

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["QINGLU_VAR_DIR"] = tmp
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        key = load_or_create_key()
        who = "bench"
        timings: dict[str, float] = {}
        with make_session_factory(engine)() as session:
            t0 = time.perf_counter()
            for region in (*PREFECTURES, PROVINCE):
                actions.add_party(session, who, region=region, name=f"主体 {region}",
                                  level="province" if region == PROVINCE else "prefecture")
            for code in BASINS:
                actions.add_basin(session, who, code=code, name=code)
                mine = [s for s in sections if s.basin == code]
                for n, s in enumerate(mine):
                    actions.add_section(session, who, basin=code, code=s.code, name=s.code,
                                        kind="quantity" if s.kind == "quantity" else "quality",
                                        upstream=s.up, downstream=s.down, position=n)
                actions.add_agreement(session, who, {
                    "code": f"{code}-bench", "name": code, "basin": code,
                    "valid_from": f"{YEAR}-01-01", "source": "bench", "example": True,
                    "rules": [{"section": s.code, "kind": s.kind, "params": s.params}
                              for s in mine]})
            timings["register"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            for code in BASINS:
                actions.import_monitoring(session, who, key, basin=code, filename=f"{code}.csv",
                                          content=_csv(sections, code))
            timings["import"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            made = sum(actions.assess(session, who, key, basin=code, year=YEAR)["new_statements"]
                       for code in BASINS)
            timings["assess"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            settled = sum(actions.settle(session, who, key, basin=code, year=YEAR)["pairs"]
                          for code in BASINS)
            timings["settle"] = time.perf_counter() - t0
        engine.dispose()
    rows = sum(len(s.months) for s in sections)
    print(f"SQLite, whole path: register {timings['register']:.2f} s; import {rows} rows "
          f"{timings['import']:.2f} s; assess {made} monthly statements "
          f"{timings['assess']:.2f} s ({made / timings['assess']:,.0f}/s, each signed); "
          f"settle {settled} pairs {timings['settle']:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--no-database", action="store_true",
                        help="skip the SQLite whole-path run")
    args = parser.parse_args()
    sections = scenario()
    ratio = bench_method(sections, args.repeats)
    if not args.no_database:
        bench_database(sections)
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
