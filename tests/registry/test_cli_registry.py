"""The `qinglu registry ...` commands, as operators and scripts use them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.db.engine import make_engine
from tests import factories as f

runner = CliRunner()


def qinglu(url: str, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    assert result.exit_code != 0, result.output
    return result


def ledger_sequence(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.execute(text("SELECT sequence FROM ledger_head")).scalar_one()
    engine.dispose()
    return int(value)


@pytest.fixture
def seeded(database_url: str) -> dict[str, Any]:
    url = database_url
    centre = qinglu(url, "registry", "holder", "add", "--kind", "org", "--name", "剑河县碳汇中心",
                    "--id-number", f.make_uscc(), "--region", "522629")
    person = qinglu(url, "registry", "holder", "add", "--kind", "person", "--name", "钟某",
                    "--id-number", f.make_resident_id(), "--region", "522635")
    seller = qinglu(url, "registry", "account", "open", "--holder", str(centre["id"]))
    buyer = qinglu(url, "registry", "account", "open", "--holder", str(person["id"]),
                   "--kind", "holding")
    project = qinglu(url, "registry", "project", "add", "--name", "剑河县林业碳汇项目",
                     "--product", "FCS", "--region", "522629", "--methodology", "GZ-FCS-001")
    issued = qinglu(url, "registry", "issue", "--project", str(project["id"]), "--vintage",
                    "2023", "--quantity", "1000", "--to", str(seller["id"]))
    return {"url": url, "seller": seller["id"], "buyer": buyer["id"], "issued": issued,
            "project": project["id"]}


def test_operator_flow(seeded: dict[str, Any]) -> None:
    url, seller, buyer = seeded["url"], str(seeded["seller"]), str(seeded["buyer"])
    moved = qinglu(url, "registry", "transfer", "--from", seller, "--to", buyer, "--product",
                   "FCS", "--quantity", "53.96", "--idempotency-key", "k1")
    again = qinglu(url, "registry", "transfer", "--from", seller, "--to", buyer, "--product",
                   "FCS", "--quantity", "53.96", "--idempotency-key", "k1")
    assert again == moved
    assert qinglu(url, "registry", "balance", buyer) == {"FCS": {"held": "53.96",
                                                                 "escrow": "0.00"}}
    retired = qinglu(url, "registry", "retire", "--from", buyer, "--product", "FCS",
                     "--quantity", "53.96", "--beneficiary", "钟某", "--purpose", "替代性修复")
    assert retired["serials"] == moved["serials"]
    found = qinglu(url, "registry", "serial", moved["serials"][0])
    assert found[0]["state"] == "retired"
    held = qinglu(url, "registry", "hold", "--from", seller, "--product", "FCS", "--quantity",
                  "10", "--purpose", "挂牌 listing")
    assert qinglu(url, "registry", "balance", seller)["FCS"]["escrow"] == "10.00"
    qinglu(url, "registry", "settle", str(held["id"]), "--to", buyer)
    assert qinglu(url, "registry", "balance", buyer)["FCS"]["held"] == "10.00"
    cancelled = qinglu(url, "registry", "cancel", "--from", buyer, "--product", "FCS",
                       "--quantity", "10", "--reason", "reversal")
    assert cancelled["quantity"] == 1000
    entries = qinglu(url, "registry", "entries", "--limit", "3")
    assert [e["kind"] for e in entries] == ["cancel", "settle", "hold"]
    assert qinglu(url, "audit", "verify")["valid"] is True


@pytest.mark.parametrize("args, message", [
    (["--quantity", "0"], "above zero"),
    (["--quantity", "-1"], "not a positive decimal"),
    (["--quantity", "abc"], "not a positive decimal"),
    (["--quantity", "0.001"], "finer than the base unit"),
    (["--quantity", "1000.01"], "less than"),
    (["--to", "9999"], "does not exist"),
])
def test_bad_transfers_are_refused_and_write_nothing(seeded: dict[str, Any], args: list[str],
                                                      message: str) -> None:
    url = seeded["url"]
    base = {"--from": str(seeded["seller"]), "--to": str(seeded["buyer"]), "--product": "FCS",
            "--quantity": "1"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = ledger_sequence(url)
    result = qinglu(url, "registry", "transfer", *[x for kv in base.items() for x in kv], ok=False)
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert ledger_sequence(url) == before


def test_bad_holders_are_refused(seeded: dict[str, Any]) -> None:
    url = seeded["url"]
    before = ledger_sequence(url)
    bad_uscc = qinglu(url, "registry", "holder", "add", "--kind", "org", "--name", "x",
                      "--id-number", "91350100M000100Y44", "--region", "522629", ok=False)
    assert "check character" in bad_uscc.output
    bad_rid = qinglu(url, "registry", "holder", "add", "--kind", "person", "--name", "x",
                     "--id-number", "110105194912310021", "--region", "522629", ok=False)
    assert "check character" in bad_rid.output
    bad_serial = qinglu(url, "registry", "serial", "QL-FCS-nonsense", ok=False)
    assert "malformed" in bad_serial.output
    assert ledger_sequence(url) == before


def test_audit_verify_names_the_edited_entry(seeded: dict[str, Any]) -> None:
    url = seeded["url"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET body = replace(body, '1000', '2000') "
                          "WHERE kind = 'issue'"))
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--db", url])
    assert result.exit_code == 1
    assert f"#{seeded['issued']['entry']}" in result.output
