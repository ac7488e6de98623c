"""Single-tree carbon sink (单株碳汇) from an allometric biomass equation (`tree_sink.allometric`).

Per tree of species s, with diameter at breast height D (cm) and height H (m):

    AGB(D, H) = a_s × ρ_s^e_s × D^b_s × H^c_s                       kg dry matter
    C(D, H)   = AGB × (1 + R_s) × CF_s × 44/12 / 1000                  tCO2e
    sink      = C(D_end, H_end) − C(D_start, H_start)                  tCO2e

The packaged coefficients (`parameters/tree_allometry.csv`) are Chave et al. (2014)
Eq. 4, AGB = 0.0673 × (ρ D² H)^0.976, i.e. a = 0.0673, e = c = 0.976, b = 1.952. The
power form also takes a species model of the LY/T 2259–2264-2014 kind (M = a D^b H^c,
with e = 0) through an override file once its coefficients are confirmed. ρ is basic
wood density (g/cm³ = t/m³), R the root:shoot ratio and CF the carbon fraction.

The end measurement is either a re-measurement or the start plus a stated annual
increment (ΔD cm, ΔH m). Issuable units per tree are its sink in hundredths of a
tCO2e, rounded **down**, never below zero. Vectorised over trees (numpy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from qinglu.methods.forest import (
    ForestInputError,
    checked_parameters,
    table_with_override,
    units_down,
)
from qinglu.methods.params import (
    Parameter,
    ParameterTable,
)

METHOD_ID = "tree_sink.allometric"
METHOD_VERSION = "1.0.0"
TREE_PARAMETERS = ("a", "e", "b", "c", "rho", "R", "CF")
CO2_PER_C = 44 / 12
BOUNDS = {"a": (1e-4, 10.0), "e": (0.0, 2.0), "b": (0.5, 3.5), "c": (0.0, 2.0),
          "rho": (0.1, 1.2), "R": (0.05, 1.0), "CF": (0.3, 0.6)}
DBH_RANGE = (1.0, 300.0)  # cm
HEIGHT_RANGE = (1.3, 80.0)  # m: a tree below breast height has no DBH


def _err(zh: str, en: str) -> ForestInputError:
    return ForestInputError(zh, en)


def allometry_table(override: Path | None = None
                    ) -> tuple[ParameterTable, ParameterTable | None]:
    return table_with_override("tree_allometry.csv", override)


def known_species(on: date) -> set[str]:
    packaged, _ = allometry_table()
    keys = packaged.keys()  # a method of ParameterTable, not a dict view
    return {key[0] for key in keys if packaged.get(key, on) is not None}


def factors_for(species: Sequence[str], on: date,
                override: Path | None = None) -> dict[str, dict[str, Parameter]]:
    """Each species' seven parameters valid on `on`; unconfirmed ones are refused."""
    return checked_parameters(allometry_table(override), species, TREE_PARAMETERS, BOUNDS, on)


@dataclass(frozen=True)
class TreeGrowth:
    number: str
    species: str
    dbh_start: float  # cm
    height_start: float  # m
    dbh_end: float
    height_end: float


def _check(name: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise _err(f"{name} 须在 [{low}, {high}]：{value}",
                   f"{name} must be in [{low}, {high}]: {value}")


def biomass_kg(coef: dict[str, np.ndarray], dbh: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Above-ground dry biomass (kg): a × ρ^e × D^b × H^c, element-wise."""
    return (coef["a"] * coef["rho"] ** coef["e"] * dbh ** coef["b"]
            * height ** coef["c"])


def annual_sink(trees: Sequence[TreeGrowth], *, year: int,
                override: Path | None = None) -> dict[str, Any]:
    """Each tree's sink over the year (tCO2e) and its issuable units (rounded down)."""
    if not trees:
        raise _err("没有树木", "no trees")
    for t in trees:
        _check(f"{t.number} 胸径 dbh_start", t.dbh_start, DBH_RANGE)
        _check(f"{t.number} 胸径 dbh_end", t.dbh_end, DBH_RANGE)
        _check(f"{t.number} 树高 height_start", t.height_start, HEIGHT_RANGE)
        _check(f"{t.number} 树高 height_end", t.height_end, HEIGHT_RANGE)
    on = date(year, 12, 31)
    factors = factors_for([t.species for t in trees], on, override)
    names = sorted(factors)
    idx = np.array([names.index(t.species) for t in trees], dtype=np.intp)
    coef = {k: np.array([factors[n][k].value for n in names])[idx] for k in TREE_PARAMETERS}
    d0 = np.array([t.dbh_start for t in trees])
    h0 = np.array([t.height_start for t in trees])
    d1 = np.array([t.dbh_end for t in trees])
    h1 = np.array([t.height_end for t in trees])
    to_co2 = (1 + coef["R"]) * coef["CF"] * CO2_PER_C / 1000
    agb0, agb1 = biomass_kg(coef, d0, h0), biomass_kg(coef, d1, h1)
    c0, c1 = agb0 * to_co2, agb1 * to_co2
    sink = c1 - c0
    issuable = [units_down(float(x)) for x in sink]
    rows: list[dict[str, Any]] = [
        {"number": t.number, "species": t.species, "dbh_start": t.dbh_start,
             "height_start": t.height_start, "dbh_end": t.dbh_end, "height_end": t.height_end,
             "agb_start_kg": round(float(agb0[i]), 6), "agb_end_kg": round(float(agb1[i]), 6),
             "stock_end_t": round(float(c1[i]), 6), "sink_t": round(float(sink[i]), 6),
             "units": issuable[i]}
            for i, t in enumerate(trees)]
    used = [factors[n][k].as_dict(f"{k}[{n}]") for n in names for k in TREE_PARAMETERS]
    return {"method": {"id": METHOD_ID, "version": METHOD_VERSION,
                       "equation": "AGB = a x rho^e x D^b x H^c (kg); "
                                   "sink = dAGB x (1+R) x CF x 44/12 / 1000 (tCO2e)"},
            "year": year, "trees": rows, "parameters": used,
            "total_t": round(float(sink.sum()), 6),
            "units": sum(issuable)}
