"""Horizontal basin compensation: the amounts a pair of regions owe each other for the
water that crosses their boundary, from rules entered as data.

Every amount is signed from one side: `to_upstream` > 0 means the downstream party pays
the upstream party (the water it received was cleaner or more plentiful than agreed),
< 0 means the upstream party pays the downstream party. Amounts are whole fen (0.01
yuan), rounded by the money rule (四舍五入 to the fen, half away from zero, as
`qinglu.core.money.round_fen`); the monthly formulas run in numpy int64 so that a
year of a province's sections is one vectorised pass and stays exact.

Rule kinds (the forms found in practice; docs/methods-basins.md cites each):

- `pollutant_load` — per indicator (measured − target) × monthly volume × rate,
  t = mg/L × m³ × 10⁻⁶ (镇江 太湖 scheme's formula; Guizhou's 2014 Chishui rates
  CODMn 0.1, NH3-N 0.7, TP 1 万元/t). `one_way`: only an excess is paid (upstream
  to downstream); `two_way`: water cleaner than the target earns the same rate back.
- `class_step` — a fixed sum per class better (downstream pays) or worse (upstream
  pays) than the target class, per month (the 2023 Guizhou form; its sums are not
  published, so an operator enters them).
- `quantity` — monthly volume and monthly minimum release flow against targets that
  change by month, each indicator with its amount for attaining (downstream pays) and
  for missing (upstream pays) (the 2023 Guizhou two-indicator evaluation).
- `p_index` — yearly: P = k0 × Σ kᵢ × Cᵢ/Cᵢ₀ over the annual mean concentrations; P
  at or below the threshold: downstream pays upstream the amount, above: upstream pays
  downstream (the Xin'an River form).
- `joint_fund` — yearly: parties pay into a fund by ratio and it is allocated by ratio;
  a clause per section cuts a party's allocation when the section's annual mean class is
  worse than the target and pays the cut to others by ratio (the 2018 Chishui
  three-province fund).

The method is pure: no database. Rules are parsed from their stored data by
`parse_rule`, which refuses a rule that lacks a figure, a unit or a month.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from qinglu.core.errors import InvalidInput
from qinglu.core.money import round_fen
from qinglu.methods import water
from qinglu.methods.basin_units import (
    CONCENTRATION,
    FLOW,
    MONEY,
    RATE,
    RATIO,
    VOLUME,
    text_of,
    to_base,
    unit_of,
    yuan_text,
)
from qinglu.methods.params import ParameterTable, packaged_table

METHOD_ID = "basin.horizontal"
METHOD_VERSION = "1.0.0"
MONTHLY_KINDS = ("pollutant_load", "class_step", "quantity")
YEARLY_KINDS = ("p_index", "joint_fund")
RULE_KINDS = (*MONTHLY_KINDS, *YEARLY_KINDS)
DIRECTIONS = ("two_way", "one_way")
LOAD_INDICATORS = ("CODMn", "NH3-N", "TP", "TN")
# 0.0001 mg/L × 1 m³ = 0.0001 g = 1e-10 t.
EXCESS_PER_TONNE = 10**10
FLOAT_EXACT = 2**53
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


class RuleError(InvalidInput):
    code = "invalid-basin-rule"


def _err(zh: str, en: str) -> RuleError:
    return RuleError(zh, en)


# --- money: the one rounding rule, exactly, in numpy ---------------------------------

def fen_of_fraction(value: Fraction) -> int:
    """A rational amount of fen rounded by the money rule (`round_fen`, half up)."""
    yuan = Decimal(value.numerator) / Decimal(value.denominator) / 100
    return int(round_fen(yuan) * 100)


def scaled_fen(amount: Ints, rate: Ints, scale: int) -> Ints:
    """round_half_up(amount × rate / scale), exactly, in int64 (half away from zero, the
    money rule). When no product can pass 2^63 it is one integer division; otherwise
    amount and rate are split so that none does, for |amount| ≤ 5e18, rate ≤ 1e8 and
    scale = 1e10."""
    if not amount.size:
        return amount.copy()
    magnitude = np.abs(amount)
    half = scale // 2
    if int(magnitude.max()) * int(rate.max()) + half < 2**63:
        fen = (magnitude * rate + half) // scale
    else:
        whole, rest = np.divmod(magnitude, scale)
        carry, remainder = np.divmod(rest * rate, scale)
        fen = whole * rate + carry + (2 * remainder >= scale)
    return np.where(amount < 0, -fen, fen)


# --- monthly formulas, vectorised ----------------------------------------------------

def load_lines(measured: Ints, target: Ints, volume: Ints, rate: Ints, two_way: Bools
               ) -> tuple[Ints, Ints]:
    """Pollutant-load charge per row: (excess in 1e-10 t, to_upstream in fen).

    excess = (measured − target) × volume, in 0.0001 mg/L × m³; the charge is
    excess × rate (fen/t) / 1e10, paid by the upstream party (a negative to_upstream).
    Water cleaner than the target earns it back only under a two-way rule."""
    excess = (measured - target) * volume
    charged = np.where(two_way | (excess > 0), excess, 0)
    return excess, -scaled_fen(charged, rate, EXCESS_PER_TONNE)


def class_step_lines(klass: Ints, target: Ints, better: Ints, worse: Ints,
                     two_way: Bools) -> tuple[Ints, Ints]:
    """Class-step amounts per row: (classes better than the target, to_upstream in fen)."""
    steps = target - klass
    paid = np.where(steps > 0, np.where(two_way, steps * better, 0), steps * worse)
    return steps, paid.astype(np.int64)


def quantity_lines(value: Ints, target: Ints, attained: Ints, missed: Ints
                   ) -> tuple[Bools, Ints]:
    """Attainment of a quantity indicator per row: (attained, to_upstream in fen)."""
    ok = value >= target
    return ok, np.where(ok, attained, -missed).astype(np.int64)


def sum_by(index: Ints, values: Ints, size: int) -> Ints:
    """Exact integer sums of `values` grouped by `index` (0..size-1). bincount adds in
    float64, which is exact while every partial sum stays below 2^53 fen (checked);
    beyond that the sums are taken in int64."""
    if not values.size or int(np.abs(values).max()) * values.size < FLOAT_EXACT:
        return np.bincount(index, weights=values, minlength=size).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values)
    return out


def net_by_pair(pair: Ints, to_upstream: Ints, pairs: int) -> tuple[Ints, Ints, Ints]:
    """Per pair of parties: (paid downstream→upstream, paid upstream→downstream, net to
    upstream), in fen. Two-way payments net."""
    up = sum_by(pair, np.maximum(to_upstream, 0), pairs)
    net = sum_by(pair, to_upstream, pairs)
    return up, up - net, net


@dataclass(frozen=True)
class StepBatch:
    """Class-step evaluations: one per (monitoring row, rule); `row` says which row."""

    row: Ints
    klass: Ints
    target: Ints
    better: Ints
    worse: Ints
    two_way: Bools


@dataclass(frozen=True)
class LoadBatch:
    """Pollutant-load evaluations: one per (monitoring row, rule, indicator)."""

    row: Ints
    measured: Ints
    target: Ints
    volume: Ints
    rate: Ints
    two_way: Bools


@dataclass(frozen=True)
class QuantityBatch:
    """Quantity evaluations: one per (monitoring row, rule, indicator)."""

    row: Ints
    value: Ints
    target: Ints
    attained: Ints
    missed: Ints


@dataclass(frozen=True)
class MonthlyResult:
    steps: tuple[Ints, Ints] | None  # (classes better than target, to_upstream)
    loads: tuple[Ints, Ints] | None  # (excess in 1e-10 t, to_upstream)
    quantities: tuple[Bools, Ints] | None  # (attained, to_upstream)
    row_total: Ints  # to_upstream per monitoring row, all rules together


def assess_monthly(rows: int, steps: StepBatch | None = None, loads: LoadBatch | None = None,
                   quantities: QuantityBatch | None = None) -> MonthlyResult:
    """Every monthly rule over many monitoring rows at once, and each row's total."""
    total = np.zeros(rows, dtype=np.int64)
    step_out = load_out = quantity_out = None
    if steps is not None:
        step_out = class_step_lines(steps.klass, steps.target, steps.better, steps.worse,
                                    steps.two_way)
        total += sum_by(steps.row, step_out[1], rows)
    if loads is not None:
        load_out = load_lines(loads.measured, loads.target, loads.volume, loads.rate,
                              loads.two_way)
        total += sum_by(loads.row, load_out[1], rows)
    if quantities is not None:
        quantity_out = quantity_lines(quantities.value, quantities.target, quantities.attained,
                                      quantities.missed)
        total += sum_by(quantities.row, quantity_out[1], rows)
    return MonthlyResult(step_out, load_out, quantity_out, total)


# --- rules as data -------------------------------------------------------------------

@dataclass(frozen=True)
class LoadRule:
    indicators: tuple[str, ...]
    rates: dict[str, int]  # fen per t
    targets: dict[str, int]  # 0.0001 mg/L; empty when target_class is set
    target_class: int | None
    two_way: bool
    waterbody: str

    def target_on(self, indicator: str, on: date) -> int:
        if self.target_class is None:
            return self.targets[indicator]
        return water.limits_on(self.waterbody, on).limit(indicator, self.target_class)


@dataclass(frozen=True)
class ClassStepRule:
    target_class: int
    better_fen: int
    worse_fen: int
    two_way: bool
    waterbody: str


@dataclass(frozen=True)
class QuantityRule:
    volume_targets: dict[int, int]  # month -> m³
    flow_targets: dict[int, int]  # month -> 0.001 m³/s
    volume_attained_fen: int
    volume_missed_fen: int
    flow_attained_fen: int
    flow_missed_fen: int


@dataclass(frozen=True)
class PIndexRule:
    k0: Fraction
    weights: dict[str, Fraction]
    baselines: dict[str, int]  # 0.0001 mg/L
    threshold: Fraction
    amount_fen: int


@dataclass(frozen=True)
class FundClause:
    section: str
    cut_from: dict[str, Fraction]  # party -> share of its allocation cut
    paid_to: dict[str, Fraction]  # party -> ratio of the cut it receives


@dataclass(frozen=True)
class FundRule:
    total_fen: int
    contributions: dict[str, Fraction]
    allocations: dict[str, Fraction]
    clauses: tuple[FundClause, ...]
    target_class: int
    waterbody: str


Rule = LoadRule | ClassStepRule | QuantityRule | PIndexRule | FundRule


def _need(params: Mapping[str, Any], name: str, kind: str) -> Any:
    value = params.get(name)
    if value is None or value == "" or value == {}:
        raise _err(f"{kind} 规则缺少 {name}", f"{kind} rule lacks {name}")
    return value


def _money(params: Mapping[str, Any], name: str, kind: str) -> int:
    unit = unit_of(MONEY, params.get("amount_unit"), what=f"{kind}.amount_unit")
    return to_base(MONEY, _need(params, name, kind), unit, what=f"{kind}.{name}")


def _ratio(value: Any, what: str) -> Fraction:
    return Fraction(to_base(RATIO, value, "", what=what), 1_000_000)


def _ratios(params: Mapping[str, Any], name: str, kind: str) -> dict[str, Fraction]:
    given = _need(params, name, kind)
    if not isinstance(given, Mapping):
        raise _err(f"{kind}.{name} 须为 {{参与方: 比例}}", f"{kind}.{name} must map party to ratio")
    ratios = {str(k): _ratio(v, f"{kind}.{name}.{k}") for k, v in given.items()}
    if sum(ratios.values()) <= 0:
        raise _err(f"{kind}.{name} 的比例之和须大于零", f"{kind}.{name} ratios must sum above 0")
    return ratios


def _direction(params: Mapping[str, Any], kind: str) -> bool:
    direction = _need(params, "direction", kind)
    if direction not in DIRECTIONS:
        raise _err(f"{kind}.direction {direction!r} 无效（two_way 或 one_way）",
                   f"{kind}.direction {direction!r} is not two_way or one_way")
    return bool(direction == "two_way")


def _waterbody(params: Mapping[str, Any]) -> str:
    body = params.get("waterbody", "river")
    if body not in water.WATERBODIES:
        raise _err(f"水体类型 {body!r} 无效", f"unknown water body {body!r}")
    return str(body)


def _monthly(params: Mapping[str, Any], name: str, dimension: Any, unit: str, kind: str
             ) -> dict[int, int]:
    given = _need(params, name, kind)
    if not isinstance(given, Mapping):
        raise _err(f"{kind}.{name} 须为 {{月份: 目标}}", f"{kind}.{name} must map month to target")
    months = {}
    for key, value in given.items():
        month = int(key) if str(key).isdigit() else 0
        if not 1 <= month <= 12:
            raise _err(f"{kind}.{name} 的月份 {key!r} 无效", f"{kind}.{name}: bad month {key!r}")
        months[month] = to_base(dimension, value, unit, what=f"{kind}.{name}[{month}]")
    missing = [m for m in range(1, 13) if m not in months]
    if missing:
        raise _err(f"{kind}.{name} 缺少月份 {missing}（目标须逐月给出，不以零代替）",
                   f"{kind}.{name} lacks months {missing} (targets are given month by "
                   "month, never taken as zero)")
    return months


def _load_rule(params: Mapping[str, Any]) -> LoadRule:
    kind = "pollutant_load"
    given = _need(params, "indicators", kind)
    if not isinstance(given, Mapping):
        raise _err("pollutant_load.indicators 须为 {指标: {target, rate}}",
                   "pollutant_load.indicators must map indicator to {target, rate}")
    rate_unit = unit_of(RATE, params.get("rate_unit"), what="pollutant_load.rate_unit")
    target_class = (water.class_index(str(params["target_class"]))
                    if params.get("target_class") else None)
    if target_class is not None and target_class > 4:
        raise _err("目标类别须为 I–V", "the target class must be I to V")
    conc_unit = (unit_of(CONCENTRATION, params.get("concentration_unit"),
                         what="pollutant_load.concentration_unit")
                 if target_class is None else None)
    rates, targets = {}, {}
    for indicator, entry in given.items():
        if indicator not in LOAD_INDICATORS:
            raise _err(f"未知指标 {indicator!r}", f"unknown indicator {indicator!r}")
        entry = entry if isinstance(entry, Mapping) else {}
        rates[indicator] = to_base(RATE, _need(entry, "rate", f"{kind}.{indicator}"), rate_unit,
                                   what=f"{indicator} rate")
        if target_class is None:
            targets[indicator] = to_base(CONCENTRATION, _need(entry, "target",
                                         f"{kind}.{indicator}"), conc_unit,
                                         what=f"{indicator} target")
    return LoadRule(tuple(given), rates, targets, target_class, _direction(params, kind),
                    _waterbody(params))


def _class_step_rule(params: Mapping[str, Any]) -> ClassStepRule:
    kind = "class_step"
    target = water.class_index(str(_need(params, "target_class", kind)))
    if target > 4:
        raise _err("目标类别须为 I–V", "the target class must be I to V")
    return ClassStepRule(target, _money(params, "better_per_class", kind),
                         _money(params, "worse_per_class", kind), _direction(params, kind),
                         _waterbody(params))


def _quantity_rule(params: Mapping[str, Any]) -> QuantityRule:
    kind = "quantity"
    volume_unit = unit_of(VOLUME, params.get("volume_unit"), what="quantity.volume_unit")
    flow_unit = unit_of(FLOW, params.get("flow_unit"), what="quantity.flow_unit")
    return QuantityRule(
        _monthly(params, "volume_targets", VOLUME, volume_unit, kind),
        _monthly(params, "min_flow_targets", FLOW, flow_unit, kind),
        _money(params, "volume_attained", kind), _money(params, "volume_missed", kind),
        _money(params, "flow_attained", kind), _money(params, "flow_missed", kind))


def _p_index_rule(params: Mapping[str, Any]) -> PIndexRule:
    kind = "p_index"
    weights = _ratios(params, "weights", kind)
    unit = unit_of(CONCENTRATION, params.get("concentration_unit"),
                   what="p_index.concentration_unit")
    given = _need(params, "baselines", kind)
    baselines = {str(k): to_base(CONCENTRATION, v, unit, what=f"p_index.baselines.{k}")
                 for k, v in dict(given).items()}
    if set(weights) != set(baselines) or not set(weights) <= set(LOAD_INDICATORS):
        raise _err("p_index 的权重与基准须为同一组指标（CODMn NH3-N TP TN）",
                   "p_index weights and baselines must name the same indicators")
    if any(value <= 0 for value in baselines.values()):
        raise _err("p_index 基准浓度须大于零", "p_index baselines must be above zero")
    return PIndexRule(_ratio(_need(params, "k0", kind), "p_index.k0"), weights, baselines,
                      _ratio(_need(params, "threshold", kind), "p_index.threshold"),
                      _money(params, "amount", kind))


def _fund_rule(params: Mapping[str, Any]) -> FundRule:
    kind = "joint_fund"
    contributions = _ratios(params, "contributions", kind)
    allocations = _ratios(params, "allocations", kind)
    parties = set(contributions) | set(allocations)
    clauses = []
    for n, clause in enumerate(params.get("clauses") or [], 1):
        what = f"joint_fund.clauses[{n}]"
        cut_from = _ratios(clause, "cut_from", what)
        paid_to = _ratios(clause, "paid_to", what)
        strangers = (set(cut_from) | set(paid_to)) - parties
        if strangers:
            raise _err(f"{what} 的参与方 {sorted(strangers)} 不在基金中",
                       f"{what} names parties {sorted(strangers)} outside the fund")
        if any(share > 1 for share in cut_from.values()):
            raise _err(f"{what}.cut_from 的比例不能超过 1", f"{what}.cut_from shares exceed 1")
        clauses.append(FundClause(str(_need(clause, "section", what)), cut_from, paid_to))
    target = water.class_index(str(_need(params, "target_class", kind)))
    return FundRule(_money(params, "total", kind), contributions, allocations, tuple(clauses),
                    target, _waterbody(params))


PARSERS: dict[str, Callable[[Mapping[str, Any]], Rule]] = {
    "pollutant_load": _load_rule, "class_step": _class_step_rule, "quantity": _quantity_rule,
    "p_index": _p_index_rule, "joint_fund": _fund_rule}


def parse_rule(kind: str, params: Mapping[str, Any]) -> Rule:
    """A rule from its stored data; refused, with what is wrong, if a figure, a unit or a
    month is missing or does not fit."""
    if kind not in PARSERS:
        raise _err(f"规则类型 {kind!r} 无效（可选 {', '.join(RULE_KINDS)}）",
                   f"unknown rule kind {kind!r}; choose one of {', '.join(RULE_KINDS)}")
    if not isinstance(params, Mapping):
        raise _err("规则参数须为对象", "rule parameters must be an object")
    return PARSERS[kind](params)


def sections_of(rule: Rule) -> list[str]:
    """The sections a yearly fund rule's clauses name (section codes)."""
    return [clause.section for clause in rule.clauses] if isinstance(rule, FundRule) else []


def tonnes_text(excess: int) -> str:
    """An excess in 1e-10 t (0.0001 mg/L × m³) as tonnes, exactly: 5e9 -> '0.5'."""
    return f"{Decimal(excess).scaleb(-10).normalize():f}"


# --- one charge, through the batch path ----------------------------------------------

@dataclass(frozen=True)
class LoadCharge:
    indicator: str
    measured: int
    target: int
    volume: int
    rate: int
    two_way: bool
    excess: int  # 1e-10 t
    to_upstream_fen: int

    def to_json_dict(self) -> dict[str, Any]:
        payer = ("upstream" if self.to_upstream_fen < 0 else
                 "downstream" if self.to_upstream_fen > 0 else None)
        payee = {"upstream": "downstream", "downstream": "upstream"}.get(payer or "")
        return {
            "method": {"id": METHOD_ID, "version": METHOD_VERSION, "rule": "pollutant_load",
                       "equation": "(measured - target) x monthly volume x rate; "
                                   "t = mg/L x m3 x 1e-6"},
            "indicator": self.indicator,
            "measured": {"value": text_of(CONCENTRATION, self.measured), "unit": "mg/L"},
            "target": {"value": text_of(CONCENTRATION, self.target), "unit": "mg/L"},
            "volume": {"value": text_of(VOLUME, self.volume), "unit": "m3"},
            "rate": {"value": text_of(RATE, self.rate), "unit": "万元/t"},
            "direction": "two_way" if self.two_way else "one_way",
            "excess_t": tonnes_text(self.excess),
            "amount_yuan": yuan_text(abs(self.to_upstream_fen)),
            "payer": payer, "payee": payee,
        }


# The units of the `qinglu basin charge` options (their public names keep bare numbers:
# `--volume 1e7 --rate 1`); a value may still carry its own unit of the same kind.
OPTION_UNITS: dict[str, str | None] = {"measured": "mg/L", "target": "mg/L", "volume": "m3",
                                       "rate": "万元/t"}


def load_charge_input(given: Mapping[str, Any], *, units: Mapping[str, str | None]
                      ) -> LoadCharge:
    """One pollutant-load charge from what a caller gave: indicator, measured, target,
    volume, rate and direction (default one_way: only an excess is charged). `units` are
    the units a caller's interface declares for bare numbers of measured/target
    (concentration), volume and rate; None for a field means its value must carry one."""
    indicator = str(given.get("indicator") or "").strip().upper().replace("NH3N", "NH3-N")
    indicator = {"CODMN": "CODMn"}.get(indicator, indicator)
    if indicator not in LOAD_INDICATORS:
        raise _err(f"指标 {given.get('indicator')!r} 无效（可选 {' '.join(LOAD_INDICATORS)}）",
                   f"unknown indicator {given.get('indicator')!r}; choose one of "
                   f"{', '.join(LOAD_INDICATORS)}")
    values = {}
    for name, dimension in (("measured", CONCENTRATION), ("target", CONCENTRATION),
                            ("volume", VOLUME), ("rate", RATE)):
        if given.get(name) is None or str(given[name]).strip() == "":
            raise _err(f"{name} 必填", f"{name} is required")
        values[name] = to_base(dimension, given[name], units.get(name), what=name)
    direction = given.get("direction") or "one_way"
    two_way = _direction({"direction": direction}, "pollutant_load")
    return charge(indicator, values["measured"], values["target"], values["volume"],
                  values["rate"], two_way)


def charge(indicator: str, measured: int, target: int, volume: int, rate: int,
           two_way: bool) -> LoadCharge:
    def one(value: int) -> Ints:
        return np.array([value], dtype=np.int64)

    excess, to_up = load_lines(one(measured), one(target), one(volume), one(rate),
                               np.array([two_way], dtype=np.bool_))
    return LoadCharge(indicator, measured, target, volume, rate, two_way, int(excess[0]),
                      int(to_up[0]))


# --- yearly rules --------------------------------------------------------------------

def annual_mean(values: Sequence[int]) -> Fraction:
    """The mean of a year's monthly concentrations, exactly."""
    if not values:
        raise _err("没有可用于年均值的监测值", "no monitoring values for an annual mean")
    return Fraction(sum(values), len(values))


def class_of_mean(mean: Fraction, limits: Sequence[int] | Ints) -> int:
    """The class index of an (exact) annual mean: the first limit it does not exceed."""
    return next((k for k, limit in enumerate(limits) if mean <= int(limit)), len(limits))


@dataclass(frozen=True)
class PIndexResult:
    p: Fraction
    ratios: dict[str, Fraction]
    attains: bool
    to_upstream_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {"p": f"{Decimal(self.p.numerator) / Decimal(self.p.denominator):.4f}",
                "ratios": {k: f"{Decimal(v.numerator) / Decimal(v.denominator):.4f}"
                           for k, v in self.ratios.items()},
                "attains": self.attains, "to_upstream_yuan": yuan_text(self.to_upstream_fen)}


def p_index(rule: PIndexRule, means: Mapping[str, Fraction]) -> PIndexResult:
    """P = k0 × Σ kᵢ × Cᵢ/Cᵢ₀ over annual means (0.0001 mg/L, exact); P ≤ threshold:
    the downstream party pays the amount, above it the upstream party does."""
    missing = [name for name in rule.weights if name not in means]
    if missing:
        raise _err(f"缺少 {missing} 的年均值", f"no annual mean of {missing}")
    ratios = {name: means[name] / rule.baselines[name] for name in rule.weights}
    p = rule.k0 * sum((rule.weights[name] * ratios[name] for name in rule.weights),
                      Fraction(0))
    attains = p <= rule.threshold
    return PIndexResult(p, ratios, attains, rule.amount_fen if attains else -rule.amount_fen)


@dataclass(frozen=True)
class FundResult:
    contributions: dict[str, int]  # fen each party pays in
    allocations: dict[str, int]  # fen each party is allocated before clauses
    cuts: dict[str, int]  # fen cut from a party's allocation
    received: dict[str, int]  # fen a party receives from others' cuts
    failed: list[str]  # sections whose clause applied

    @property
    def net(self) -> dict[str, int]:
        return {party: self.allocations.get(party, 0) - self.contributions.get(party, 0)
                - self.cuts.get(party, 0) + self.received.get(party, 0)
                for party in sorted(set(self.contributions) | set(self.allocations))}

    def as_dict(self) -> dict[str, Any]:
        def shown(amounts: Mapping[str, int]) -> dict[str, str]:
            return {party: yuan_text(fen) for party, fen in sorted(amounts.items())}

        return {"contributions": shown(self.contributions), "allocations": shown(self.allocations),
                "cuts": shown(self.cuts), "received": shown(self.received),
                "net": shown(self.net), "failed_sections": self.failed}


def _shares(total: int, ratios: Mapping[str, Fraction]) -> dict[str, int]:
    whole = sum(ratios.values())
    return {party: fen_of_fraction(total * ratio / whole) for party, ratio in ratios.items()}


def joint_fund(rule: FundRule, attains: Mapping[str, bool]) -> FundResult:
    """A year of a joint fund: contributions and allocations by ratio; each clause whose
    section did not attain cuts its parties' allocations and pays the cut by ratio. A
    section without an assessment is refused, never taken as attaining."""
    contributions = _shares(rule.total_fen, rule.contributions)
    allocations = _shares(rule.total_fen, rule.allocations)
    cuts: dict[str, int] = {}
    received: dict[str, int] = {}
    failed = []
    for clause in rule.clauses:
        if clause.section not in attains:
            raise _err(f"断面 {clause.section} 没有年度评价结果",
                       f"section {clause.section} has no yearly assessment")
        if attains[clause.section]:
            continue
        failed.append(clause.section)
        cut = 0
        for party, share in clause.cut_from.items():
            amount = fen_of_fraction(allocations.get(party, 0) * share)
            cuts[party] = cuts.get(party, 0) + amount
            cut += amount
        for party, fen in _shares(cut, clause.paid_to).items():
            received[party] = received.get(party, 0) + fen
    return FundResult(contributions, allocations, cuts, received, failed)


# --- cited templates -----------------------------------------------------------------

def _templates() -> ParameterTable:
    return packaged_table("basin_rules.csv", ("rule_set", "name"))


def template_values(rule_set: str, on: date) -> dict[str, tuple[Decimal, dict[str, Any]]]:
    """The cited figures of a known rule set valid on `on`: name -> (value, parameter)."""
    table = _templates()
    keys = table.keys()
    found = {}
    for key in keys:
        if key[0] != rule_set:
            continue
        parameter = table.get(key, on)
        if parameter is not None:
            found[key[1]] = (Decimal(repr(parameter.value)).normalize(),
                             parameter.as_dict(f"{rule_set}.{key[1]}"))
    if not found:
        known = sorted({key[0] for key in keys})
        raise _err(f"规则模板 {rule_set!r} 在 {on} 无有效值（已知：{', '.join(known)}）",
                   f"no figures of rule set {rule_set!r} valid on {on} (known: "
                   f"{', '.join(known)})")
    return found
