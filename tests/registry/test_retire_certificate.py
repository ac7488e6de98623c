"""Retirement always yields a certificate: through the command line as through the API,
each certificate verified by `qinglu certificate verify` and by the verification route;
a retirement recorded without one (before this rule) gets it from
`qinglu certificate issue`, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app
from qinglu.core.ledger import run_write
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f

runner = CliRunner()
PASSWORD = "correct horse"


def qinglu(url: str, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    assert result.exit_code != 0, result.output
    return result


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


@pytest.fixture
def seller(session: Session, client: TestClient) -> dict[str, Any]:
    account, _project, _issued = f.issued_account(session, quantity=100_000)
    accounts.add_user(session, name="centre", role="holder", password=PASSWORD,
                      holder_id=registry.get_account(session, account).holder_id)
    token = client.post("/api/v1/auth/token",
                        data={"username": "centre", "password": PASSWORD}).json()
    return {"account": account, "auth": {"Authorization": f"Bearer {token['access_token']}"}}


def _verified_both_ways(url: str, client: TestClient, number: str) -> dict[str, Any]:
    by_cli = qinglu(url, "certificate", "verify", number)
    by_api = client.get(f"/api/v1/certificates/{number}/verify")
    assert by_api.status_code == 200, by_api.text
    assert by_cli["valid"] is True, by_cli["problems"]
    assert by_api.json()["valid"] is True, by_api.json()["problems"]
    assert by_cli["facts"] == by_api.json()["facts"]
    facts: dict[str, Any] = by_cli["facts"]
    return facts


def test_cli_retirement_yields_a_verifiable_certificate(
        database_url: str, client: TestClient, seller: dict[str, Any], tmp_path: Path) -> None:
    retired = qinglu(database_url, "registry", "retire", "--from", str(seller["account"]),
                     "--product", "FCS", "--quantity", "53.96", "--beneficiary", "钟某",
                     "--purpose", "替代性修复 / alternative restoration",
                     "--out", str(tmp_path))
    number = retired["certificate_number"]
    assert number.startswith("QL-RC-")
    assert Path(retired["pdf"]) == tmp_path / f"{number}.pdf"
    assert Path(retired["pdf"]).read_bytes().startswith(b"%PDF")
    facts = _verified_both_ways(database_url, client, number)
    assert facts["retirement_id"] == retired["id"] and facts["serials"] == retired["serials"]
    assert facts["quantity"] == "53.96" and facts["beneficiary"] == "钟某"


def test_api_retirement_yields_a_verifiable_certificate(
        database_url: str, client: TestClient, seller: dict[str, Any]) -> None:
    response = client.post("/api/v1/retirements", headers=seller["auth"], json={
        "account_id": seller["account"], "product": "FCS", "quantity": "12.34",
        "beneficiary": "贵州某公司", "purpose": "2026年度碳中和 / carbon neutrality 2026"})
    assert response.status_code == 201, response.text
    retired = response.json()
    facts = _verified_both_ways(database_url, client, retired["certificate_number"])
    assert facts["retirement_id"] == retired["id"] and facts["quantity"] == "12.34"


def test_a_retirement_recorded_without_a_certificate_gets_one_once(
        database_url: str, client: TestClient, session: Session,
        seller: dict[str, Any]) -> None:
    # As retirements through `qinglu registry retire` were recorded before every
    # retirement carried its certificate: the retirement step alone in its ledger write.
    request = registry.retirement_request(from_account=seller["account"], product="FCS",
                                          quantity=500, beneficiary="某公司", purpose="旧注销")
    old = run_write(session, kind="retire", actor="cli:old", request=request,
                    action=lambda ctx: registry.retire_in(ctx, **request))
    assert qinglu(database_url, "certificate", "verify", "QL-RC-missing", ok=False)

    issued = qinglu(database_url, "certificate", "issue", str(old["id"]))
    assert issued["retirement_id"] == old["id"] and Path(issued["pdf"]).is_file()
    facts = _verified_both_ways(database_url, client, issued["certificate_number"])
    assert facts["serials"] == old["serials"] and facts["quantity"] == "5.00"

    again = qinglu(database_url, "certificate", "issue", str(old["id"]), ok=False)
    assert issued["certificate_number"] in again.output
    unknown = qinglu(database_url, "certificate", "issue", "999999", ok=False)
    assert "999999" in unknown.output


def test_verify_a_missing_file_says_file_not_found(
        database_url: str, seller: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An argument that names a file (ends in .pdf, any case, or holds a path separator)
    and is not one is refused as a missing file, not looked up as a number; a real
    number and a real PDF still verify."""
    retired = qinglu(database_url, "registry", "retire", "--from", str(seller["account"]),
                     "--product", "FCS", "--quantity", "1.00", "--beneficiary", "钟某",
                     "--purpose", "核验 / verification", "--out", str(tmp_path))
    number = retired["certificate_number"]
    assert qinglu(database_url, "certificate", "verify", number)["valid"] is True
    assert qinglu(database_url, "certificate", "verify", retired["pdf"])["valid"] is True
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.pdf").mkdir()
    for missing in ("missing.pdf", "MISSING.PDF", "scans/missing", str(tmp_path / number)):
        result = runner.invoke(app, ["certificate", "verify", missing, "--db", database_url])
        shown = " ".join(result.output.split())
        assert result.exit_code == 1, shown
        assert "Traceback" not in result.output
        assert f"找不到文件 {missing} / file not found: {missing}" in shown, shown
        assert "unknown certificate number" not in shown and "未登记" not in shown
    result = runner.invoke(app, ["certificate", "verify", "folder.pdf", "--db", database_url])
    assert result.exit_code == 1
    assert "folder.pdf is a directory, not a file" in " ".join(result.output.split())
