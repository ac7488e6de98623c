"""Emissions of an open fire: IPCC 2006 Guidelines Vol.4 Ch.2 Equation 2.27.

    L_fire = A × M_B × C_f × G_ef × 10^-3      (t of each gas or pollutant)

A is the burned area (ha; an area is only ever taken with its unit, mu, ha or m2,
and refused without one: see core/quantities.py); M_B × C_f the fuel actually burnt
(t dry matter per ha, "fuel consumed"), measured on site or, when absent, the 2019
Refinement's Table 2.4 default for the vegetation category (Table 2.4 gives M_B·C_f
directly, so C_f is 1 there); G_ef the emission factor (g per kg dry matter) of the
chosen set.

CO2e = CO2 + CH4 × GWP(CH4) + N2O × GWP(N2O) with the chosen GWP set. Carbon
emitted as CO is *not* added to CO2e by default (`co_treatment="excluded"`, as
IPCC): the CO2 factor of a fire is a measured emission, and in stock-change
accounting the carbon of CO and CH4 is already inside the stock loss (2019
Refinement Vol.4 Ch.2 §2.2.3), so adding CO×44/28 on top would count it twice.
`co_treatment="carbon_balance"` is the whole-carbon-balance mode some reports
use: CO's carbon is counted as CO2 (×44/28); use it only when no stock-change CO2
is claimed for the same fire.

The method is pure: no database, no I/O beyond reading its packaged parameter
files once. `estimate` computes one fire; `estimate_batch` many, vectorised; the
single path runs through the batch path, so both give the same figures. Parameters
are those valid on the fire's date (`on`); a case passes its incident date. Only a
stand-alone estimate given no date takes the parameters in force on the day it runs.

`fire_input` (one fire) and `batch_rows` (rows of a fires file) turn what a caller
gave into the method's input: every door (CLI, API, page, case) goes through them,
so defaults and units are decided here and nowhere else.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import Geod

from qinglu.core.errors import InvalidInput
from qinglu.core.geometry import GeometryRefused, burned_area
from qinglu.core.quantities import (
    HA_PER_UNIT,
    M2_PER_HA,
    MU_PER_HA,
    Area,
    area_unit,
    parse_area,
)
from qinglu.methods.params import Parameter, ParameterTable, packaged_table

METHOD_ID = "fire.ipcc2006"
METHOD_VERSION = "1.0.0"
BATCH_COLUMNS = ("area", "unit", "vegetation")  # of a fires file; id, fuel_consumed optional
CATEGORIES = ("savanna_and_grassland", "agricultural_residues", "tropical_forest",
              "extra_tropical_forest", "biofuel_burning")
CATEGORY_NAMES = {
    "savanna_and_grassland": "草原和稀树草原 savanna and grassland",
    "agricultural_residues": "农业残余物 agricultural residues",
    "tropical_forest": "热带森林 tropical forest",
    "extra_tropical_forest": "热带以外森林 extra-tropical forest",
    "biofuel_burning": "生物燃料燃烧 biofuel burning",
}
EF_SETS = ("ipcc2006", "andreae2019", "gfed4", "finn2.5")
GWP_SETS = ("AR4", "AR5", "AR6")
CO_TREATMENTS = ("excluded", "carbon_balance")
DEFAULT_EF_SET = "ipcc2006"
DEFAULT_GWP_SET = "AR5"
DEFAULT_CO_TREATMENT = "excluded"
# The largest Table 2.4 means are ~170 t DM/ha with standard errors as large again
# (eucalypt post-logging slash burns); 500 t/ha is beyond any burn that table records.
MAX_FUEL_T_PER_HA = 500.0
MAX_AREA_HA = 10_000_000.0  # larger than any single fire on record
CO_TO_CO2 = 44 / 28
SPECIES_NAMES = {
    "CO2": "二氧化碳", "CO": "一氧化碳", "CH4": "甲烷", "N2O": "氧化亚氮", "NOx": "氮氧化物",
    "SO2": "二氧化硫", "NH3": "氨", "PM2.5": "细颗粒物", "PM10": "可吸入颗粒物",
    "TPM": "总颗粒物", "OC": "有机碳", "BC": "黑碳", "NMVOC": "非甲烷挥发性有机物",
}
GREENHOUSE = ("CO2", "CH4", "N2O")


class FireInputError(InvalidInput):
    code = "invalid-fire-input"


def _err(zh: str, en: str) -> FireInputError:
    return FireInputError(zh, en)


def _factors() -> ParameterTable:
    return packaged_table("fire_emission_factors.csv", ("ef_set", "category", "species"))


def _fuel() -> ParameterTable:
    return packaged_table("fire_fuel.csv", ("category", "parameter"))


def _gwp() -> ParameterTable:
    return packaged_table("gwp100.csv", ("gwp_set", "gas"))


@dataclass(frozen=True)
class FireInput:
    vegetation: str
    area: float | str | Decimal | None = None
    unit: str | None = None  # mu, ha or m2: no default; an area without it is refused
    geojson: dict[str, Any] | None = None
    fuel_consumed: float | None = None  # M_B × C_f, t DM/ha, measured on site
    fuel_load: float | None = None  # M_B, t DM/ha, measured on site
    combustion_factor: float | None = None  # C_f, fraction
    ef_set: str = DEFAULT_EF_SET
    gwp: str = DEFAULT_GWP_SET
    co_treatment: str = DEFAULT_CO_TREATMENT
    on: date | None = None  # the fire's date, whose parameters apply


# What a caller may give about a fire: every field but the date, which is the fire's own
# (a case's incident date) and is passed apart from the evidence.
EVIDENCE_FIELDS = tuple(f.name for f in fields(FireInput) if f.name != "on")
_NUMBERS = ("fuel_consumed", "fuel_load", "combustion_factor")


def _number(name: str, value: Any) -> float:
    try:
        number = float(Decimal(repr(value) if isinstance(value, float) else str(value).strip()))
    except (InvalidOperation, ValueError):
        raise _err(f"{name} {value!r} 不是数字", f"{name} {value!r} is not a number") from None
    return number


def fire_input(evidence: Mapping[str, Any], *, on: date | None) -> FireInput:
    """The method's input from what a caller gave (text or numbers; absent or None fields
    take the method's defaults). Unknown fields are refused, so a date cannot slip in
    beside `on`; an area is checked with its unit when the fire is estimated."""
    given = {k: v for k, v in evidence.items() if v is not None}
    unknown = sorted(set(given) - set(EVIDENCE_FIELDS))
    if unknown:
        raise _err(f"未知字段：{', '.join(unknown)}", f"unknown fields: {', '.join(unknown)}")
    if "vegetation" not in given:
        raise _err("植被类型 vegetation 必填", "vegetation is required")
    for name in _NUMBERS:
        if name in given:
            given[name] = _number(name, given[name])
    return FireInput(**given, on=on)


@dataclass(frozen=True)
class FireResult:
    inputs: dict[str, Any]
    area_ha: float
    fuel_consumed_t_per_ha: float
    dry_matter_t: float
    emissions_t: dict[str, float]
    co2e_t: float
    obligation_units: int  # hundredths of a tCO2e, rounded up
    parameters: list[dict[str, Any]]
    defaults_used: list[str]
    ef_set: str
    gwp_set: str
    co_treatment: str
    method: str = METHOD_ID
    version: str = METHOD_VERSION
    notes: list[str] = field(default_factory=list)

    @property
    def area_mu(self) -> float:
        return self.area_ha * MU_PER_HA

    @property
    def obligation_t(self) -> str:
        return f"{Decimal(self.obligation_units).scaleb(-2):.2f}"

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "method": {"id": self.method, "version": self.version,
                       "equation": "IPCC 2006 Vol.4 Ch.2 Eq. 2.27: L = A x MB x Cf x Gef x 1e-3"},
            "inputs": self.inputs,
            "area_ha": round(self.area_ha, 6), "area_mu": round(self.area_mu, 4),
            "fuel_consumed_t_per_ha": self.fuel_consumed_t_per_ha,
            "dry_matter_t": round(self.dry_matter_t, 6),
            "emissions_t": {k: round(v, 6) for k, v in self.emissions_t.items()},
            "co2e_t": round(self.co2e_t, 6), "obligation_t": self.obligation_t,
            "obligation_units": self.obligation_units, "ef_set": self.ef_set,
            "gwp_set": self.gwp_set, "co_treatment": self.co_treatment,
            "defaults_used": self.defaults_used, "parameters": self.parameters,
            "notes": self.notes,
        }


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _err(f"{name} {value!r} 无效，可选：{', '.join(allowed)}",
                   f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
    return value


def _positive(name: str, value: float, upper: float) -> float:
    if not math.isfinite(value) or value <= 0:
        raise _err(f"{name} 须为正数：{value}", f"{name} must be a positive number: {value}")
    if value > upper:
        raise _err(f"{name} {value} 超出物理上限 {upper}",
                   f"{name} {value} is above the physical bound {upper}")
    return value


def polygon_area_ha(geojson: object) -> float:
    """Geodesic area (WGS84 ellipsoid) of a GeoJSON burned area, in ha: a Polygon or
    MultiPolygon, a Feature of one, or a FeatureCollection of them (their union), as
    core.geometry reads it for every door."""
    try:
        geom = burned_area(geojson, ("火场多边形", "the burned-area polygon"))
    except GeometryRefused as exc:
        raise _err(exc.zh, exc.en) from None
    area_m2, _perimeter = Geod(ellps="WGS84").geometry_area_perimeter(geom)
    return abs(area_m2) / M2_PER_HA


def _area(fire: FireInput) -> tuple[float, Area | None]:
    """The burned area in ha, and the area as given (None for a polygon)."""
    if fire.geojson is not None:
        return _positive("面积 area", polygon_area_ha(fire.geojson), MAX_AREA_HA), None
    if fire.area is None:
        raise _err("请提供面积或多边形", "give an area or a polygon")
    given = parse_area(fire.area, fire.unit)
    return _positive("面积 area", given.hectares, MAX_AREA_HA), given


def _named(parameter: Parameter, name: str) -> dict[str, Any]:
    return parameter.as_dict(name)


def _fuel_consumed(fire: FireInput, on: date, used: list[dict[str, Any]],
                   defaults: list[str]) -> float:
    """M_B × C_f from site measurements, else the category's Table 2.4/2.6 defaults."""
    if fire.fuel_consumed is not None:
        return _positive("可燃物消耗量 fuel consumed", float(fire.fuel_consumed),
                         MAX_FUEL_T_PER_HA)
    if fire.fuel_load is not None:
        load = _positive("可燃物载量 fuel load", float(fire.fuel_load), MAX_FUEL_T_PER_HA)
        if fire.combustion_factor is not None:
            factor = float(fire.combustion_factor)
            if not 0 < factor <= 1:
                raise _err(f"燃烧系数须在 (0, 1]：{factor}",
                           f"the combustion factor must be in (0, 1]: {factor}")
            return load * factor
        default_cf = _fuel().get((fire.vegetation, "combustion_factor"), on)
        if default_cf is None:
            raise _err("此类植被无默认燃烧系数，请提供 combustion_factor",
                       "no default combustion factor for this vegetation; give one")
        used.append(_named(default_cf, "combustion_factor"))
        defaults.append("combustion_factor")
        return load * default_cf.value
    default = _fuel().get((fire.vegetation, "fuel_consumed"), on)
    if default is None:
        raise _err("此类植被无默认可燃物消耗量，请提供现场测量值",
                   "no default fuel consumption for this vegetation; give a site measurement")
    used.append(_named(default, "fuel_consumed"))
    defaults.append("fuel_consumed")
    return default.value


@dataclass(frozen=True)
class FactorSet:
    """The factors of one EF set, GWP set and date, as arrays for vectorised use."""

    species: tuple[str, ...]
    factors: npt.NDArray[np.float64]  # [category, species] g/kg DM; NaN where absent
    default_fuel: npt.NDArray[np.float64]  # [category] t DM/ha; NaN where no default
    gwp: dict[str, float]
    parameters: dict[tuple[str, str], dict[str, Any]]  # (category, species) -> parameter
    fallbacks: dict[tuple[str, str], str]  # (category, species) -> set the value came from


def factor_set(ef_set: str, gwp_set: str, on: date) -> FactorSet:
    _choice("排放因子集 ef_set", ef_set, EF_SETS)
    _choice("GWP 集 gwp", gwp_set, GWP_SETS)
    table = _factors()
    species = sorted(table.species_of(ef_set) | set(GREENHOUSE),
                     key=lambda s: (list(SPECIES_NAMES).index(s) if s in SPECIES_NAMES else 99))
    factors = np.full((len(CATEGORIES), len(species)), np.nan)
    parameters: dict[tuple[str, str], dict[str, Any]] = {}
    fallbacks: dict[tuple[str, str], str] = {}
    for i, category in enumerate(CATEGORIES):
        for j, gas in enumerate(species):
            found = table.get((ef_set, category, gas), on)
            if found is None and gas in GREENHOUSE and ef_set != DEFAULT_EF_SET:
                found = table.get((DEFAULT_EF_SET, category, gas), on)
                if found is not None:
                    fallbacks[(category, gas)] = DEFAULT_EF_SET
            if found is not None:
                factors[i, j] = found.value
                parameters[(category, gas)] = _named(found, f"G_ef[{gas}]")
    default_fuel = np.array([
        p.value if (p := _fuel().get((c, "fuel_consumed"), on)) else np.nan for c in CATEGORIES
    ])
    gwp = {}
    for gas in ("CH4", "N2O"):
        value = _gwp().get((gwp_set, gas), on)
        if value is None:
            raise _err(f"{gwp_set} 在 {on} 无 {gas} 值", f"{gwp_set} has no {gas} value on {on}")
        gwp[gas] = value.value
        parameters[("gwp", gas)] = _named(value, f"GWP100[{gas}]")
    return FactorSet(tuple(species), factors, default_fuel, gwp, parameters, fallbacks)


def compute(
    fs: FactorSet,
    area_ha: npt.NDArray[np.float64],
    category: npt.NDArray[np.intp],
    fuel_consumed: npt.NDArray[np.float64],
    co_treatment: str = DEFAULT_CO_TREATMENT,
) -> dict[str, npt.NDArray[Any]]:
    """Equation 2.27 over arrays: tonnes per species, CO2e and the obligation (hundredths)."""
    dry_matter = area_ha * fuel_consumed  # t DM
    tonnes = dry_matter[:, None] * fs.factors[category] * 1e-3
    out: dict[str, npt.NDArray[Any]] = {"dry_matter_t": dry_matter}
    for j, gas in enumerate(fs.species):
        out[gas] = tonnes[:, j]
    co2e = out["CO2"] + out["CH4"] * fs.gwp["CH4"] + out["N2O"] * fs.gwp["N2O"]
    if co_treatment == "carbon_balance" and "CO" in out:
        co2e = co2e + np.nan_to_num(out["CO"]) * CO_TO_CO2
    out["co2e_t"] = co2e
    # Round up to 0.01 t; rounding to 6 places first keeps float noise (53.960000001)
    # from adding a hundredth.
    out["obligation_units"] = np.ceil(np.round(co2e * 100, 6)).astype(np.int64)
    return out


def _parameter_date(on: date | None) -> date:
    """The fire's date; a stand-alone estimate given none uses today's parameters."""
    return on or date.today()


def estimate(fire: FireInput) -> FireResult:
    """One fire, with every parameter it used and whether a default stood in."""
    on = _parameter_date(fire.on)
    _choice("植被类型 vegetation", fire.vegetation, CATEGORIES)
    _choice("CO 处理 co_treatment", fire.co_treatment, CO_TREATMENTS)
    fs = factor_set(fire.ef_set, fire.gwp, on)
    category = CATEGORIES.index(fire.vegetation)
    if np.isnan(fs.factors[category, fs.species.index("CO2")]):
        raise _err(f"排放因子集 {fire.ef_set} 没有 {fire.vegetation} 的因子",
                   f"factor set {fire.ef_set} has no factors for {fire.vegetation}")
    area, area_given = _area(fire)
    used: list[dict[str, Any]] = []
    defaults: list[str] = []
    fuel = _fuel_consumed(fire, on, used, defaults)
    out = compute(fs, np.array([area]), np.array([category]), np.array([fuel]),
                  fire.co_treatment)
    emissions = {gas: float(out[gas][0]) for gas in fs.species
                 if not np.isnan(out[gas][0])}
    used += [p for (c, _gas), p in fs.parameters.items() if c in (fire.vegetation, "gwp")]
    notes = [f"{gas}: {source} (the {fire.ef_set} set has no {gas} factor)"
             for (c, gas), source in fs.fallbacks.items() if c == fire.vegetation]
    inputs = {"vegetation": fire.vegetation,
              "area": float(area_given.value) if area_given else None,
              "unit": area_given.unit if area_given else None,
              "geojson": fire.geojson is not None, "fuel_consumed": fire.fuel_consumed,
              "fuel_load": fire.fuel_load, "combustion_factor": fire.combustion_factor,
              "date": on.isoformat()}
    return FireResult(
        inputs=inputs, area_ha=area, fuel_consumed_t_per_ha=fuel,
        dry_matter_t=float(out["dry_matter_t"][0]), emissions_t=emissions,
        co2e_t=float(out["co2e_t"][0]), obligation_units=int(out["obligation_units"][0]),
        parameters=used, defaults_used=defaults, ef_set=fire.ef_set, gwp_set=fire.gwp,
        co_treatment=fire.co_treatment, notes=notes,
    )


def estimate_batch(
    area_ha: npt.NDArray[np.float64],
    vegetation: npt.NDArray[np.intp],
    fuel_consumed: npt.NDArray[np.float64],
    *,
    ef_set: str = DEFAULT_EF_SET,
    gwp: str = DEFAULT_GWP_SET,
    co_treatment: str = DEFAULT_CO_TREATMENT,
    on: date | None = None,
) -> dict[str, npt.NDArray[Any]]:
    """Many fires at once (areas already in ha, see `batch_rows`). `vegetation` holds
    indexes into CATEGORIES; a NaN fuel figure takes the category's default. Bad rows are
    refused with their row numbers."""
    _choice("CO 处理 co_treatment", co_treatment, CO_TREATMENTS)
    fs = factor_set(ef_set, gwp, _parameter_date(on))
    if ((vegetation < 0) | (vegetation >= len(CATEGORIES))).any():
        raise _err("植被类型编号越界", "vegetation index out of range")
    fuel = np.where(np.isnan(fuel_consumed), fs.default_fuel[vegetation], fuel_consumed)
    _refuse_rows(~(area_ha > 0) | (area_ha > MAX_AREA_HA), "面积 area", "area")
    _refuse_rows(np.isnan(fuel), "无默认可燃物消耗量 no default fuel", "fuel")
    _refuse_rows(~(fuel > 0) | (fuel > MAX_FUEL_T_PER_HA), "可燃物消耗量 fuel consumed", "fuel")
    return compute(fs, area_ha, vegetation, fuel, co_treatment)


def _refuse_rows(bad: npt.NDArray[np.bool_], zh: str, en: str) -> None:
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 1).tolist()
        raise _err(f"第 {rows} 行的{zh}无效", f"rows {rows}: invalid {en}")


def _check_columns(row: Mapping[str, str | None], where: str) -> None:
    """A file whose header lacks a column every fire needs is the wrong file: say so once,
    rather than refusing its first row for a missing value."""
    missing = [name for name in BATCH_COLUMNS if name not in row]
    if missing:
        raise _err(f"{where}缺少列 {', '.join(missing)}（须有 id,{','.join(BATCH_COLUMNS)}"
                   "[,fuel_consumed]）",
                   f"{where}lacks the column(s) {', '.join(missing)} (expected id,"
                   f"{','.join(BATCH_COLUMNS)}[,fuel_consumed])")


def batch_rows(rows: Iterable[Mapping[str, str | None]], source: str = "") -> dict[str, Any]:
    """Rows of a fires file (id, area, unit, vegetation[, fuel_consumed]) as the arrays
    `estimate_batch` takes: area in ha, category index, fuel or NaN. Each row's area needs
    its unit (the same rule as one fire, `area_unit`); a bad row is refused with its line
    number (the header is line 1). Areas that are not positive are refused by
    `estimate_batch`, with their row numbers."""
    ids: list[str] = []
    areas: list[float] = []
    categories: list[int] = []
    fuels: list[float] = []
    index = {name: i for i, name in enumerate(CATEGORIES)}
    units_per_ha: dict[str | None, float] = {}  # as written -> e.g. 15.0 for mu
    where = f"{source} " if source else ""
    for line, row in enumerate(rows, 2):
        if line == 2:
            _check_columns(row, where)
        try:
            unit = row.get("unit")
            if unit not in units_per_ha:
                code = area_unit(unit, value=row.get("area"))
                units_per_ha[unit] = float(1 / HA_PER_UNIT[code])
            ids.append(row.get("id") or str(line - 1))
            areas.append(float(row.get("area") or "") / units_per_ha[unit])
            categories.append(index[row.get("vegetation") or ""])
            fuel = row.get("fuel_consumed")
            fuels.append(float(fuel) if fuel else float("nan"))
        except InvalidInput as exc:
            raise _err(f"{where}第 {line} 行无效：{exc.zh}",
                       f"{where}line {line} is invalid: {exc.en}") from None
        except (KeyError, ValueError) as exc:
            raise _err(f"{where}第 {line} 行无效：{exc}",
                       f"{where}line {line} is invalid: {exc}") from None
    if not ids:
        raise _err(f"{where}没有火灾数据行", f"{where}holds no fires (no rows under the header)")
    return {"id": ids, "area_ha": np.array(areas, dtype=np.float64),
            "vegetation": np.array(categories, dtype=np.intp),
            "fuel_consumed": np.array(fuels, dtype=np.float64)}
