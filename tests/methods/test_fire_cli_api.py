"""`qinglu fire estimate` and POST /api/v1/methods/fire-emissions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qinglu.cli import app as qinglu_app
from qinglu.methods.api import router
from qinglu.web.problems import install_problem_handlers

runner = CliRunner()


def test_estimate_json() -> None:
    result = runner.invoke(qinglu_app, ["fire", "estimate", "--area", "139.2", "--unit", "mu",
                                      "--vegetation", "extra_tropical_forest",
                                      "--fuel-consumed", "3.5", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"area_ha", "dry_matter_t", "emissions_t", "co2e_t", "obligation_t", "method",
            "parameters"} <= set(data)
    assert data["obligation_t"] == "57.48" and data["area_ha"] == 9.28


def test_estimate_table_and_bad_input() -> None:
    table = runner.invoke(qinglu_app, ["fire", "estimate", "--area", "10", "--unit", "ha",
                                       "--vegetation", "savanna_and_grassland"])
    assert table.exit_code == 0 and "71.06" in table.stdout and "defaults used" in table.stdout
    bad = runner.invoke(qinglu_app, ["fire", "estimate", "--area", "-3", "--unit", "ha",
                                     "--vegetation", "savanna_and_grassland"])
    assert bad.exit_code == 1 and "positive" in bad.output
    unknown = runner.invoke(qinglu_app, ["fire", "estimate", "--area", "3", "--unit", "ha",
                                         "--vegetation", "jungle"])
    assert unknown.exit_code == 1 and "jungle" in unknown.output


def test_batch_csv(tmp_path: Path) -> None:
    fires = tmp_path / "fires.csv"
    fires.write_text("id,area,unit,vegetation,fuel_consumed\n"
                     "a,139.2,mu,extra_tropical_forest,3.5\n"
                     "b,10,ha,savanna_and_grassland,\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(qinglu_app, ["fire", "estimate", "--input", str(fires),
                                        "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["id"], r["obligation_t"]) for r in rows] == [("a", "57.48"), ("b", "71.06")]
    broken = tmp_path / "broken.csv"
    broken.write_text("id,area,unit,vegetation\nx,abc,ha,extra_tropical_forest\n")
    result = runner.invoke(qinglu_app, ["fire", "estimate", "--input", str(broken), "--output",
                                      str(tmp_path / "none.csv")])
    assert result.exit_code == 1 and "line 2" in result.output
    assert not (tmp_path / "none.csv").exists()


def test_api() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router, prefix="/api/v1")
    client = TestClient(app)
    ok = client.post("/api/v1/methods/fire-emissions", json={
        "vegetation": "extra_tropical_forest", "area": "139.2", "unit": "mu",
        "fuel_consumed": "3.5", "gwp": "AR5"})
    assert ok.status_code == 200 and ok.json()["obligation_t"] == "57.48"
    too_much = client.post("/api/v1/methods/fire-emissions", json={
        "vegetation": "extra_tropical_forest", "area": "1", "unit": "ha",
        "fuel_consumed": "900"})
    assert too_much.status_code == 422
    assert too_much.headers["content-type"].startswith("application/problem+json")
    polygon = client.post("/api/v1/methods/fire-emissions", json={
        "vegetation": "extra_tropical_forest", "geojson": {"type": "Polygon", "coordinates": [
            [[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}})
    assert polygon.status_code == 422 and "not valid" in polygon.json()["detail_en"]
