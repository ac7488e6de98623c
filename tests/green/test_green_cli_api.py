"""`qinglu gec ...` and `qinglu claim ...` end to end from files, and the green API with
its roles (an operator files and imports; a holder claims from its own account)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app as qinglu_app
from qinglu.web.app import create_app
from tests import factories

runner = CliRunner()
CODE = "W520000000000001X"


def run(database_url: str, *args: str) -> str:
    result = runner.invoke(qinglu_app, [*args, "--db", database_url])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_file_import_claim_and_refusal(database_url: str, session: Session,
                                          tmp_path: Path) -> None:
    acct = factories.account(session)
    run(database_url, "gec", "project-add", "--code", CODE, "--name", "威宁风电场",
        "--technology", "wind", "--commissioned", "2018-06-01", "--region", "520000",
        "--account", str(acct))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"filing_code,month,kwh\n{CODE},2026-01,-3\n", encoding="utf-8")
    refused = runner.invoke(qinglu_app, ["gec", "import", str(bad), "--db", database_url])
    assert refused.exit_code == 1 and "line 2" in refused.output
    assert "nothing written" in refused.output
    good = tmp_path / "gen.csv"
    good.write_text(f"filing_code,month,kwh\n{CODE},2026-01,50999\n", encoding="utf-8")
    issued = json.loads(run(database_url, "gec", "import", str(good), "--json"))
    assert issued["certificates"] == 50 and issued["months"][0]["carried_kwh"] == 999
    claimed = json.loads(run(
        database_url, "claim", "add", "--account", str(acct), "--consumer", "数博会",
        "--from", "2024-05-23", "--to", "2024-05-26", "--kwh", "50000", "--factor-year", "2022",
        "--reported-t", "62.5", "--reported-source", "新闻报道 press", "--json"))
    assert claimed["green_share"] == "100.00%" and claimed["co2_t"] == "26.83"
    listed = json.loads(run(database_url, "claim", "list", "--json"))
    assert listed[0]["reported_co2_t"] == "62.5" and listed[0]["co2_t"] == "26.83"
    pdf = tmp_path / "claim.pdf"
    run(database_url, "claim", "pdf", str(claimed["id"]), "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")


@pytest.fixture
def client(database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    accounts.add_user(session, name="op", role="operator", password="correct horse")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def token(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": name,
                                                     "password": "correct horse"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.mark.slow
def test_api_roles_import_and_claim(client: TestClient, session: Session) -> None:
    holder = factories.org(session, name="贵州某大数据企业")
    acct = factories.account(session, holder)
    accounts.add_user(session, name="firm", role="holder", password="correct horse",
                      holder_id=holder)
    operator, firm = token(client, "op"), token(client, "firm")
    project = {"filing_code": CODE, "name": "威宁风电场", "technology": "wind",
               "commissioned": "2018-06-01", "region": "520000", "account_id": acct}
    assert client.post("/api/v1/gec/projects", json=project, headers=firm).status_code == 403
    assert client.post("/api/v1/gec/projects", json=project,
                       headers=operator).status_code == 201
    bad = client.post("/api/v1/gec/generation", headers=operator,
                      json={"csv": f"filing_code,month,kwh\n{CODE},2026-13,5\n"})
    assert bad.status_code == 422 and "line 2" in bad.text
    ok = client.post("/api/v1/gec/generation", headers=operator,
                     json={"csv": f"filing_code,month,kwh\n{CODE},2026-01,8000\n"})
    assert ok.status_code == 201 and ok.json()["certificates"] == 8
    body = {"account_id": acct, "consumer": "贵州某大数据企业", "period_start": "2026-01-01",
            "period_end": "2026-01-31", "consumption_kwh": 10000, "certificates": 8}
    assert client.post("/api/v1/claims", json=body).status_code == 401
    claimed = client.post("/api/v1/claims", json=body, headers=firm)
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["green_share"] == "80.00%"
    register = client.get("/api/v1/claims").json()
    assert register[0]["consumer"] == "贵州某大数据企业"
    co2 = client.post("/api/v1/methods/green-power-co2",
                      json={"kwh": 50000, "year": 2022, "factor": "grid_average"})
    assert co2.json()["co2_t"] == 26.83
