"""`qinglu basin ...` end to end from files, the basin API with its roles, and the pages."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app as qinglu_app
from qinglu.demo import load_basins
from qinglu.web.app import create_app
from tests.factories import org

runner = CliRunner()
TEMPLATE = Path(__file__).resolve().parents[2] / "src/qinglu/basins/demo/chishui.json"


def run(database_url: str, *args: str) -> str:
    result = runner.invoke(qinglu_app, [*args, "--db", database_url])
    assert result.exit_code == 0, result.output
    return result.stdout


def _setup(database_url: str, tmp_path: Path) -> None:
    spec = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    run(database_url, "basin", "add", "--code", "chishui", "--name", "赤水河")
    for party in spec["parties"]:
        run(database_url, "basin", "party", "--region", party["region"], "--name",
            party["name"], "--level", party["level"])
    for s in spec["sections"]:
        run(database_url, "basin", "section", "--basin", "chishui", "--code", s["code"],
            "--name", s["name"], "--kind", s["kind"], "--upstream", s["upstream"],
            "--downstream", s["downstream"], "--lon", s["lon"], "--lat", s["lat"],
            "--position", str(s["position"]))
    agreement = tmp_path / "agreement.json"
    agreement.write_text(json.dumps(spec["agreement"], ensure_ascii=False), encoding="utf-8")
    run(database_url, "basin", "agreement", str(agreement))


def _excel(path: Path, rows: list[list[object]]) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)


@pytest.mark.slow
def test_cli_year_from_files(database_url: str, tmp_path: Path) -> None:
    _setup(database_url, tmp_path)
    csv_file = TEMPLATE.with_name("chishui_2024.csv")
    # The same data as an Excel workbook, months as dates, units in the header.
    lines = [line.split(",") for line in csv_file.read_text(encoding="utf-8").splitlines()]
    workbook = tmp_path / "chishui.xlsx"
    _excel(workbook, [lines[0], *[[r[0], f"{r[1]}-01", *r[2:]] for r in lines[1:]]])
    imported = json.loads(run(database_url, "basin", "import", str(workbook), "--basin",
                              "chishui", "--json"))
    assert (imported["rows"], imported["new"]) == (36, 36)
    again = json.loads(run(database_url, "basin", "import", str(csv_file), "--basin",
                           "chishui", "--json"))
    assert (again["new"], again["unchanged"]) == (0, 36)  # the CSV says the same
    run(database_url, "basin", "assess", "--basin", "chishui", "--year", "2024")
    settled = json.loads(run(database_url, "basin", "settle", "--basin", "chishui", "--year",
                             "2024", "--json"))
    nets = sorted(s["net_yuan"] for s in settled["settlements"])
    assert nets == ["1100000.00", "2200000.00"]
    number = settled["settlements"][0]["number"]
    pdf = tmp_path / "statement.pdf"
    lines_csv = tmp_path / "lines.csv"
    run(database_url, "basin", "statement", number, "--pdf", str(pdf), "--csv", str(lines_csv))
    assert pdf.read_bytes().startswith(b"%PDF") and "QL-BM-2024-" in lines_csv.read_text()
    assert "有效 VALID" in run(database_url, "basin", "verify", str(pdf))
    year_csv = tmp_path / "year.csv"
    run(database_url, "basin", "statements", "--basin", "chishui", "--year", "2024", "--csv",
        str(year_csv))
    assert len(year_csv.read_text(encoding="utf-8").splitlines()) == 1 + 24 + 72 + 36
    overview = json.loads(run(database_url, "basin", "overview", "--year", "2024", "--json"))
    assert overview["parties"][0] == {"party": "毕节市 (520500)", "net_yuan": "2200000.00"}


def test_cli_refuses_a_bad_file_naming_rows(database_url: str, tmp_path: Path) -> None:
    _setup(database_url, tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("section,month,volume [万m3],min_flow [m3/s]\n"
                   "CS-02,2024-01,100,-1\nCS-77,2024-02,100,1\nCS-02,2024-03,100,1\n",
                   encoding="utf-8")
    result = runner.invoke(qinglu_app, ["basin", "import", str(bad), "--basin", "chishui",
                                        "--db", database_url])
    assert result.exit_code == 1
    assert "row 2" in result.output and "negative" in result.output
    assert "row 3" in result.output and "CS-77" in result.output
    assert "row 4" not in result.output and "nothing written" in result.output
    listed = json.loads(run(database_url, "basin", "statements", "--basin", "chishui", "--year",
                            "2024", "--json"))
    assert listed["monthly"] == []


@pytest.fixture
def client(database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    load_basins(session)
    for name, role in (("op", "operator"), ("ver", "verifier")):
        accounts.add_user(session, name=name, role=role, password="correct horse")
    accounts.add_user(session, name="hold", role="holder", password="correct horse",
                      holder_id=org(session))
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def token(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": name,
                                                     "password": "correct horse"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.slow
def test_api_reads_writes_and_roles(client: TestClient) -> None:
    assert client.get("/api/v1/basins?year=2024").status_code == 401
    assert client.get("/api/v1/basins?year=2024",
                      headers=token(client, "hold")).status_code == 403
    verifier = token(client, "ver")
    detail = client.get("/api/v1/basins/chishui?year=2024", headers=verifier).json()
    assert len(detail["statements"]) == 36 and len(detail["settlements"]) == 2
    number = detail["settlements"][0]["number"]
    statement = client.get(f"/api/v1/basin-statements/{number}", headers=verifier).json()
    assert statement["sources"] and statement["facts"]["number"] == number
    pdf = client.get(f"/api/v1/basin-statements/{number}/statement.pdf", headers=verifier)
    assert pdf.headers["content-type"] == "application/pdf"
    assert client.get(f"/api/v1/basin-statements/{number}/verify").json()["valid"]
    refused = client.post("/api/v1/basins/chishui/assessments", json={"year": 2024},
                          headers=verifier)
    assert refused.status_code == 403
    operator = token(client, "op")
    bad = client.post("/api/v1/basins/chishui/monitoring", headers=operator, json={
        "filename": "x.csv", "csv": "section,month,volume [万m3],min_flow [m3/s]\n"
                                    "CS-02,2024-01,100 m3/s,1\n"})
    assert bad.status_code == 422 and "row 2" in bad.json()["detail"]
    assert "not of volume" in bad.json()["detail"]
    again = client.post("/api/v1/basins/chishui/settlements", json={"year": 2024},
                        headers=operator)
    assert again.status_code == 201 and again.json()["unchanged"] == 2
    rows = client.get("/api/v1/basins/chishui/statements.csv?year=2024", headers=verifier)
    assert rows.headers["content-type"].startswith("text/csv") and "QL-BS-2024-" in rows.text


def _sign_in(client: TestClient, name: str) -> None:
    client.cookies.clear()
    login = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert csrf is not None
    client.post("/login", data={"username": name, "password": "correct horse",
                                "csrf": csrf.group(1)})


def test_pages(client: TestClient) -> None:
    _sign_in(client, "ver")
    overview = client.get("/basins?year=2024")
    assert overview.status_code == 200 and "赤水河" in overview.text
    page = client.get("/basins/chishui?year=2024")
    assert page.status_code == 200 and 'id="basin-chart"' in page.text
    assert "echarts" in page.text and "示例数据" in page.text
    number = re.search(r"/basins/statements/(QL-BS-2024-\d+)", page.text)
    assert number is not None
    statement = client.get(f"/basins/statements/{number.group(1)}")
    assert statement.status_code == 200 and "QL-BM-2024-" in statement.text
    assert client.get(f"/basins/statements/{number.group(1)}/statement.pdf").content.startswith(
        b"%PDF")
    client.cookies.clear()
    public = client.get(f"/basins/statements/{number.group(1)}")
    assert public.status_code == 200 and 'class="ok"' in public.text
    assert "QL-BM-2024-" not in public.text  # the lines are for signed-in readers
