"""Single-tree carbon sinks: registering trees (all or nothing, each bad row named), the
allometric sink by hand for two species, and tree-year issuance to the household with
the buffer share."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import Conflict
from qinglu.forestry import trees
from qinglu.forestry.models import Tree, TreeYear
from qinglu.methods import trees as method
from qinglu.methods.forest import UnconfirmedParameters
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from tests import factories as f

OPERATOR = "operator:zhang"
HEADER = "species,parameter,value,unit,source,valid_from,valid_to,status\n"
# A test model with round numbers: AGB = 0.05 x rho x D^2 x H (kg), R 0.25, CF 0.5.
SIMPLE = HEADER + "".join(
    f"{s},{k},{v},{u},test override (tests/test_trees.py),2000-01-01,,verified\n"
    for s, rho in (("杉木", 0.4), ("马尾松", 0.5))
    for k, v, u in (("a", 0.05, "kg"), ("e", 1, "exponent"), ("b", 2, "exponent"),
                    ("c", 1, "exponent"), ("rho", rho, "t DM/m3"), ("R", 0.25, "ratio"),
                    ("CF", 0.5, "t C/t DM")))
# Only the unconfirmed values overridden: the packaged Chave et al. 2014 coefficients apply.
DENSITY_ONLY = HEADER + "".join(
    f"杉木,{k},{v},{u},test override (tests/test_trees.py),2000-01-01,,verified\n"
    for k, v, u in (("rho", 0.3, "t DM/m3"), ("R", 0.2, "ratio"), ("CF", 0.5, "t C/t DM")))


def household(session: Session, name: str = "杨某某") -> tuple[int, str, int]:
    number = f.make_resident_id()
    holder = int(registry.add_holder(session, kind="person", name=name, id_number=number,
                                    region="522629", actor=OPERATOR)["id"])
    return holder, number, f.account(session, holder)


def tree_row(number: str, species: str, dbh: float, height: float, owner: str,
             **extra: Any) -> dict[str, Any]:
    return {"树号": number, "树种": species, "经度": 108.41, "纬度": 26.72, "胸径": dbh,
            "树高": height, "照片": f"IMG_{number}.jpg", "户主身份证号": owner, "year": 2025,
            **extra}


def registered(session: Session) -> tuple[int, int, int]:
    project = f.project(session)
    holder, id_number, account = household(session)
    trees.register(session, project_id=project, actor=OPERATOR, rows=[
        tree_row("T1", "杉木", 20, 10, id_number),
        tree_row("T2", "Masson pine", 30, 15, id_number)])
    return project, holder, account


def test_sink_by_hand_for_two_species(tmp_path: Path) -> None:
    override = tmp_path / "o.csv"
    override.write_text(SIMPLE, encoding="utf-8")
    result = method.annual_sink([
        method.TreeGrowth("T1", "杉木", 20, 10, 22, 11),
        method.TreeGrowth("T2", "马尾松", 30, 15, 31, 15.5)], year=2026, override=override)
    fir, pine = result["trees"]
    # 杉木: AGB 0.05 x 0.4 x 20² x 10 = 80 kg -> 0.05 x 0.4 x 22² x 11 = 106.48 kg;
    # ΔAGB 26.48 kg x 1.25 x 0.5 x 44/12 = 60.6833 kg CO2 = 0.0607 t -> 6 units (down).
    assert fir["agb_start_kg"] == pytest.approx(80) and fir["agb_end_kg"] == pytest.approx(106.48)
    assert fir["sink_t"] == pytest.approx(26.48 * 1.25 * 0.5 * 44 / 12 / 1000, abs=1e-6)
    assert fir["units"] == 6
    # 马尾松: 0.05 x 0.5 x 30² x 15 = 337.5 kg -> 0.05 x 0.5 x 31² x 15.5 = 372.3875 kg;
    # Δ 34.8875 kg x 1.25 x 0.5 x 44/12 = 79.9505 kg CO2 -> 7 units.
    assert pine["agb_end_kg"] == pytest.approx(372.3875)
    assert pine["sink_t"] == pytest.approx(34.8875 * 1.25 * 0.5 * 44 / 12 / 1000, abs=1e-6)
    assert pine["units"] == 7 and result["units"] == 13


def test_packaged_chave_equation(tmp_path: Path) -> None:
    override = tmp_path / "o.csv"
    override.write_text(DENSITY_ONLY, encoding="utf-8")
    result = method.annual_sink([method.TreeGrowth("T1", "杉木", 20, 12, 21, 12.5)],
                                year=2026, override=override)
    [row] = result["trees"]
    # Chave et al. 2014 Eq. 4: AGB = 0.0673 (rho D² H)^0.976, rho 0.3 g/cm3.
    assert row["agb_start_kg"] == pytest.approx(0.0673 * (0.3 * 400 * 12) ** 0.976, abs=1e-5)
    end = 0.0673 * (0.3 * 441 * 12.5) ** 0.976
    sink = (end - 0.0673 * (0.3 * 400 * 12) ** 0.976) * 1.2 * 0.5 * 44 / 12 / 1000
    assert row["sink_t"] == pytest.approx(sink, abs=1e-6)
    assert row["units"] == math.floor(round(sink, 6) * 100)
    with pytest.raises(UnconfirmedParameters):  # packaged densities are unconfirmed
        method.annual_sink([method.TreeGrowth("T1", "杉木", 20, 12, 21, 12.5)], year=2026)


def test_register_and_issue_tree_years(session: Session) -> None:
    project, holder, account = registered(session)
    stored = {t.number: t for t in trees.list_trees(session, project)}
    assert stored["T2"].species == "马尾松" and stored["T1"].owner_holder_id == holder
    assert stored["T1"].photo_ref == "IMG_T1.jpg" and stored["T1"].measured_year == 2025
    measurements = [{"number": "T1", "dbh_cm": 22, "height_m": 11},
                    {"number": "T2", "dbh_increment_cm": 1, "height_increment_m": 0.5}]
    preview = trees.compute_sinks(session, project_id=project, year=2026,
                                  measurements=measurements, override_csv=SIMPLE)
    assert [r["units"] for r in preview["trees"]] == [6, 7]
    issued = trees.issue_year(session, project_id=project, year=2026,
                              measurements=measurements, risk_class="medium", actor=OPERATOR,
                              override_csv=SIMPLE, idempotency_key="trees-2026")
    # medium risk 15 %: T1 6 -> buffer floor(0.9) = 0, owner 6; T2 7 -> buffer 1, owner 6.
    by_tree = {r["number"]: r for r in issued["tree_years"]}
    assert (by_tree["T1"]["owner_units"], by_tree["T1"]["buffer_units"]) == (6, 0)
    assert (by_tree["T2"]["owner_units"], by_tree["T2"]["buffer_units"]) == (6, 1)
    assert issued["quantity"] == "0.13" and issued["buffer_quantity"] == "0.01"
    assert by_tree["T1"]["owner_issuance_id"] != by_tree["T2"]["owner_issuance_id"]
    assert registry.balance(session, account)["FCS"]["held"] == "0.12"
    buffer = registry.system_account(session, "buffer")
    assert registry.balance(session, buffer.id)["FCS"]["held"] == "0.01"
    again = trees.issue_year(session, project_id=project, year=2026,
                             measurements=measurements, risk_class="medium", actor=OPERATOR,
                             override_csv=SIMPLE, idempotency_key="trees-2026")
    assert again == issued and registry.balance(session, account)["FCS"]["held"] == "0.12"
    with pytest.raises(Conflict):  # a tree-year is issued once
        trees.issue_year(session, project_id=project, year=2026, measurements=measurements,
                         risk_class="medium", actor=OPERATOR, override_csv=SIMPLE)
    session.expire_all()
    fir = session.scalar(select(Tree).where(Tree.number == "T1"))
    assert fir is not None and (fir.dbh_cm, fir.height_m, fir.measured_year) == (22, 11, 2026)
    assert len(list(session.scalars(select(TreeYear)))) == 2
    assert audit(session).ok


def test_bad_rows_are_named_and_nothing_is_written(session: Session) -> None:
    project = f.project(session)
    _, id_number, _ = household(session)
    rows = [tree_row("T1", "杉木", 20, 10, id_number),
            tree_row("T2", "银杏", 20, 10, id_number),  # no biomass model
            tree_row("T3", "杉木", 0.5, 10, id_number),  # DBH below 1 cm
            tree_row("T4", "杉木", 20, 10, id_number, 经度=500000, 纬度=2900000),  # metres
            tree_row("T5", "杉木", 20, 10, "522635198001019999"),  # not a holder
            tree_row("T1", "杉木", 20, 10, id_number),  # repeated number
            tree_row("T6", "杉木", 20, 10, id_number, crs="EPSG:4547")]  # projected CRS
    with pytest.raises(trees.TreeImportError) as refused:
        trees.register(session, project_id=project, rows=rows, actor=OPERATOR)
    reasons: dict[str, str] = {}
    for where, reason in refused.value.problems:
        reasons[where] = reasons.get(where, "") + reason + "; "
    assert "unknown species" in reasons["row 2 (T2)"]
    assert "dbh_cm" in reasons["row 3 (T3)"]
    assert "lon" in reasons["row 4 (T4)"]
    assert "not a registered holder" in reasons["row 5 (T5)"]
    assert "repeated" in reasons["row 6 (T1)"]
    assert "CRS" in reasons["row 7 (T6)"]
    assert "row 1 (T1)" not in reasons
    assert session.scalar(select(Tree.id)) is None


def test_tree_csv_gbk(session: Session, tmp_path: Path) -> None:
    project = f.project(session)
    _, id_number, _ = household(session)
    path = tmp_path / "trees.csv"
    path.write_bytes(("树号,树种,经度,纬度,胸径,树高,照片,户主身份证号\n"
                      f"A1,杉木,108.41,26.72,18.5,11,IMG_1.jpg,{id_number}\n").encode("gbk"))
    result = trees.import_file(session, project_id=project, path=path, actor=OPERATOR)
    assert [t["number"] for t in result["trees"]] == ["A1"]


def test_tree_api_and_cli(database_url: str, session: Session, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from qinglu.accounts import actions as accounts
    from qinglu.cli import app as cli
    from qinglu.web.app import create_app
    from tests.registry.test_api_registry import token

    project = f.project(session)
    holder, id_number, account = household(session)
    accounts.add_user(session, name="op", role="operator", password="correct horse")
    body = {"trees": [{"number": "T1", "species": "杉木", "lon": "108.41", "lat": "26.72",
                       "dbh_cm": "20", "height_m": "10", "owner_holder_id": holder}]}
    with TestClient(create_app(database_url)) as client:
        op = token(client, "op")
        assert client.post(f"/api/v1/projects/{project}/trees", json=body).status_code == 401
        done = client.post(f"/api/v1/projects/{project}/trees", headers=op, json=body)
        assert done.status_code == 201, done.text
        bad = client.post(f"/api/v1/projects/{project}/trees", headers=op, json={"trees": [
            {**body["trees"][0], "number": "T9", "species": "银杏"}]})
        assert bad.status_code == 422 and "T9" in bad.text and "unknown species" in bad.text
        listed = client.get(f"/api/v1/projects/{project}/trees", headers=op)
        assert [t["number"] for t in listed.json()] == ["T1"]
        issued = client.post(f"/api/v1/projects/{project}/tree-years", headers=op, json={
            "year": 2026, "risk_class": "medium", "override_parameters_csv": SIMPLE,
            "measurements": [{"number": "T1", "dbh_cm": "22", "height_m": "11"}]})
        assert issued.status_code == 201, issued.text
        assert issued.json()["quantity"] == "0.06"  # by hand above: 6 units
    assert registry.balance(session, account)["FCS"]["held"] == "0.06"
    monkeypatch.setenv("QINGLU_ACTOR", OPERATOR)
    path = tmp_path / "trees.csv"
    path.write_text("number,species,lon,lat,dbh_cm,height_m,owner_holder_id\n"
                    f"T2,马尾松,108.42,26.72,30,15,{holder}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["tree", "import", str(path), "--project", str(project),
                                      "--db", database_url, "--json"])
    assert result.exit_code == 0, result.output
    measured = tmp_path / "m.csv"
    measured.write_text("number,dbh_increment_cm,height_increment_m\nT2,1,0.5\n",
                        encoding="utf-8")
    override = tmp_path / "o.csv"
    override.write_text(SIMPLE, encoding="utf-8")
    result = CliRunner().invoke(cli, [
        "tree", "sink", "--project", str(project), "--year", "2026", "--measurements",
        str(measured), "--parameters", str(override), "--issue", "--db", database_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tree_years"][0]["units"] == 7
    path.write_text("number,species,lon,lat,dbh_cm,height_m\nT3,杉木,108.42,26.72,20,10\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["tree", "import", str(path), "--project", str(project),
                                      "--db", database_url])
    assert result.exit_code != 0 and "T3" in result.output and "owner" in result.output
