"""A document and the public log: its issue makes the checkpoint it is issued under (a
read of its PDF writes nothing after the file's first issue), and `qinglu certificate
verify` proves the document's ledger entry is in that checkpoint's tree."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.web.app import create_app
from tests import factories as f
from tests.registry.test_checkpoints import _rewrite_entry, own_checkpoint_dir  # noqa: F401

runner = CliRunner()


def verify(url: str, number: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["certificate", "verify", number, "--db", url, "--json"])
    start = result.stdout.find("{")
    return result.exit_code, json.loads(result.stdout[start:result.stdout.rfind("}") + 1])


def counts(session: Session) -> tuple[int, int]:
    session.commit()
    return (session.execute(text("SELECT count(*) FROM issued_files")).scalar_one(),
            session.execute(text("SELECT count(*) FROM ledger_checkpoints")).scalar_one())


def test_a_document_is_proven_in_the_checkpoint_it_was_issued_under(
        database_url: str, session: Session) -> None:
    account, _project, _issued = f.issued_account(session, quantity=1_000)
    retired = documents.retire(session, load_or_create_key(), from_account=account,
                               product="FCS", quantity=10, beneficiary="某公司",
                               purpose="碳中和", actor="test")
    number = retired["certificate_number"]
    assert counts(session) == (0, 1)  # the issue made the checkpoint, no file yet
    with TestClient(create_app(database_url)) as client:
        first = client.get(f"/api/v1/certificates/{number}/pdf")
        assert counts(session) == (1, 1)  # the file's issue recorded it
        again = client.get(f"/api/v1/certificates/{number}/pdf")
        assert again.content == first.content and counts(session) == (1, 1)  # a pure read
    documents.retire(session, load_or_create_key(), from_account=account, product="FCS",
                     quantity=5, beneficiary="某公司", purpose="碳中和", actor="test")
    code, answer = verify(database_url, number)
    assert code == 0, answer
    assert answer["log"]["included"] and answer["log"]["entry"] == retired["entry"]
    assert answer["log"]["checkpoint"]["tree_size"] == retired["entry"]
    _rewrite_entry(session, retired["entry"])  # history rewritten, the chain recomputed
    code, answer = verify(database_url, number)
    assert code != 0
    assert any(f"entry #{retired['entry']} is not in the tree of its checkpoint" in p
               for p in answer["problems"]), answer["problems"]
