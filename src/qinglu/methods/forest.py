"""Forest carbon sink by stock change over a monitoring period (`forest_sink.stock_change`).

Per parcel (小班) i of species s, with stand volume V measured per mu at the start
and at the end of the monitoring period:

    ΔV_i  = (V_end,i − V_start,i) × area_mu,i                       m³
    ΔC_i  = ΔV_i × D_s × BEF_s × (1 + R_s) × CF_s × 44/12            tCO2e

D is the basic wood density (t dry matter per m³ stem volume), BEF the biomass
expansion factor (above-ground biomass / stem biomass), R the root:shoot ratio
(below-ground / above-ground biomass) and CF the carbon fraction of dry matter.
This is the stock-difference form used by the CCER forestry methodologies
(AR-CM-001-V01 afforestation, AR-CM-003-V01 forest management) for the tree
biomass pool and by the IPCC 2006 Guidelines Vol.4 Ch.4 (Eq. 2.8 with 4.5 form).

Project total:

    gross   = Σ ΔC_i
    net     = (gross − baseline − leakage) × (1 − uncertainty_deduction)

`baseline` (the stock change the methodology's baseline scenario would have
had) and `leakage` are project-level figures from the project design document
and must be given explicitly (0 is a statement, not a default). The uncertainty
deduction is a fraction the verifier sets from the monitoring's sampling
precision; the methodologies require conservativeness but this implementation
could not confirm their exact deduction table (docs/methods-forest.md), so the
fraction is an explicit input recorded in the result.

Issuable units are net tCO2e in hundredths, rounded **down** (conservative), and
never below zero; the float arithmetic stays in this module and only the integer
count crosses into the ledger.

Parameters come from `parameters/forest_species.csv`. Values whose status is
`unconfirmed` (not found in their original) are refused unless the caller gives
an override file in the same format whose rows carry a checked source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from qinglu.core.errors import InvalidInput
from qinglu.core.quantities import MU_PER_HA
from qinglu.methods.params import (
    Parameter,
    ParameterFileError,
    ParameterTable,
    load_table,
    packaged_table,
)

METHOD_ID = "forest_sink.stock_change"
METHOD_VERSION = "1.0.0"
SPECIES_PARAMETERS = ("D", "BEF", "R", "CF")
CO2_PER_C = 44 / 12
# Bounds a parameter must lie in to be physical (a typo guard, not a plausibility check).
BOUNDS = {"D": (0.1, 1.2), "BEF": (1.0, 4.0), "R": (0.05, 1.0), "CF": (0.3, 0.6)}
MAX_VOLUME_PER_MU = 100.0  # m3/mu, ~1,500 m3/ha: beyond any stand
RISK_CLASSES = ("low", "medium", "high")


class ForestInputError(InvalidInput):
    code = "invalid-forest-input"


class UnconfirmedParameters(ForestInputError):
    code = "unconfirmed-parameters"


def _err(zh: str, en: str) -> ForestInputError:
    return ForestInputError(zh, en)


def species_table(override: Path | None = None) -> tuple[ParameterTable, ParameterTable | None]:
    return table_with_override("forest_species.csv", override)


def table_with_override(packaged_file: str, override: Path | None
                        ) -> tuple[ParameterTable, ParameterTable | None]:
    """A packaged per-species table, and an override file's table when one is given."""
    packaged = packaged_table(packaged_file, ("species", "parameter"))
    try:
        extra = load_table(override, ("species", "parameter")) if override else None
    except ParameterFileError as exc:
        at_zh, at_en = (f"（第 {exc.line} 行）", f" (line {exc.line})") if exc.line else ("", "")
        raise _err(f"参数覆盖文件无效：{exc.reason}{at_zh}",
                   f"the override parameter file is invalid: {exc.reason}{at_en}") from None
    return packaged, extra


def buffer_share(risk_class: str, on: date) -> Parameter:
    if risk_class not in RISK_CLASSES:
        raise _err(f"风险等级 {risk_class!r} 无效，可选：{', '.join(RISK_CLASSES)}",
                   f"unknown risk class {risk_class!r}; choose one of {', '.join(RISK_CLASSES)}")
    table = packaged_table("forest_buffer.csv", ("risk_class", "parameter"))
    found = table.get((risk_class, "buffer_share"), on)
    if found is None:
        raise _err(f"{on} 无 {risk_class} 缓冲比例", f"no {risk_class} buffer share on {on}")
    return found


@dataclass(frozen=True)
class SpeciesFactors:
    species: str
    parameters: dict[str, Parameter]

    @property
    def co2_per_m3(self) -> float:
        """tCO2e per m³ of stem volume: D × BEF × (1 + R) × CF × 44/12."""
        p = {k: v.value for k, v in self.parameters.items()}
        return p["D"] * p["BEF"] * (1 + p["R"]) * p["CF"] * CO2_PER_C


def factors_for(species: Sequence[str], on: date,
                override: Path | None = None) -> dict[str, SpeciesFactors]:
    """The four parameters of each species valid on `on`; refuse unconfirmed ones."""
    checked = checked_parameters(species_table(override), species, SPECIES_PARAMETERS,
                                 BOUNDS, on)
    return {name: SpeciesFactors(name, params) for name, params in checked.items()}


def checked_parameters(tables: tuple[ParameterTable, ParameterTable | None],
                       species: Sequence[str], keys: Sequence[str],
                       bounds: dict[str, tuple[float, float]], on: date
                       ) -> dict[str, dict[str, Parameter]]:
    """Each species' `keys` valid on `on`, the override file's before the packaged ones.

    Refused: a value missing for that day, one not confirmed in its original, one
    outside its physical bounds (a typo guard)."""
    packaged, extra = tables
    found: dict[str, dict[str, Parameter]] = {}
    missing: list[str] = []
    unconfirmed: list[str] = []
    for name in sorted(set(species)):
        params: dict[str, Parameter] = {}
        for key in keys:
            value = (extra.get((name, key), on) if extra else None) or packaged.get(
                (name, key), on)
            if value is None:
                missing.append(f"{name}.{key}")
                continue
            if value.status == "unconfirmed":
                unconfirmed.append(f"{name}.{key}")
                continue
            low, high = bounds[key]
            if not low <= value.value <= high:
                raise _err(f"{name} 的 {key}={value.value} 超出 [{low}, {high}]",
                           f"{name} {key}={value.value} is outside [{low}, {high}]")
            params[key] = value
        found[name] = params
    refuse_gaps(on, missing, unconfirmed)
    return found


def refuse_gaps(on: date, missing: Sequence[str], unconfirmed: Sequence[str]) -> None:
    """No parameter valid on that day, or one not checked in its original: refused."""
    if missing:
        raise _err(f"{on} 无参数：{', '.join(missing)}",
                   f"no parameter valid on {on} for: {', '.join(missing)}")
    if unconfirmed:
        raise UnconfirmedParameters(
            f"参数未经原始文献核实：{', '.join(unconfirmed)}；请提供带来源的参数覆盖文件",
            f"parameters not confirmed in their original: {', '.join(unconfirmed)}; "
            "give an override file with checked sources")


@dataclass(frozen=True)
class ParcelMeasurement:
    number: str
    species: str
    area_ha: float
    volume_start: float  # m3 per mu at the period start
    volume_end: float  # m3 per mu at the period end


@dataclass(frozen=True)
class ForestResult:
    period_start: date
    period_end: date
    parcels: list[dict[str, Any]]
    gross_t: float
    baseline_t: float
    leakage_t: float
    uncertainty_deduction: float
    net_t: float
    issuable_units: int  # hundredths of a tCO2e, rounded down, >= 0
    parameters: list[dict[str, Any]]
    method: str = METHOD_ID
    version: str = METHOD_VERSION
    notes: list[str] = field(default_factory=list)

    @property
    def issuable_t(self) -> str:
        return f"{Decimal(self.issuable_units).scaleb(-2):.2f}"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "method": {"id": self.method, "version": self.version,
                       "equation": "dC = dV x D x BEF x (1+R) x CF x 44/12; "
                                   "net = (sum dC - baseline - leakage) x (1 - deduction)"},
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "parcels": self.parcels, "gross_t": round(self.gross_t, 6),
            "baseline_t": self.baseline_t, "leakage_t": self.leakage_t,
            "uncertainty_deduction": self.uncertainty_deduction,
            "net_t": round(self.net_t, 6), "issuable_t": self.issuable_t,
            "issuable_units": self.issuable_units, "parameters": self.parameters,
            "notes": self.notes,
        }


def _finite(name: str, value: float, low: float, high: float) -> float:
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise _err(f"{name} 须在 [{low}, {high}]：{value}",
                   f"{name} must be in [{low}, {high}]: {value}")
    return value


def units_down(tonnes: float) -> int:
    """tCO2e -> hundredths, rounded down; 6-place rounding first absorbs float noise."""
    if tonnes <= 0:
        return 0
    return int(Decimal(repr(round(tonnes, 6))).scaleb(2).to_integral_value(rounding=ROUND_FLOOR))


def stock_change(
    parcels: Sequence[ParcelMeasurement],
    *,
    period_start: date,
    period_end: date,
    baseline_t: float,
    leakage_t: float,
    uncertainty_deduction: float = 0.0,
    override: Path | None = None,
) -> ForestResult:
    """The monitoring period's sink, per parcel and in total (vectorised over parcels)."""
    if period_end <= period_start:
        raise _err("监测期结束须晚于开始", "the monitoring period must end after it starts")
    if not parcels:
        raise _err("没有小班", "no parcels")
    baseline = _finite("基线 baseline", baseline_t, 0, 1e9)
    leakage = _finite("泄漏 leakage", leakage_t, 0, 1e9)
    deduction = _finite("不确定性扣减 uncertainty deduction", uncertainty_deduction, 0, 0.99)
    for p in parcels:
        _finite(f"{p.number} 面积 area_ha", p.area_ha, 1e-6, 1e6)
        _finite(f"{p.number} 期初蓄积 volume_start", p.volume_start, 0, MAX_VOLUME_PER_MU)
        _finite(f"{p.number} 期末蓄积 volume_end", p.volume_end, 0, MAX_VOLUME_PER_MU)
    factors = factors_for([p.species for p in parcels], period_end, override)
    names = sorted(factors)
    per_m3 = np.array([factors[n].co2_per_m3 for n in names])
    species_idx = np.array([names.index(p.species) for p in parcels], dtype=np.intp)
    area_mu = np.array([p.area_ha for p in parcels]) * MU_PER_HA
    v0 = np.array([p.volume_start for p in parcels])
    v1 = np.array([p.volume_end for p in parcels])
    delta_v = (v1 - v0) * area_mu
    delta_c = delta_v * per_m3[species_idx]
    stock_end = v1 * area_mu * per_m3[species_idx]
    gross = float(delta_c.sum())
    net = (gross - baseline - leakage) * (1 - deduction)
    rows = [{"number": p.number, "species": p.species, "area_ha": round(p.area_ha, 6),
             "area_mu": round(float(area_mu[i]), 4), "volume_start": p.volume_start,
             "volume_end": p.volume_end, "delta_v_m3": round(float(delta_v[i]), 6),
             "tco2e_per_m3": round(float(per_m3[species_idx[i]]), 6),
             "delta_c_t": round(float(delta_c[i]), 6),
             "stock_end_t": round(float(stock_end[i]), 6)}
            for i, p in enumerate(parcels)]
    used = [factors[n].parameters[k].as_dict(f"{k}[{n}]") for n in names
            for k in SPECIES_PARAMETERS]
    notes = []
    if net <= 0:
        notes.append("净碳汇不为正，不可签发 net sink is not positive: nothing to issue")
    return ForestResult(period_start, period_end, rows, gross, baseline, leakage, deduction,
                        net, units_down(net), used, notes=notes)


def carbon_stock_t(species: str, volume_per_mu: float, area_ha: float, on: date,
                   override: Path | None = None) -> tuple[float, SpeciesFactors]:
    """The tree-biomass carbon stock (tCO2e) of a stand: V × area × D × BEF × (1+R) × CF × 44/12."""
    factors = factors_for([species], on, override)[species]
    return volume_per_mu * area_ha * MU_PER_HA * factors.co2_per_m3, factors
