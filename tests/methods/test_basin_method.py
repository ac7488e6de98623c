"""The basin compensation method: hand-checked figures for each kind of rule, the money
rule kept exactly in int64, rules refused without their figures, units or months, and
the charge through the CLI and the API."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from qinglu.basins.api import router
from qinglu.cli import app as qinglu_app
from qinglu.core.errors import InvalidInput
from qinglu.core.money import round_fen
from qinglu.methods import basin
from qinglu.methods.basin_units import CONCENTRATION, MONEY, RATE, VOLUME, to_base
from qinglu.web.problems import install_problem_handlers

runner = CliRunner()
WAN = 10_000 * 100  # fen in 1万元
YI = 10_000 * WAN  # fen in 1亿元


def test_tp_charge_at_the_2014_guizhou_rate() -> None:
    """TP 0.25 mg/L against 0.2 with 1.0e7 m³ in a month: 0.05 × 1e7 × 1e-6 = 0.5 t, at
    1万元/t (Guizhou 2014, Chishui) 0.5万元 = 5,000 yuan, paid by the upstream side."""
    figures = basin.template_values("guizhou2014_chishui", date(2015, 6, 1))
    rate, cited = figures["rate.TP"]
    assert rate == 1 and "2014" in cited["source"] and cited["unit"] == "万元/t"
    result = basin.load_charge_input(
        {"indicator": "TP", "measured": "0.25", "target": "0.2", "volume": "1.0e7",
         "rate": f"{rate} 万元/t"},
        units={"measured": "mg/L", "target": "mg/L", "volume": "m3", "rate": None})
    shown = result.to_json_dict()
    assert shown["excess_t"] == "0.5" and shown["amount_yuan"] == "5000.00"
    assert shown["payer"] == "upstream" and shown["payee"] == "downstream"
    # The 2014 rates are not valid after the 2020 rules replaced them.
    with pytest.raises(InvalidInput, match="valid on 2024"):
        basin.template_values("guizhou2014_chishui", date(2024, 1, 1))


def test_2014_rates_for_the_other_indicators() -> None:
    figures = basin.template_values("guizhou2014_chishui", date(2016, 1, 1))
    assert (figures["rate.CODMn"][0], figures["rate.NH3-N"][0]) == (Decimal("0.1"),
                                                                    Decimal("0.7"))
    # CODMn 1 mg/L over target on 2e7 m³: 20 t at 0.1万元/t = 2万元.
    charge = basin.load_charge_input(
        {"indicator": "CODMn", "measured": "5", "target": "4", "volume": "2000万m3",
         "rate": "0.1"}, units={"measured": "mg/L", "target": "mg/L", "volume": "m3",
                                "rate": "万元/t"}).to_json_dict()
    assert charge["excess_t"] == "20" and charge["amount_yuan"] == "20000.00"


def test_one_way_pays_nothing_for_clean_water_two_way_pays_back() -> None:
    units = {"measured": "mg/L", "target": "mg/L", "volume": "m3", "rate": "万元/t"}
    clean = {"indicator": "TP", "measured": "0.15", "target": "0.2", "volume": "1e7",
             "rate": "1"}
    one_way = basin.load_charge_input(clean, units=units).to_json_dict()
    assert one_way["amount_yuan"] == "0.00" and one_way["payer"] is None
    two_way = basin.load_charge_input({**clean, "direction": "two_way"},
                                      units=units).to_json_dict()
    assert two_way["excess_t"] == "-0.5" and two_way["amount_yuan"] == "5000.00"
    assert two_way["payer"] == "downstream"


@settings(max_examples=300, deadline=None)
@given(st.integers(-5 * 10**18, 5 * 10**18), st.integers(0, 10**8))
def test_int64_charge_rounds_as_round_fen(excess: int, rate: int) -> None:
    """The vectorised charge equals the Decimal computation rounded by round_fen."""
    fen = basin.scaled_fen(np.array([excess], dtype=np.int64),
                           np.array([rate], dtype=np.int64), basin.EXCESS_PER_TONNE)[0]
    yuan = Decimal(excess) * Decimal(rate) / Decimal(10**10) / 100
    assert int(fen) == int(round_fen(yuan) * 100)


def _fund(year: int = 2019, clauses: list[dict[str, Any]] | None = None) -> basin.FundRule:
    figures = basin.template_values("chishui2018_fund", date(year, 6, 1))
    params = {"total": str(figures["total"][0]), "amount_unit": "元", "target_class": "II",
              "contributions": {r: str(figures[f"contribution.{r}"][0])
                                for r in ("530000", "520000", "510000")},
              "allocations": {r: str(figures[f"allocation.{r}"][0])
                              for r in ("530000", "520000", "510000")},
              "clauses": clauses if clauses is not None else [
                  {"section": "QSP", "cut_from": {"530000": "1"},
                   "paid_to": {"520000": "1", "510000": "1"}},
                  {"section": "LYX", "cut_from": {"520000": "1"}, "paid_to": {"510000": "1"}}]}
    rule = basin.parse_rule("joint_fund", params)
    assert isinstance(rule, basin.FundRule)
    return rule


def test_chishui_fund_when_every_section_attains() -> None:
    """2亿, paid 1:5:4 (YN 2000万, GZ 1亿, SC 8000万), allocated 3:4:3 (6000万, 8000万,
    6000万): Yunnan +4,000万, Guizhou −2,000万, Sichuan −2,000万 (2019's reported flows)."""
    result = basin.joint_fund(_fund(), {"QSP": True, "LYX": True})
    assert result.net == {"510000": -2000 * WAN, "520000": -2000 * WAN, "530000": 4000 * WAN}
    assert sum(result.net.values()) == 0 and result.failed == []
    assert result.contributions == {"530000": 2000 * WAN, "520000": YI, "510000": 8000 * WAN}


def test_chishui_fund_when_qingshuipu_fails() -> None:
    """清水铺 failing: Yunnan's 6000万 allocation is cut and paid to Guizhou and Sichuan 50/50."""
    result = basin.joint_fund(_fund(), {"QSP": False, "LYX": True})
    assert result.net == {"530000": -2000 * WAN, "520000": 1000 * WAN, "510000": 1000 * WAN}
    assert result.failed == ["QSP"]
    with pytest.raises(InvalidInput, match="LYX"):
        basin.joint_fund(_fund(), {"QSP": True})  # never taken as attaining


def test_p_index_structure() -> None:
    """k0 0.85, every weight 0.25, C/C0 = (0.9, 0.8, 1.1, 1.0): Σ = 0.95, P = 0.8075 ≤ 1,
    so the downstream side pays 1亿 (invented inputs: the structure only)."""
    rule = basin.parse_rule("p_index", {
        "k0": "0.85", "weights": {k: "0.25" for k in ("CODMn", "NH3-N", "TP", "TN")},
        "baselines": {"CODMn": "2", "NH3-N": "0.5", "TP": "0.05", "TN": "1"},
        "concentration_unit": "mg/L", "threshold": "1", "amount": "1", "amount_unit": "亿元"})
    assert isinstance(rule, basin.PIndexRule)
    means = {name: Fraction(to_base(CONCENTRATION, value, "mg/L", what=name))
             for name, value in (("CODMn", "1.8"), ("NH3-N", "0.4"), ("TP", "0.055"),
                                 ("TN", "1"))}
    result = basin.p_index(rule, means)
    assert result.p == Fraction(8075, 10_000) and result.attains
    assert result.to_upstream_fen == YI
    worse = basin.p_index(rule, {**means, "TP": Fraction(to_base(CONCENTRATION, "0.2", "mg/L",
                                                                    what="TP"))})
    assert not worse.attains and worse.to_upstream_fen == -YI


def _quantity(missed: str = "5") -> basin.QuantityRule:
    months = {str(m): "1000" for m in range(1, 13)}
    rule = basin.parse_rule("quantity", {
        "volume_unit": "万m3", "volume_targets": months, "flow_unit": "m3/s",
        "min_flow_targets": {str(m): "20" for m in range(1, 13)}, "amount_unit": "万元",
        "volume_attained": "5", "volume_missed": missed, "flow_attained": "5",
        "flow_missed": missed})
    assert isinstance(rule, basin.QuantityRule)
    return rule


def test_a_month_where_volume_attains_and_the_minimum_flow_does_not() -> None:
    rule = _quantity(missed="8")
    volume = to_base(VOLUME, "1200万m3", None, what="volume")  # target 1000万m3: attained
    flow = to_base(basin.FLOW, "18.4", "m3/s", what="min flow")  # target 20 m3/s: missed
    attained, paid = basin.quantity_lines(
        np.array([volume, flow], dtype=np.int64),
        np.array([rule.volume_targets[2], rule.flow_targets[2]], dtype=np.int64),
        np.array([rule.volume_attained_fen, rule.flow_attained_fen], dtype=np.int64),
        np.array([rule.volume_missed_fen, rule.flow_missed_fen], dtype=np.int64))
    assert attained.tolist() == [True, False]
    assert paid.tolist() == [5 * WAN, -8 * WAN]  # downstream pays 5万, upstream pays 8万


def test_class_steps_both_ways_and_one_way() -> None:
    klass = np.array([0, 1, 2, 5], dtype=np.int64)  # I, II, III, 劣V against target II
    target = np.full(4, 1, dtype=np.int64)
    amount = np.full(4, 20 * WAN, dtype=np.int64)
    steps, two_way = basin.class_step_lines(klass, target, amount, amount,
                                            np.ones(4, dtype=np.bool_))
    assert steps.tolist() == [1, 0, -1, -4]
    assert two_way.tolist() == [20 * WAN, 0, -20 * WAN, -80 * WAN]
    _, one_way = basin.class_step_lines(klass, target, amount, amount,
                                        np.zeros(4, dtype=np.bool_))
    assert one_way.tolist() == [0, 0, -20 * WAN, -80 * WAN]


def test_netting_per_pair() -> None:
    pair = np.array([0, 0, 1, 0, 1], dtype=np.int64)
    to_upstream = np.array([30, -10, -5, 10, 5], dtype=np.int64)
    up, down, net = basin.net_by_pair(pair, to_upstream, 2)
    assert up.tolist() == [40, 5] and down.tolist() == [10, 5] and net.tolist() == [30, 0]
    # Sums beyond 2^53 fen stay exact.
    big = np.array([2**60, 1], dtype=np.int64)
    assert basin.sum_by(np.zeros(2, dtype=np.int64), big, 1).tolist() == [2**60 + 1]


@pytest.mark.parametrize(("kind", "params", "reason"), [
    ("quantity", {"volume_unit": "万m3", "volume_targets": {str(m): "1" for m in range(1, 12)},
                  "flow_unit": "m3/s", "min_flow_targets": {str(m): "1" for m in range(1, 13)},
                  "amount_unit": "万元", "volume_attained": "1", "volume_missed": "1",
                  "flow_attained": "1", "flow_missed": "1"}, "lacks months \\[12\\]"),
    ("quantity", {"volume_unit": "m3/s", "volume_targets": {}, "amount_unit": "万元"},
     "not of volume"),
    ("class_step", {"target_class": "II", "better_per_class": "20", "worse_per_class": "20",
                    "direction": "two_way"}, "needs its unit"),
    ("class_step", {"target_class": "VII", "better_per_class": "20", "worse_per_class": "20",
                    "amount_unit": "万元", "direction": "two_way"}, "unknown water class"),
    ("pollutant_load", {"indicators": {"TP": {"target": "0.2"}}, "concentration_unit": "mg/L",
                        "rate_unit": "万元/t", "direction": "one_way"}, "lacks rate"),
    ("joint_fund", {"total": "2", "amount_unit": "亿元", "target_class": "II",
                    "contributions": {"530000": "1"}, "allocations": {"530000": "1"},
                    "clauses": [{"section": "X", "cut_from": {"999999": "1"},
                                 "paid_to": {"530000": "1"}}]}, "outside the fund"),
    ("flood", {}, "unknown rule kind"),
])
def test_rules_refused_without_their_figures(kind: str, params: dict[str, Any],
                                             reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        basin.parse_rule(kind, params)


def test_units_of_money_volume_and_rate() -> None:
    assert to_base(MONEY, "1.5", "万元", what="x") == 15_000 * 100
    assert to_base(VOLUME, "0.25亿m3", None, what="x") == 25_000_000
    assert to_base(RATE, "10000 元/t", None, what="x") == to_base(RATE, "1", "万元/t", what="x")
    with pytest.raises(InvalidInput, match="finer"):
        to_base(VOLUME, "0.5", "m3", what="volume")


def test_charge_cli() -> None:
    result = runner.invoke(qinglu_app, ["basin", "charge", "--indicator", "TP", "--measured",
                                        "0.25", "--target", "0.2", "--volume", "1e7",
                                        "--rate", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["excess_t"] == "0.5" and data["amount_yuan"] == "5000.00"
    flow = runner.invoke(qinglu_app, ["basin", "charge", "--indicator", "TP", "--measured",
                                      "0.25", "--target", "0.2", "--volume", "4 m3/s",
                                      "--rate", "1"])
    assert flow.exit_code == 1 and "not of volume" in flow.output


def test_charge_api() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router, prefix="/api/v1")
    client = TestClient(app)
    body = {"indicator": "TP", "measured": "0.25", "target": "0.2",
            "concentration_unit": "mg/L", "volume": "1e7", "volume_unit": "m3", "rate": "1",
            "rate_unit": "万元/t"}
    answer = client.post("/api/v1/methods/pollutant-load-charge", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["excess_t"] == "0.5" and answer.json()["amount_yuan"] == "5000.00"
    in_wan = client.post("/api/v1/methods/pollutant-load-charge",
                         json={**body, "volume": "1000", "volume_unit": "万m3"})
    assert in_wan.json()["amount_yuan"] == "5000.00"
    without = client.post("/api/v1/methods/pollutant-load-charge",
                          json={k: v for k, v in body.items() if k != "volume_unit"})
    assert without.status_code == 422 and "volume_unit" in without.json()["detail"]
