"""What `qinglu registry ...` prints for people: quantities in the product's unit, serial
numbers whole however narrow the terminal; `--json` keeps the ledger's integers."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu import cli_common
from qinglu.cli import app
from tests import factories as f

runner = CliRunner()


def _cells(output: str) -> str:
    """A key/value table's text with its borders and padding removed, so that a value
    folded over several lines reads whole again."""
    return re.sub(r"[\s│┃┏┓┗┛┡┩└┘┌┐├┤─━╇╈┼┬┴╭╮╰╯]", "", output)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_quantities_in_their_unit_and_serials_whole(
        database_url: str, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=100_000)
    session.close()
    monkeypatch.setenv("QINGLU_ACTOR", "clerk")
    monkeypatch.setattr(cli_common.console, "width", 60)
    common = ["--from", str(seller), "--product", "FCS", "--quantity", "53.96",
              "--db", database_url]
    held = runner.invoke(app, ["registry", "hold", *common, "--purpose", "挂牌"])
    assert held.exit_code == 0, held.output
    assert "53.96 tCO2e" in held.output and "│ 5396 " not in held.output
    retired = runner.invoke(app, ["registry", "retire", *common, "--beneficiary", "钟某",
                                  "--purpose", "替代性修复"])
    assert retired.exit_code == 0, retired.output
    assert "53.96 tCO2e" in retired.output
    serial = "QL-FCS-522629-P000001-2023-000000005397-000000010792"
    assert "…" not in retired.output and serial in _cells(retired.output)
    as_json = runner.invoke(app, ["registry", "cancel", *common, "--reason", "reversal",
                                  "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["quantity"] == 5396
