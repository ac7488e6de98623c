"""`qinglu case ...` end to end, as an operator would script it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qinglu.cli import app
from tests import factories as f

runner = CliRunner()


def run(url: str, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok else result.output


@pytest.mark.slow
def test_case_commands(database_url: str, tmp_path: Path) -> None:
    url = database_url
    centre = run(url, "registry", "holder", "add", "--kind", "org", "--name", "剑河县碳汇中心",
                 "--id-number", f.make_uscc(), "--region", "522629")["id"]
    procuratorate = run(url, "registry", "holder", "add", "--kind", "org", "--name",
                        "麻江县人民检察院", "--id-number", f.make_uscc(), "--region",
                        "522635")["id"]
    person = run(url, "registry", "holder", "add", "--kind", "person", "--name", "钟某某",
                 "--id-number", f.make_resident_id(), "--region", "522635")["id"]
    seller = run(url, "registry", "account", "open", "--holder", str(centre))["id"]
    project = run(url, "registry", "project", "add", "--name", "剑河县林业碳汇项目", "--product",
                  "FCS", "--region", "522629", "--methodology", "GZ-FCS-SC-V01")["id"]
    run(url, "registry", "issue", "--project", str(project), "--vintage", "2023", "--quantity",
        "1000", "--to", str(seller))
    case = run(url, "case", "open", "--number", "麻检〔2026〕9号", "--authority",
               str(procuratorate), "--authority-kind", "procuratorate", "--kind",
               "criminal_public_interest", "--defendant", str(person), "--date", "2026-03-14",
               "--region", "522635", "--place", "麻江县某村")["id"]
    accounted = run(url, "case", "account", str(case), "--vegetation", "extra_tropical_forest",
                    "--area", "139.2", "--unit", "mu", "--fuel-consumed", "3.5")
    assert accounted["obligation"] == "57.48"
    report = runner.invoke(app, ["case", "report", str(case), "--out",
                                 str(tmp_path / "r.pdf"), "--db", url])
    assert report.exit_code == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    below = run(url, "case", "agree", str(case), "--quantity", "50", "--seller-account",
                str(seller), "--price", "60", ok=False)
    assert "below the obligation" in below
    run(url, "case", "agree", str(case), "--quantity", "57.48", "--seller-account",
        str(seller), "--price", "60")
    run(url, "case", "pay", str(case), "--reference", "BANK-1")
    run(url, "case", "retire", str(case))
    certified = run(url, "case", "certify", str(case))
    assert certified["status"] == "certified" and len(certified["pdfs"]) == 2
    verified = run(url, "certificate", "verify", certified["pdfs"][0])
    assert verified["valid"] is True and verified["facts"]["quantity"] == "57.48"
    closed = run(url, "case", "close", str(case))
    assert closed["status"] == "closed"
    assert "closed" in run(url, "case", "retire", str(case), ok=False)
