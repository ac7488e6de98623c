"""`qinglu market`: list, buy, pay, prices (JSON output, both backends)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from tests import factories as f

runner = CliRunner()


def qinglu(url: str, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok else result.output


def test_list_buy_pay_and_export_prices(database_url: str, session: Session,
                                        tmp_path: Path) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    buyer = f.account(session)
    listing = qinglu(database_url, "market", "list", "--account", str(seller), "--product",
                     "FCS", "--quantity", "100", "--price", "45.5", "--min-lot", "5")
    assert listing["remaining"] == "100.00"
    listed = qinglu(database_url, "market", "listings")
    assert [row["id"] for row in listed] == [listing["id"]]
    refused = qinglu(database_url, "market", "buy", str(listing["id"]), "--account",
                     str(buyer), "--quantity", "100.01", ok=False)
    assert "not enough units left: 100.00 remaining" in refused
    order = qinglu(database_url, "market", "buy", str(listing["id"]), "--account", str(buyer),
                   "--quantity", "20")
    assert order["amount"] == "910.00"
    paid = qinglu(database_url, "market", "pay", str(order["id"]), "--reference", "BOC-5")
    assert paid["status"] == "settled" and paid["voucher_number"]
    out = tmp_path / "prices.csv"
    rows = qinglu(database_url, "market", "prices", "--by", "county", "--csv", str(out))
    assert rows[0]["volume"] == "20.00" and rows[0]["vwap"] == "45.5000"
    with out.open(encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["amount_cny"] == "910.00"
