"""Water class by GB 3838-2002 Table 1: each indicator deciding once, limits inclusive,
lakes' own limits, units, and the CLI and API doors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

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
from qinglu.methods import water
from qinglu.web.problems import install_problem_handlers

runner = CliRunner()
ON = date(2024, 6, 1)


def classify(lake: bool = False, **values: str) -> water.WaterClass:
    return water.classify(water.water_input({**values, "lake": lake}, unit="mg/L", on=ON))


@pytest.mark.parametrize(("values", "lake", "expected", "decider"), [
    ({"codmn": "5", "nh3n": "0.3", "tp": "0.05"}, False, "III", "CODMn"),
    ({"codmn": "3", "nh3n": "1.2", "tp": "0.05"}, False, "IV", "NH3-N"),
    ({"codmn": "3", "nh3n": "0.3", "tp": "0.25"}, False, "IV", "TP"),
    # In a lake TP 0.02 is class II (lake limits 0.01/0.025), TN 1.2 is class IV.
    ({"codmn": "3", "nh3n": "0.3", "tp": "0.02", "tn": "1.2"}, True, "IV", "TN"),
])
def test_each_indicator_decides_once(values: dict[str, str], lake: bool, expected: str,
                                     decider: str) -> None:
    result = classify(lake, **values)
    assert result.name == expected
    assert result.deciding == [decider]
    others = {k: v for k, v in result.indicator_classes.items() if k != decider}
    assert all(v < result.klass for v in others.values())


def test_limits_are_inclusive_and_worse_than_v() -> None:
    at_limit = classify(codmn="4", nh3n="0.5", tp="0.1")
    assert at_limit.name == "II" and at_limit.deciding == ["CODMn", "NH3-N", "TP"]
    assert classify(codmn="4.0001", nh3n="0.5", tp="0.1").name == "III"
    assert classify(codmn="2", nh3n="0.15", tp="0.02").name == "I"
    worst = classify(codmn="3", nh3n="0.3", tp="0.41")
    assert worst.name == "劣V" and worst.deciding == ["TP"]


def test_lake_tp_limits_differ_from_river() -> None:
    assert classify(codmn="3", nh3n="0.3", tp="0.04").name == "II"
    assert classify(True, codmn="3", nh3n="0.3", tp="0.04").name == "III"


def test_river_tn_is_kept_not_assessed() -> None:
    result = classify(codmn="3", nh3n="0.3", tp="0.05", tn="5")
    assert result.name == "II" and "TN" not in result.indicator_classes
    shown = result.to_json_dict()
    assert shown["indicators"]["TN"]["class"] is None and shown["notes"]


def test_limits_are_cited_and_dated() -> None:
    shown = classify(codmn="3", nh3n="0.3", tp="0.05").to_json_dict()
    assert "GB 3838-2002" in shown["limits_source"] and "Table 1" in shown["limits_source"]
    assert {p["valid_from"] for p in shown["parameters"]} == {"2002-06-01"}
    assert all(p["unit"] == "mg/L" and p["source"] for p in shown["parameters"])
    with pytest.raises(InvalidInput, match="2001-01-01"):
        water.classify(water.water_input({"codmn": "3", "nh3n": "0.3", "tp": "0.05"},
                                         unit="mg/L", on=date(2001, 1, 1)))


def test_units() -> None:
    micro = water.water_input({"codmn": "3 mg/L", "nh3n": "300 ug/L", "tp": "50 μg/L"},
                              unit=None)
    assert micro.values["TP"] == water.water_input(
        {"codmn": "3 mg/L", "nh3n": "0.3mg/L", "tp": "0.05 mg/L"}, unit=None).values["TP"]
    with pytest.raises(InvalidInput, match="needs its unit"):
        water.water_input({"codmn": "3", "nh3n": "0.3", "tp": "0.05"}, unit=None)
    with pytest.raises(InvalidInput, match="not of concentration"):
        water.water_input({"codmn": "3 m3", "nh3n": "0.3", "tp": "0.05"}, unit="mg/L")
    with pytest.raises(InvalidInput, match="negative"):
        water.water_input({"codmn": "-3", "nh3n": "0.3", "tp": "0.05"}, unit="mg/L")
    with pytest.raises(InvalidInput, match="finer"):
        water.water_input({"codmn": "3", "nh3n": "0.3", "tp": "0.00001"}, unit="mg/L")
    with pytest.raises(InvalidInput, match="TP is required"):
        water.water_input({"codmn": "3", "nh3n": "0.3"}, unit="mg/L")


def _reference_class(value: Decimal, limits: list[Decimal]) -> int:
    return next((k for k, limit in enumerate(limits) if value <= limit), 5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*(st.integers(0, 30_000) for _ in range(3))), min_size=1,
                max_size=40))
def test_batch_agrees_with_a_plain_reading_of_table_1(samples: list[tuple[int, int, int]]
                                                      ) -> None:
    limits = water.limits_on("river", ON)
    arrays = {name: np.array([s[i] for s in samples], dtype=np.int64)
              for i, name in enumerate(("CODMn", "NH3-N", "TP"))}
    worst, _ = water.classify_batch(arrays, limits)
    table = {"CODMn": ["2", "4", "6", "10", "15"], "NH3-N": ["0.15", "0.5", "1.0", "1.5", "2.0"],
             "TP": ["0.02", "0.1", "0.2", "0.3", "0.4"]}
    for n, sample in enumerate(samples):
        expected = max(_reference_class(Decimal(v).scaleb(-4), [Decimal(x) for x in table[k]])
                       for k, v in zip(table, sample, strict=True))
        assert worst[n] == expected


def test_cli_json() -> None:
    result = runner.invoke(qinglu_app, ["water", "class", "--codmn", "3", "--nh3n", "1.2",
                                        "--tp", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["class"] == "IV" and data["deciding"] == ["NH3-N"]
    assert "GB 3838-2002" in data["limits_source"]
    lake = runner.invoke(qinglu_app, ["water", "class", "--codmn", "3", "--nh3n", "0.3",
                                      "--tp", "0.02", "--tn", "1.2", "--lake", "--json"])
    assert json.loads(lake.stdout)["deciding"] == ["TN"]
    bad = runner.invoke(qinglu_app, ["water", "class", "--codmn", "3", "--nh3n", "0.3",
                                     "--tp", "0.05 m3/s"])
    assert bad.exit_code == 1 and "flow" in bad.output


def test_api() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router, prefix="/api/v1")
    client = TestClient(app)
    answer = client.post("/api/v1/methods/water-class",
                         json={"codmn": "5", "nh3n": "0.3", "tp": "0.05", "unit": "mg/L"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["class"] == "III" and answer.json()["deciding"] == ["CODMn"]
    assert "limits_source" in answer.json()
    no_unit = client.post("/api/v1/methods/water-class",
                          json={"codmn": "5", "nh3n": "0.3", "tp": "0.05"})
    assert no_unit.status_code == 422 and "unit" in no_unit.json()["detail"]
