"""The printed QR code scans from paper and verifies offline: the certificate page rendered
at 150 dpi, its QR decoded (zxing-cpp), version 12 or lower, the address from the served
or configured public address, the payload checked with the published key alone; a changed
byte is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.documents import actions as documents
from qinglu.documents.qr import PREFIX
from qinglu.documents.signing import load_or_create_key
from qinglu.web.app import create_app
from tests import factories as f

zxingcpp = pytest.importorskip("zxingcpp")
Image = pytest.importorskip("PIL.Image")
runner = CliRunner()
pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="no pdftoppm")


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url), base_url="https://served.example") as test:
        yield test


@pytest.fixture
def number(session: Session) -> str:
    account, _project, _issued = f.issued_account(session, quantity=100_000)
    retired = documents.retire(session, load_or_create_key(), from_account=account,
                               product="FCS", quantity=5_396,
                               beneficiary="某某生态环境科技有限公司",
                               purpose="替代性修复 / alternative restoration", actor="test")
    return str(retired["certificate_number"])


def scan(pdf: bytes, work: Path) -> tuple[str, int]:
    """The page at 150 dpi, as a printer-and-camera would see it, and its QR decoded."""
    (work / "c.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(work / "c.pdf"),
                    str(work / "page")], check=True)
    found = zxingcpp.read_barcodes(Image.open(work / "page.png"))
    codes = [c for c in found if c.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(codes) == 1, found
    return codes[0].text, _version(codes[0])


def _version(code: object) -> int:
    """The symbol's version, as zxing-cpp read it from the image."""
    extra = getattr(code, "extra", None)
    if isinstance(extra, str):
        extra = json.loads(extra or "{}")
    assert isinstance(extra, dict), extra
    return int(extra["Version"])


def test_the_printed_qr_scans_and_verifies_offline(
        number: str, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QINGLU_BASE_URL", raising=False)
    pdf = client.get(f"/api/v1/certificates/{number}/pdf")
    assert pdf.status_code == 200
    text, version = scan(pdf.content, tmp_path)
    address, offline = text.split("#", 1)
    assert address == f"https://served.example/verify/{number}"  # the address served
    assert offline.startswith(PREFIX)
    assert 0 < version <= 12, version
    keys = tmp_path / "keys.json"
    keys.write_text(client.get("/api/v1/keys").text)
    ok = runner.invoke(app, ["certificate", "verify", "--offline", text, "--key", str(keys),
                             "--json"])
    assert ok.exit_code == 0, ok.output
    claims = json.loads(ok.stdout)["claims"]
    assert claims["number"] == number and claims["holder"] == "某某生态环境科技有限公司"
    assert claims["quantity"] == "53.96"


def test_a_changed_payload_byte_is_refused(number: str, session: Session, client: TestClient,
                                           tmp_path: Path) -> None:
    text = documents.document_qr_text(session, number, "https://reg.example")
    keys = tmp_path / "keys.json"
    keys.write_text(client.get("/api/v1/keys").text)
    refused = 0
    for position in range(len(text) - 40, len(text), 7):  # inside the base45 payload
        changed = text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1:]
        result = runner.invoke(app, ["certificate", "verify", "--offline", changed,
                                     "--key", str(keys), "--json"])
        assert result.exit_code != 0, (position, result.output)
        refused += 1
    assert refused >= 5


def test_another_key_is_refused_offline(number: str, session: Session, tmp_path: Path) -> None:
    text = documents.document_qr_text(session, number, "https://reg.example")
    other = load_or_create_key(tmp_path / "other")
    (tmp_path / "other.pem").write_text(other.public_pem())
    result = runner.invoke(app, ["certificate", "verify", "--offline", text,
                                 "--key", str(tmp_path / "other.pem"), "--json"])
    assert result.exit_code != 0 and "another key" in result.output


def test_the_configured_address_wins(number: str, client: TestClient, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_BASE_URL", "https://registry.qinglu.example.cn")
    text, _version = scan(client.get(f"/api/v1/certificates/{number}/pdf").content, tmp_path)
    assert text.startswith(f"https://registry.qinglu.example.cn/verify/{number}#{PREFIX}")
