"""The public registry in the Climate Action Data Trust data model: the export conforms
to CADT's field lists and pick lists; export -> import into an empty registry -> export
gives the same file (here from either backend into a fresh SQLite registry)."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app as cli
from qinglu.core.errors import InvalidInput
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.exports import actions as exports
from qinglu.exports.cadt import ENUMERATIONS, TABLES, validate
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.conftest import fresh_sqlite_file

runner = CliRunner()
BASE = "https://registry.example.cn"


def build_registry(session: Session) -> dict[str, Any]:
    """Two projects, three issuances; transfers, a hold in escrow, a retirement across
    both projects for a person, a cancellation."""
    seller = f.account(session)
    buyer = f.account(session)
    first = f.project(session)
    second = f.project(session, region="522635")
    for project, vintage, quantity in ((first, 2022, 10_000), (first, 2023, 5_000),
                                       (second, 2023, 2_000)):
        registry.issue(session, project_id=project, vintage=vintage, quantity=quantity,
                       to_account=seller, actor="test")
    registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                      quantity=9_990, actor="test", project_id=first, vintage=2022)
    registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                      quantity=700, actor="test", project_id=second, vintage=2023)
    registry.hold(session, from_account=seller, product="FCS", quantity=30, purpose="挂牌",
                  actor="test", project_id=first)
    retired = documents.retire(session, load_or_create_key(), from_account=buyer,
                               product="FCS", quantity=10_200, beneficiary="钟某某",
                               purpose="替代性修复 restoration", actor="test")
    registry.cancel(session, from_account=seller, product="FCS", quantity=25,
                    reason="reversal", actor="test")
    return {"retired": retired}


def test_the_export_conforms_to_the_cadt_model(session: Session) -> None:
    build_registry(session)
    document = exports.cadt_export(session, BASE)
    assert validate(document) == []
    for table, fields in TABLES.items():
        assert document[table], table
        for row in document[table]:
            assert list(row) == list(fields)  # CADT's names, all of them, nothing else
    statuses = {u["unitStatus"] for u in document["units"]}
    assert statuses == {"Held", "Retired", "Cancelled"}
    assert statuses <= set(ENUMERATIONS["unitStatus"])
    units = document["units"]
    assert sum(u["unitCount"] for u in units) == 17_000  # every serial, once
    (retirement,) = document["retirements"]
    assert retirement["beneficiary"] == "钟某"  # a person, masked as the public sees them
    assert retirement["quantity"] == "102.00" and retirement["unitMetric"] == "tCO2e"
    assert len(retirement["warehouseUnitIds"]) == 2  # units of both projects
    retired = [u for u in units if u["unitStatus"] == "Retired"]
    assert {u["warehouseUnitId"] for u in retired} == set(retirement["warehouseUnitIds"])
    assert all(u["unitStatusReason"] == "替代性修复 restoration" for u in retired)


def test_validation_names_what_breaks_the_model() -> None:
    document = {"model": "CADT", "modelVersion": "v1", "projects": [], "projectLocations": [],
                "issuances": [], "retirements": [],
                "units": [{"warehouseUnitId": "x", "unitStatus": "Sold", "colour": "green"}]}
    problems = validate(document)
    assert any("unitStatus 'Sold' is not one of" in p for p in problems)
    assert any("unknown field colour" in p for p in problems)
    assert any("missing field unitBlockStart" in p for p in problems)


def test_export_import_export_gives_the_same_file(
        database_url: str, sqlite_template: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_BASE_URL", BASE)
    origin = make_engine(database_url)
    with make_session_factory(origin)() as session:
        build_registry(session)
    origin.dispose()
    exported = tmp_path / "cadt.json"
    result = runner.invoke(cli, ["export", "--db", database_url, "--out", str(exported)])
    assert result.exit_code == 0, result.output

    target_url = fresh_sqlite_file(sqlite_template, tmp_path, "target.db")
    target = make_engine(target_url)
    with make_session_factory(target)() as session:
        holder = f.org(session, name="导入方 importer")
    target.dispose()
    result = runner.invoke(cli, ["import", str(exported), "--holder", str(holder),
                                 "--db", target_url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["projects"] == 2 and summary["retirements"] == 1
    again = runner.invoke(cli, ["export", "--db", target_url])
    assert again.exit_code == 0, again.output
    assert again.output == exported.read_text(encoding="utf-8")

    # Refused whole into a registry that is no longer empty.
    result = runner.invoke(cli, ["import", str(exported), "--holder", str(holder),
                                 "--db", target_url])
    assert result.exit_code != 0 and "empty registry" in result.output


def test_import_refuses_a_file_that_breaks_the_model(session: Session) -> None:
    build_registry(session)
    document = exports.cadt_export(session, BASE)
    broken = copy.deepcopy(document)
    broken["units"][0]["unitStatus"] = "Sold"
    holder = f.org(session, name="导入方")
    with pytest.raises(InvalidInput, match="CADT"):
        exports.cadt_import(session, load_or_create_key(), broken, holder_id=holder,
                            actor="test")


def test_api_serves_the_same_export_and_its_csv(sqlite_database_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_BASE_URL", BASE)
    engine = make_engine(sqlite_database_url)
    with make_session_factory(engine)() as session:
        build_registry(session)
        expected = exports.cadt_json(session)
    engine.dispose()
    with TestClient(create_app(sqlite_database_url)) as client:
        response = client.get("/api/v1/exports/cadt.json")
        assert response.status_code == 200
        assert response.text == expected
        table = client.get("/api/v1/exports/units.csv")
        # Each project's link is its own public page on this registry.
        for project in json.loads(expected)["projects"]:
            path = project["projectLink"].removeprefix(BASE)
            assert path == f"/projects/{int(project['projectId'].removeprefix('P'))}"
            page = client.get(path)
            assert page.status_code == 200 and project["projectName"] in page.text
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == len(json.loads(expected)["units"])
    assert sum(int(r["unitCount"]) for r in rows) == 17_000
    retired = [r for r in rows if r["unitStatus"] == "Retired"]
    assert retired and all(r["beneficiary"] == "钟某" for r in retired)
