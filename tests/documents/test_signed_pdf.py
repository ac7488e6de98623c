"""Issued PDFs are signed the PDF-standard way (PAdES baseline B) and the registry keeps the
SHA-256 of each: `qinglu certificate verify FILE` and the verification page accept the file
it issued and name what differs for any other (edited with qpdf, signed by another key,
unsigned with copied keywords, units no longer retired)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.documents import actions as documents
from qinglu.documents.pdfsign import load_or_create_pdf_key
from qinglu.documents.signing import load_or_create_key
from qinglu.web.app import create_app
from tests import factories as f

runner = CliRunner()
needs_qpdf = pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf not installed")
needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig not installed")


def verify_cli(url: str, path: Path) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["certificate", "verify", str(path), "--db", url, "--json"])
    start = result.stdout.find("{")
    return result.exit_code, json.loads(result.stdout[start:result.stdout.rfind("}") + 1])


@pytest.fixture
def issued(session: Session, tmp_path: Path) -> tuple[str, Path]:
    account, _project, _issued = f.issued_account(session, quantity=100_000)
    retired = documents.retire(session, load_or_create_key(), from_account=account,
                               product="FCS", quantity=93_950, beneficiary="钟某",
                               purpose="替代性修复", actor="test")
    number = retired["certificate_number"]
    path = documents.write_certificate_pdf(session, number, tmp_path, "https://reg.example")
    return number, path


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def test_the_issued_file_verifies(database_url: str, issued: tuple[str, Path]) -> None:
    number, path = issued
    code, answer = verify_cli(database_url, path)
    assert code == 0, answer
    assert answer["valid"] and answer["number"] == number
    assert answer["file"]["issued_by_registry"] and answer["file"]["signature_intact"]


@needs_pdfsig
def test_pdfsig_reports_the_signature_valid(issued: tuple[str, Path]) -> None:
    shown = subprocess.run(["pdfsig", str(issued[1])], capture_output=True, text=True).stdout
    assert "Signature is Valid" in shown and "ETSI.CAdES.detached" in shown
    assert "Total document signed" in shown


def _edit_one_glyph(source: Path, out: Path, work: Path, old: str, new: str) -> None:
    """The outside edit: qpdf --qdf, one glyph of the shown quantity changed (found through
    the font's ToUnicode map: fpdf2 writes text as hex glyph ids), repacked by qpdf."""
    qdf = work / "qdf.pdf"
    subprocess.run(["qpdf", "--qdf", "--object-streams=disable", str(source), str(qdf)],
                   check=True)
    data = qdf.read_bytes()
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        glyph = {chr(int(uni, 16)): gid.lower() for gid, uni in
                 re.findall(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", block)}
        if all(c in glyph for c in old + new):
            shown = b"".join(glyph[c] for c in old)
            if shown in data:
                qdf.write_bytes(data.replace(shown, b"".join(glyph[c] for c in new), 1))
                break
    else:
        raise AssertionError(f"{old!r} is not shown in the PDF")
    subprocess.run(["qpdf", str(qdf), str(out)], check=True)


@needs_qpdf
def test_an_edited_pdf_is_refused_naming_the_change(
        database_url: str, issued: tuple[str, Path], tmp_path: Path,
        client: TestClient) -> None:
    edited = tmp_path / "edited.pdf"
    _edit_one_glyph(issued[1], edited, tmp_path, "939.50", "939.55")
    if shutil.which("pdftotext"):
        shown = subprocess.run(["pdftotext", str(edited), "-"], capture_output=True,
                               text=True).stdout
        assert "939.55 tCO2e" in shown and "939.50" not in shown
    code, answer = verify_cli(database_url, edited)
    assert code != 0 and not answer["valid"]
    assert any("changed after signing" in p for p in answer["problems"]), answer["problems"]
    page = client.post("/verify/file", files={"file": ("edited.pdf", edited.read_bytes(),
                                                       "application/pdf")})
    assert page.status_code == 200
    assert 'data-valid="false"' in page.text and "文件在签名后被改动" in page.text


def test_the_page_accepts_the_issued_upload(issued: tuple[str, Path],
                                            client: TestClient) -> None:
    page = client.post("/verify/file", files={"file": ("c.pdf", issued[1].read_bytes(),
                                                       "application/pdf")})
    assert page.status_code == 200 and 'data-valid="true"' in page.text, page.text


def test_a_pdf_signed_by_another_key_is_refused(database_url: str, issued: tuple[str, Path],
                                               tmp_path: Path) -> None:
    other = load_or_create_pdf_key(tmp_path / "other-keys")
    unsigned = _strip_signature(issued[1].read_bytes())
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(other.sign(unsigned))
    code, answer = verify_cli(database_url, forged)
    assert code != 0
    assert any("signed by another key" in p for p in answer["problems"]), answer["problems"]


def test_copied_keywords_in_an_unsigned_pdf_are_refused(
        database_url: str, issued: tuple[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(_strip_signature(issued[1].read_bytes()))
    code, answer = verify_cli(database_url, copy)
    assert code != 0
    assert any("not a file this registry issued" in p for p in answer["problems"])


def test_a_signed_file_the_registry_did_not_record_is_refused(
        database_url: str, session: Session, issued: tuple[str, Path]) -> None:
    session.execute(text("DELETE FROM issued_files"))
    session.commit()
    code, answer = verify_cli(database_url, issued[1])
    assert code != 0
    assert any("not a file this registry issued" in p for p in answer["problems"])


def test_units_no_longer_retired_are_named(database_url: str, session: Session,
                                           issued: tuple[str, Path]) -> None:
    session.execute(text("UPDATE unit_blocks SET state = 'held', retirement_id = NULL "
                         "WHERE state = 'retired'"))
    session.commit()
    code, answer = verify_cli(database_url, issued[1])
    assert code != 0
    named = [p for p in answer["problems"] if re.search(r"units \S+ are not retired", p)]
    assert named, answer["problems"]


def _strip_signature(signed: bytes) -> bytes:
    """The file as rendered before signing: pyHanko appends an incremental update, so the
    original ends at the first %%EOF."""
    end = signed.index(b"%%EOF") + len(b"%%EOF")
    return signed[:end] + b"\n"


def test_the_pdf_carries_the_checkpoint_it_was_issued_under(
        session: Session, issued: tuple[str, Path]) -> None:
    from pypdf import PdfReader

    from qinglu.registry import checkpoints

    published = checkpoints.published_checkpoints(session, refresh=False)["checkpoints"]
    assert published, "issuing the PDF published a checkpoint"
    latest = published[-1]
    head = session.execute(text("SELECT sequence, hash FROM ledger_head")).one()
    assert (latest["sequence"], latest["hash"]) == (head.sequence, head.hash)
    shown = "".join(page.extract_text() for page in PdfReader(issued[1]).pages)
    flat = re.sub(r"[\s\x00]+", "", shown)
    assert f"#{latest['sequence']}{latest['hash']}" in flat


def test_the_api_checks_a_presented_file(issued: tuple[str, Path], client: TestClient,
                                         tmp_path: Path) -> None:
    ok = client.post("/api/v1/certificates/file-verification",
                     files={"file": ("c.pdf", issued[1].read_bytes(), "application/pdf")})
    assert ok.status_code == 200 and ok.json()["valid"], ok.text
    assert ok.json()["file"]["issued_by_registry"] is True
    assert "注销" in ok.json()["statement"]["zh"]
    copy = _strip_signature(issued[1].read_bytes())
    refused = client.post("/api/v1/certificates/file-verification",
                          files={"file": ("copy.pdf", copy, "application/pdf")})
    assert refused.status_code == 200 and not refused.json()["valid"]
    assert any("not a file this registry issued" in p for p in refused.json()["problems"])
