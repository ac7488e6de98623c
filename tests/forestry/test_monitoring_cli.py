"""`qinglu monitoring ...` end to end: submit, reject, resubmit, approve, issue, PDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from tests.forestry.test_monitoring import import_two, owned_project
from tests.methods.test_forest_method import OVERRIDE

runner = CliRunner()


def run(url: str, monkeypatch: pytest.MonkeyPatch, who: str, *args: str,
        ok: bool = True) -> Any:
    monkeypatch.setenv("QINGLU_ACTOR", who)
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok else result.output


def test_monitoring_commands(database_url: str, session: Session, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    session.close()
    measured = tmp_path / "m.csv"
    measured.write_text("number,volume_end\n12-1,6.0\n12-2,6.4\n", encoding="utf-8")
    override = tmp_path / "params.csv"
    override.write_text(OVERRIDE, encoding="utf-8")
    submit = ["monitoring", "submit", "--project", str(project), "--start", "2024-01-01",
              "--end", "2025-12-31", "--measurements", str(measured), "--baseline", "5",
              "--leakage", "0", "--risk", "low", "--deduction", "0.1"]
    refused = run(database_url, monkeypatch, "op", *submit, ok=False)
    assert "override" in refused  # packaged parameters are unconfirmed
    first = run(database_url, monkeypatch, "op", *submit, "--parameters", str(override))
    rejected = run(database_url, monkeypatch, "verifier", "monitoring", "reject",
                   str(first["id"]), "--reasons", "复测样地不足")
    assert rejected["status"] == "rejected"
    second = run(database_url, monkeypatch, "op", *submit, "--parameters", str(override))
    run(database_url, monkeypatch, "verifier", "monitoring", "approve", str(second["id"]))
    issued = run(database_url, monkeypatch, "op", "monitoring", "issue", str(second["id"]))
    assert issued["status"] == "issued"
    units = second["quantity_units"]
    assert issued["buffer_quantity"] == f"{units // 10 / 100:.2f}"  # low risk: 10 %
    out = tmp_path / "mr.pdf"
    runner.invoke(app, ["monitoring", "pdf", str(second["id"]), "--out", str(out),
                        "--db", database_url])
    assert out.read_bytes().startswith(b"%PDF")
