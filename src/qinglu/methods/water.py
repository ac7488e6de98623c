"""Water class by GB 3838-2002 Table 1, single-factor method: the worst indicator sets it.

For each indicator the class is the best class whose limit the value does not exceed
(limits are "≤": a value equal to the class II limit is class II); above the class V
limit it is 劣V (worse than V). The sample's class is the worst of its indicators, and
the indicators at that class are the ones that decide it.

Indicators: CODMn (高锰酸盐指数), NH3-N (氨氮), TP (总磷) for every water body; TN
(总氮) only for lakes and reservoirs, where Table 1 gives its limits (a river's TN is
kept with the sample but does not set its class, and the result says so). Lakes and
reservoirs have their own, stricter TP limits. The limits are a cited, dated parameter
file (parameters/gb3838_limits.csv); the limits valid on the sample's date apply.

Concentrations are whole numbers of 0.0001 mg/L (basin_units.CONCENTRATION), so a
value and a limit compare exactly. `classify_batch` classifies many samples at once
(numpy `searchsorted` per indicator); `classify` runs one through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from qinglu.core.errors import InvalidInput
from qinglu.methods.basin_units import CONCENTRATION, text_of, to_base
from qinglu.methods.params import ParameterTable, packaged_table

METHOD_ID = "water.gb3838_2002"
METHOD_VERSION = "1.0.0"
INDICATORS = ("CODMn", "NH3-N", "TP", "TN")
REQUIRED = ("CODMn", "NH3-N", "TP")
INDICATOR_NAMES = {"CODMn": "高锰酸盐指数 CODMn", "NH3-N": "氨氮 NH3-N", "TP": "总磷 TP",
                   "TN": "总氮 TN"}
CLASSES = ("I", "II", "III", "IV", "V", "劣V")
WATERBODIES = ("river", "lake")
MISSING = -1  # a concentration not measured, in the batch arrays
# The unit of `qinglu water class --codmn X --nh3n Y --tp Z` (public names keep bare
# numbers); a value may still carry its own unit (e.g. 80μg/L).
OPTION_UNIT = "mg/L"
Ints = npt.NDArray[np.int64]


class WaterInputError(InvalidInput):
    code = "invalid-water-sample"


def _table() -> ParameterTable:
    return packaged_table("gb3838_limits.csv", ("waterbody", "indicator", "class"))


def class_index(name: str) -> int:
    """'II' -> 1; '劣V' -> 5; refused otherwise."""
    text = name.strip().upper().replace("类", "")
    aliases = {"1": "I", "2": "II", "3": "III", "4": "IV", "5": "V", "6": "劣V", "WORSE-V": "劣V"}
    text = aliases.get(text, text)
    if text not in CLASSES:
        raise WaterInputError(f"水质类别 {name!r} 无效（可选 {' '.join(CLASSES)}）",
                              f"unknown water class {name!r}; choose one of {', '.join(CLASSES)}")
    return CLASSES.index(text)


@dataclass(frozen=True)
class Limits:
    """Table 1's limits for one kind of water body on one date, in 0.0001 mg/L."""

    waterbody: str
    on: date
    by_indicator: dict[str, Ints]  # five ascending limits (classes I..V) per indicator
    parameters: tuple[dict[str, Any], ...]

    @property
    def source(self) -> str:
        sources = sorted({str(p["source"]).split(", item")[0] for p in self.parameters})
        return "; ".join(sources)

    def limit(self, indicator: str, klass: int) -> int:
        return int(self.by_indicator[indicator][klass])


@cache
def limits_on(waterbody: str, on: date) -> Limits:
    if waterbody not in WATERBODIES:
        raise WaterInputError(f"水体类型 {waterbody!r} 无效（river 或 lake）",
                              f"unknown water body {waterbody!r} (river or lake)")
    table = _table()
    by_indicator: dict[str, Ints] = {}
    used: list[dict[str, Any]] = []
    for indicator in INDICATORS:
        values = []
        for name in CLASSES[:5]:
            found = table.get((waterbody, indicator, name), on)
            if found is None:
                break
            values.append(to_base(CONCENTRATION, repr(found.value), found.unit,
                                  what=f"GB 3838 {indicator} {name}"))
            used.append(found.as_dict(f"{waterbody} {indicator} {name}"))
        if len(values) == 5:
            by_indicator[indicator] = np.array(values, dtype=np.int64)
        elif values:
            raise WaterInputError(f"{indicator} 的限值不全（{on}）",
                                  f"incomplete limits for {indicator} on {on}")
    if not set(REQUIRED) <= set(by_indicator):
        raise WaterInputError(f"{on} 无有效的 GB 3838-2002 限值",
                              f"no GB 3838-2002 limits valid on {on}")
    return Limits(waterbody, on, by_indicator, tuple(used))


def indicator_classes(values: Ints, limits: Ints) -> Ints:
    """The class index (0 = I ... 5 = 劣V) of each value; MISSING values give -1."""
    classes = np.searchsorted(limits, values, side="left")
    return np.where(values < 0, -1, classes) if values.size and values.min() < 0 else classes


def classify_batch(concentrations: Mapping[str, Ints], limits: Limits
                   ) -> tuple[Ints, dict[str, Ints]]:
    """Classes of many samples of one kind of water body: (worst class index, the class
    index of each assessed indicator). CODMn, NH3-N and TP are required in every sample."""
    per: dict[str, Ints] = {}
    for indicator, values in concentrations.items():
        if indicator not in limits.by_indicator:
            continue  # e.g. a river's TN: kept, not assessed
        if indicator in REQUIRED and values.size and values.min() < 0:
            raise WaterInputError(f"缺少 {indicator} 的监测值", f"{indicator} is missing")
        per[indicator] = indicator_classes(values, limits.by_indicator[indicator])
    missing = [name for name in REQUIRED if name not in per]
    if missing:
        raise WaterInputError(f"缺少指标 {', '.join(missing)}",
                              f"missing indicators {', '.join(missing)}")
    worst = np.maximum.reduce(list(per.values()))
    return worst, per


@dataclass(frozen=True)
class WaterSample:
    values: dict[str, int]  # indicator -> 0.0001 mg/L; only measured indicators
    waterbody: str
    on: date


def water_input(given: Mapping[str, Any], *, unit: str | None, on: date | None = None
                ) -> WaterSample:
    """A sample from what a caller gave: `codmn`, `nh3n`, `tp`, optionally `tn` (numbers
    or text, each may carry its unit), `lake` (bool). `unit` is the unit a caller's
    interface declares for bare numbers (None: each value must carry its unit)."""
    names = {"codmn": "CODMn", "nh3n": "NH3-N", "tp": "TP", "tn": "TN"}
    unknown = sorted(set(given) - {*names, "lake"})
    if unknown:
        raise WaterInputError(f"未知字段：{', '.join(unknown)}",
                              f"unknown fields: {', '.join(unknown)}")
    values = {}
    for key, indicator in names.items():
        raw = given.get(key)
        if raw is None or str(raw).strip() == "":
            if indicator in REQUIRED:
                raise WaterInputError(f"{INDICATOR_NAMES[indicator]} 必填",
                                      f"{indicator} is required")
            continue
        values[indicator] = to_base(CONCENTRATION, raw, unit, what=indicator)
    return WaterSample(values, "lake" if given.get("lake") else "river", on or date.today())


@dataclass(frozen=True)
class WaterClass:
    klass: int
    indicator_classes: dict[str, int]
    deciding: list[str]
    sample: WaterSample
    limits: Limits
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return CLASSES[self.klass]

    def to_json_dict(self) -> dict[str, Any]:
        indicators = {}
        for indicator, value in self.sample.values.items():
            assessed = indicator in self.indicator_classes
            indicators[indicator] = {
                "value": text_of(CONCENTRATION, value), "unit": "mg/L",
                "class": CLASSES[self.indicator_classes[indicator]] if assessed else None,
                "limits": [text_of(CONCENTRATION, int(v))
                           for v in self.limits.by_indicator[indicator]] if assessed else None,
            }
        return {
            "method": {"id": METHOD_ID, "version": METHOD_VERSION,
                       "rule": "单因子评价：最差指标定类 single factor, the worst indicator "
                               "sets the class (GB 3838-2002 Table 1)"},
            "class": self.name, "class_index": self.klass + 1, "deciding": self.deciding,
            "waterbody": self.sample.waterbody, "date": self.sample.on.isoformat(),
            "indicators": indicators, "limits_source": self.limits.source,
            "parameters": list(self.limits.parameters), "notes": self.notes,
        }


def classify(sample: WaterSample) -> WaterClass:
    """One sample's class, through the batch path."""
    limits = limits_on(sample.waterbody, sample.on)
    arrays = {k: np.array([v], dtype=np.int64) for k, v in sample.values.items()}
    worst, per = classify_batch(arrays, limits)
    classes = {k: int(v[0]) for k, v in per.items()}
    klass = int(worst[0])
    notes = []
    if "TN" in sample.values and "TN" not in classes:
        notes.append("总氮仅对湖泊、水库定类；河流的总氮已记录，不参与定类 / TN sets the class "
                     "of lakes and reservoirs only (GB 3838-2002 Table 1); a river's TN is "
                     "kept but not assessed")
    return WaterClass(klass, classes, [k for k, v in classes.items() if v == klass], sample,
                      limits, notes)
