"""The green-power method: CO2 at a named MEE/NBS factor, the GEC rules (1,000 kWh per
certificate with the remainder carried, tradability, validity) and the serial parser;
`qinglu green co2`, `qinglu gec serial` and POST /api/v1/methods/green-power-co2."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qinglu.cli import app as qinglu_app
from qinglu.core.errors import InvalidInput, InvalidSerial
from qinglu.green.api import router
from qinglu.methods import green
from qinglu.web.problems import install_problem_handlers

runner = CliRunner()


def test_50000_kwh_at_the_2022_national_average_is_26_83_t_with_factor_and_source() -> None:
    result = green.co2_of(50_000, 2022, "grid_average", "national")
    assert result.co2_t == Decimal("26.83")
    assert result.factor_kg_per_kwh == Decimal("0.5366")
    assert "2022" in result.factor_name and "grid average" in result.factor_name
    assert "生态环境部" in result.factor_source
    assert "2022年电力二氧化碳排放因子" in result.factor_source


def test_factor_region_and_year_choose_the_published_value() -> None:
    assert green.co2_of(50_000, 2023).co2_t == Decimal("26.53")
    assert green.co2_of(50_000, 2023, region="south").co2_t == Decimal("20.21")
    assert green.co2_of(1000, 2022, "fossil").factor_kg_per_kwh == Decimal("0.8325")
    with pytest.raises(InvalidInput, match="2019"):
        green.co2_of(1000, 2019)
    with pytest.raises(InvalidInput, match="mars"):
        green.co2_of(1000, 2022, region="mars")


@pytest.mark.parametrize("year", [0, 9, -5, 10_000])
def test_a_year_no_date_can_name_is_refused_as_having_no_factor(year: int) -> None:
    # A claim for a period in year 9 looks back ten years for a factor: through year 0,
    # which no date names (schemathesis found the 500 this was).
    with pytest.raises(InvalidInput, match="no grid_average factor"):
        green.latest_year(None, None, year)
    with pytest.raises(InvalidInput, match=f"in {year}"):
        green.co2_of(1000, year)


def test_certificates_carry_the_remainder_to_the_next_month() -> None:
    assert green.certificates_for(50_999) == (50, 999)
    assert green.certificates_for(1, carried_kwh=999) == (1, 0)
    assert green.certificates_for(0, carried_kwh=999) == (0, 999)


def test_validity_two_years_from_the_production_month_and_the_legacy_end() -> None:
    assert green.last_valid_day(date(2024, 3, 1)) == date(2026, 2, 28)
    assert green.last_valid_day(date(2023, 6, 1)) == date(2025, 12, 31)
    assert green.last_valid_day(date(2024, 1, 15)) == date(2025, 12, 31)
    assert green.last_valid_day(date(2025, 2, 1)) == date(2027, 1, 31)


def test_tradability_by_technology_and_commissioning() -> None:
    assert green.tradability("hydro", date(2022, 5, 1)) == "non_tradable"
    assert green.tradability("hydro", date(2023, 1, 1)) == "tradable"
    assert green.tradability("wind", date(2015, 1, 1)) == "tradable"
    assert green.tradability("solar", date(2024, 1, 1), self_consumed=True) == "non_tradable"
    assert green.tradability("storage", date(2024, 1, 1)) == "none"


def test_serial_split_17_plus_15_leniently() -> None:
    parsed = green.parse_serial(" 1a2b3c4d5e6f7g8h9202403000012345 ")
    assert parsed.project_code == "1A2B3C4D5E6F7G8H9"
    assert parsed.electricity_code == "202403000012345"
    with pytest.raises(InvalidSerial, match="32"):
        green.parse_serial("123")
    with pytest.raises(InvalidSerial, match="letters"):
        green.parse_serial("1A2B3C4D5E6F7G8H9-02403000012345")


def test_cli_green_co2_and_gec_serial() -> None:
    result = runner.invoke(qinglu_app, ["green", "co2", "--kwh", "50000", "--year", "2022",
                                        "--factor", "grid_average", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["co2_t"] == 26.83 and data["factor_kg_per_kwh"] == 0.5366
    assert data["factor_name"] and "公告" in data["factor_source"]
    south = runner.invoke(qinglu_app, ["green", "co2", "--kwh", "50000", "--year", "2022",
                                       "--factor", "grid_average", "--region", "southwest",
                                       "--json"])
    assert json.loads(south.stdout)["factor_kg_per_kwh"] == 0.2268
    serial = runner.invoke(qinglu_app, ["gec", "serial", "A" * 17 + "2" * 15, "--json"])
    assert serial.exit_code == 0 and json.loads(serial.stdout)["project_code"] == "A" * 17
    bad = runner.invoke(qinglu_app, ["gec", "serial", "A" * 31, "--json"])
    assert bad.exit_code == 1 and "32" in bad.output


def test_api_green_power_co2() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router, prefix="/api/v1")
    client = TestClient(app)
    response = client.post("/api/v1/methods/green-power-co2",
                           json={"kwh": 50000, "year": 2022, "factor": "grid_average"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["co2_t"] == 26.83 and body["factor_source"]
    missing = client.post("/api/v1/methods/green-power-co2", json={"kwh": 5, "year": 2018})
    assert missing.status_code == 422 and "2018" in missing.text
    assert client.get("/api/v1/gec/serials/" + "B" * 32).json()["electricity_code"] == "B" * 15
