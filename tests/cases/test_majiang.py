"""The Majiang case end to end from the demo data, its documents, and tampering."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qinglu.demo import load_demo
from qinglu.documents import actions as records
from qinglu.documents.models import Certificate
from qinglu.documents.signing import decode_payload, encode_payload, load_or_create_key
from qinglu.registry.actions import balance, find_serial
from qinglu.registry.audit import audit
from qinglu.registry.models import Retirement

pytestmark = pytest.mark.slow  # each test loads the whole demo


def extract_text(path: Path, reader: PdfReader) -> str:
    """pdftotext when poppler is installed; else pypdf, whose decoding of fpdf2's
    two-byte CID strings leaves a NUL before each character."""
    if shutil.which("pdftotext"):
        return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
    return "".join(page.extract_text() for page in reader.pages).replace("\x00", "")


@pytest.fixture
def demo(session: Session) -> dict[str, Any]:
    return load_demo(session)


def test_majiang_certificate(session: Session, demo: dict[str, Any]) -> None:
    case = demo["cases"]["majiang"]
    assert case["status"] == "certified" and case["obligation"] == "53.96"
    record = records.get_certificate(session, case["certificate_number"])
    facts = record.facts
    assert facts["quantity"] == "53.96" and facts["unit"] == "tCO2e"
    assert facts["beneficiary"] == "钟某"
    assert facts["serials"] == case["agreement"]["serials"]
    assert "麻检刑公诉〔2026〕示例1号" in facts["case"] and "麻江县人民检察院" in facts["case"]
    result = records.verify_certificate(session, load_or_create_key(),
                                        number=case["certificate_number"])
    assert result.valid, result.problems
    # The ledger: 5,396 base units retired from the Jianhe centre's account.
    retirement = session.get(Retirement, case["retirement_id"])
    assert retirement is not None
    assert retirement.quantity == 5396
    assert retirement.account_id == demo["accounts"]["jianhe_centre"]
    for serial in facts["serials"]:
        assert {r["state"] for r in find_serial(session, serial)} == {"retired"}
    # 19,840.96 t left after the demo's cases, less 200 t listed on the market of which
    # 80 t were sold: 120 t still in escrow.
    assert balance(session, demo["accounts"]["jianhe_centre"])["FCS"] == {
        "held": "19640.96", "escrow": "120.00"}
    assert audit(session).ok
    comparison = case["accounting"]["qinglu_comparison"]
    assert case["accounting"]["stated_obligation_t"] == "53.96"
    assert comparison["qinglu_obligation_t"] != "53.96"  # shown beside, never replacing


def test_demo_is_idempotent(session: Session, demo: dict[str, Any]) -> None:
    again = load_demo(session)
    assert again["certificates"] == demo["certificates"]
    assert again["forestry"] == demo["forestry"]  # parcels, report, tree-years once
    assert again["market"] == demo["market"]  # one listing, one trade, one voucher
    assert len(session.scalars(select(Certificate)).all()) == 7  # 5 + two green claims


def test_altered_payload_is_caught(session: Session, demo: dict[str, Any]) -> None:
    record = records.get_certificate(session, demo["cases"]["majiang"]["certificate_number"])
    facts, signature = decode_payload(encode_payload(record.facts, record.signature))
    key = load_or_create_key()
    for name, forged in (("quantity", "539.60"), ("beneficiary", "李某")):
        altered = encode_payload({**facts, name: forged}, signature)
        result = records.verify_certificate(session, key, payload=altered)
        assert not result.valid
        assert any("bad signature" in p for p in result.problems)
        assert any(f"{name} differs" in p for p in result.problems)
    garbage = records.verify_certificate(session, key, payload="not-a-payload")
    assert not garbage.valid and "cannot be read" in garbage.problems[0]
    unknown = records.verify_certificate(session, key, number="QL-CN-1999-999999")
    assert not unknown.valid and "unknown certificate number" in unknown.problems[0]


def test_retirement_row_edited_in_the_database_is_caught(session: Session,
                                                         demo: dict[str, Any]) -> None:
    case = demo["cases"]["majiang"]
    session.execute(text("UPDATE retirements SET quantity = 539 WHERE id = :i"),
                    {"i": case["retirement_id"]})
    session.commit()
    session.expire_all()
    result = records.verify_certificate(session, load_or_create_key(),
                                        number=case["certificate_number"])
    assert not result.valid
    assert any("quantity was changed" in p for p in result.problems)
    assert any("differs from the ledger" in p for p in result.problems)


def test_pdfs_embed_fonts_and_extract_chinese(session: Session, demo: dict[str, Any],
                                              output_dir: Path) -> None:
    case = demo["cases"]["majiang"]
    expected = {case["certificate_number"]: ["碳中和证书", "钟某", "53.96", "麻江县人民检察院"],
                case["voucher_number"]: ["碳减排量交易凭证", "剑河县碳汇交易运营中心", "3237.60"]}
    for number, words in expected.items():
        data = records.render_pdf(records.get_certificate(session, number))
        path = output_dir / f"{number}.pdf"
        path.write_bytes(data)
        reader = PdfReader(path)
        fonts = []
        for page in reader.pages:
            for font in page["/Resources"]["/Font"].values():
                font = font.get_object()
                descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
                fonts.append((str(font["/BaseFont"]), any(
                    k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
        assert fonts and all(embedded for _name, embedded in fonts), fonts
        assert any("NotoSansCJK" in name for name, _ in fonts)
        extracted = extract_text(path, reader)
        for word in words:
            assert word in extracted, (word, extracted[:300])
        assert records.pdf.extract_payload(data)[0] == number
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-png", "-r", "50", str(path),
                            str(output_dir / number)], check=True)
            assert (output_dir / f"{number}-1.png").exists()


def test_accounting_report_pdf(session: Session, demo: dict[str, Any],
                               output_dir: Path) -> None:
    from qinglu.cases.actions import get_case
    from qinglu.cases.report import render_case_report

    case = get_case(session, demo["cases"]["polygon"]["id"])
    path = output_dir / "accounting-report.pdf"
    path.write_bytes(render_case_report(session, case))
    reader = PdfReader(path)
    extracted = extract_text(path, reader)
    for word in ("大气污染物排放核算报告", "麻江县人民检察院", "二氧化碳", "Table 2.5",
                 demo["cases"]["polygon"]["obligation"]):
        assert word in extracted, word
    fonts = [f.get_object()["/BaseFont"] for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert any("NotoSansCJK" in str(name) for name in fonts)
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "50", str(path),
                        str(output_dir / "accounting-report")], check=True)


def test_certificate_verify_command(demo: dict[str, Any], database_url: str,
                                    session: Session) -> None:
    from typer.testing import CliRunner

    from qinglu.cli import app
    from qinglu.documents.qr import verification_url

    runner = CliRunner()
    number = demo["cases"]["majiang"]["certificate_number"]
    pdf_path = next(d["pdf"] for d in demo["certificates"] if d["number"] == number)
    record = records.get_certificate(session, number)
    url = verification_url("http://example.test", number,
                           encode_payload(record.facts, record.signature))
    for reference in (number, pdf_path, url):
        result = runner.invoke(app, ["certificate", "verify", reference, "--db", database_url])
        assert result.exit_code == 0, result.output
    forged = verification_url("http://example.test", number, encode_payload(
        {**record.facts, "quantity": "5.00"}, record.signature))
    result = runner.invoke(app, ["certificate", "verify", forged, "--db", database_url])
    assert result.exit_code == 1 and "quantity" in result.output
    result = runner.invoke(app, ["certificate", "verify", "QL-CN-0000-000000", "--db",
                                 database_url])
    assert result.exit_code == 1 and "unknown" in result.output


def test_verification_api(demo: dict[str, Any], database_url: str, session: Session) -> None:
    from fastapi.testclient import TestClient

    from qinglu.web.app import create_app

    number = demo["cases"]["majiang"]["certificate_number"]
    record = records.get_certificate(session, number)
    with TestClient(create_app(database_url)) as client:
        keys = client.get("/api/v1/keys").json()["keys"]
        assert keys[0]["crv"] == "Ed25519"
        ok = client.get(f"/api/v1/certificates/{number}/verify",
                        params={"p": encode_payload(record.facts, record.signature)}).json()
        assert ok["valid"] is True and ok["facts"]["quantity"] == "53.96"
        bad = client.get(f"/api/v1/certificates/{number}/verify", params={
            "p": encode_payload({**record.facts, "beneficiary": "王某"}, record.signature)})
        assert bad.json()["valid"] is False
        assert client.get("/api/v1/certificates/QL-NOPE/verify").json()["valid"] is False
        assert client.get("/api/v1/certificates/QL-NOPE").status_code == 404
        pdf_response = client.get(f"/api/v1/certificates/{number}/pdf")
        assert pdf_response.headers["content-type"] == "application/pdf"


def test_units_unretired_behind_the_ledger_are_caught(session: Session,
                                                      demo: dict[str, Any]) -> None:
    case = demo["cases"]["majiang"]
    session.execute(text("UPDATE unit_blocks SET state = 'held', retirement_id = NULL "
                         "WHERE retirement_id = :i"), {"i": case["retirement_id"]})
    session.commit()
    result = records.verify_certificate(session, load_or_create_key(),
                                        number=case["certificate_number"])
    assert not result.valid
    serials = case["agreement"]["serials"]
    assert [p for p in result.problems if "are not retired by it" in p] == [
        f"单位 {s} 未按此注销 / units {s} are not retired by it" for s in serials]


def test_registry_copy_edited_in_the_database_is_caught(session: Session,
                                                        demo: dict[str, Any]) -> None:
    number = demo["cases"]["majiang"]["certificate_number"]
    record = records.get_certificate(session, number)
    record.facts = {**record.facts, "beneficiary": "李某"}
    session.commit()
    result = records.verify_certificate(session, load_or_create_key(), number=number)
    assert not result.valid
    assert any("does not match its signature" in p for p in result.problems)
    assert any("beneficiary was changed" in p for p in result.problems)
