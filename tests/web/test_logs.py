"""JSON log lines carry the request's id and never a secret or a full ID number."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from qinglu.core.logs import configure_logging, redact_text
from qinglu.web.app import create_app
from tests import factories as f
from tests.live import qinglu_serve

ID_NUMBER = f.make_resident_id(7)
CREDIT_CODE = f.make_uscc(7)
TOKEN = "s3cr3t-token-value-0123456789abcdef"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging("INFO", json=True, stream=stream)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


def test_masking_of_text() -> None:
    assert ID_NUMBER not in redact_text(f"holder {ID_NUMBER} said")
    assert redact_text(f"id {ID_NUMBER}").endswith(ID_NUMBER[-4:])
    assert CREDIT_CODE not in redact_text(f"org {CREDIT_CODE}")
    assert TOKEN not in redact_text(f"Authorization: Bearer {TOKEN}")
    assert TOKEN not in redact_text(f"/login?token={TOKEN}&x=1")
    serial = "QL-FCS-522629-P000001-2023-000000000001-000000005396"
    assert redact_text(serial) == serial  # serials are public and stay readable


def test_a_request_with_an_id_number_and_a_token_logs_neither(
        sqlite_database_url: str, lines: io.StringIO) -> None:
    with TestClient(create_app(sqlite_database_url)) as client:
        response = client.get(f"/api/v1/units/{ID_NUMBER}?token={TOKEN}",
                              headers={"Authorization": f"Bearer {TOKEN}",
                                       "X-Request-ID": "req-42"})
        assert response.headers["X-Request-ID"] == "req-42"
        logging.getLogger("qinglu.test").warning(
            "holder added", extra={"id_number": ID_NUMBER, "note": f"证件 {ID_NUMBER}",
                                   "password": "correct horse"})
    text = lines.getvalue()
    assert ID_NUMBER not in text and TOKEN not in text and "correct horse" not in text
    records = [json.loads(line) for line in text.splitlines()]
    access = [r for r in records if r.get("logger") == "qinglu.access"]
    assert access and access[-1]["request_id"] == "req-42"
    assert access[-1]["route"] == "/api/v1/units/{serial}"
    assert access[-1]["path"].endswith(ID_NUMBER[-4:])  # masked, not dropped
    added = next(r for r in records if r.get("event") == "holder added")
    assert added["id_number"] == "[redacted]" and added["password"] == "[redacted]"


@pytest.mark.parametrize("workers", [1, 2])
def test_qinglu_serve_writes_one_access_line_a_request(
        sqlite_database_url: str, tmp_path: Path, workers: int) -> None:
    # qinglu.access's line (request id, route, masked path) and not uvicorn's beside it:
    # a second line a request, with the client's address, is a cost and a leak.
    with qinglu_serve(sqlite_database_url, workers, tmp_path / "var") as base:
        for number in range(3):
            httpx.get(f"{base}/api/v1/units/{ID_NUMBER}",
                      headers={"X-Request-ID": f"one-line-{number}"}, timeout=10)
    lines = (tmp_path / "var" / "serve.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    for number in range(3):
        mine = [r for r in records if r.get("request_id") == f"one-line-{number}"]
        assert [r["logger"] for r in mine] == ["qinglu.access"]
    assert not [r for r in records if r.get("logger") == "uvicorn.access"]
    assert ID_NUMBER not in "\n".join(lines)
