"""The public log from outside: `qinglu log checkpoint` prints a signed note that
`qinglu audit verify --checkpoint FILE` later holds the ledger to (a restored older copy,
a deleted entry, an edited one all fail), and the log API's proofs check with nothing but
the published key and the RFC 6962 rules (merkle.py's verifiers, themselves checked
against an independent checker in test_merkle.py)."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.registry import merkle
from qinglu.web.app import create_app
from tests.registry.test_checkpoints import (  # noqa: F401 (copier is a fixture)
    Copier,
    _rewrite_entry,
    copier,
    own_checkpoint_dir,
    qinglu,
    seeded,
    two_writes,
)

runner = CliRunner()


def saved_checkpoint(url: str, path: Path) -> str:
    result = runner.invoke(app, ["log", "checkpoint", "--db", url])
    assert result.exit_code == 0, result.output
    path.write_text(result.stdout, encoding="utf-8")
    return result.stdout


def test_the_checkpoint_is_a_signed_note(database_url: str, tmp_path: Path) -> None:
    seeded(database_url)
    note = saved_checkpoint(database_url, tmp_path / "cp.txt")
    body, _blank, signature = note.partition("\n\n")
    origin, size, root, chain, when = body.split("\n")
    assert origin.startswith("qinglu-ledger-") and int(size) >= 1
    assert len(base64.b64decode(root)) == 32
    assert chain.startswith("chain ") and when.startswith("time ")
    dash, name, blob = signature.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", origin)
    raw = base64.b64decode(blob)
    with TestClient(create_app(database_url)) as client:
        jwk = client.get("/api/v1/keys").json()["keys"][0]
        served = client.get("/api/v1/log/checkpoint")
    assert served.headers["content-type"].startswith("text/plain") and served.text == note
    public = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (body + "\n").encode())


def test_a_restored_older_copy_fails_a_later_checkpoint(
        database_url: str, copier: Copier, tmp_path: Path) -> None:  # noqa: F811
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    older = copier.copy(database_url)  # the backup
    two_writes(database_url, source, target)
    kept = tmp_path / "checkpoint.txt"
    saved_checkpoint(database_url, kept)
    code, report = qinglu(database_url, "audit", "verify", "--checkpoint", str(kept))
    assert code == 0 and report["valid"], report
    shutil.rmtree(tmp_path / "published")  # the registry's own file gone: the note alone
    code, report = qinglu(older, "audit", "verify", "--checkpoint", str(kept))
    assert code != 0
    assert any("behind a published checkpoint" in p and "2 acknowledged entries are gone"
               in p for p in report["problems"]), report


@pytest.mark.parametrize("change", ["delete", "edit", "rewrite"])
def test_a_deleted_or_edited_entry_fails_the_checkpoint(
        database_url: str, session: Session, tmp_path: Path, change: str) -> None:
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    kept = tmp_path / "checkpoint.txt"
    saved_checkpoint(database_url, kept)
    victim = 2
    if change == "delete":
        session.execute(text("DELETE FROM ledger_entries WHERE sequence = :s"), {"s": victim})
        session.commit()
    elif change == "edit":  # the body only: the chain no longer links either
        session.execute(text("UPDATE ledger_entries SET actor = 'someone-else' "
                             "WHERE sequence = :s"), {"s": victim})
        session.commit()
    else:  # edited with every later hash recomputed: a chain that holds
        _rewrite_entry(session, victim)
    code, report = qinglu(database_url, "audit", "verify", "--checkpoint", str(kept))
    assert code != 0
    expected = ("ledger entry #2 is missing" if change == "delete"
                else "Merkle tree of that size has another root")
    assert any(expected in p for p in report["problems"]), report["problems"]


def test_proofs_from_the_api_check_against_the_checkpoint(database_url: str) -> None:
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    with TestClient(create_app(database_url)) as client:
        first_note = client.get("/api/v1/log/checkpoint").text
        two_writes(database_url, source, target)
        bad = client.get("/api/v1/log/proof/inclusion", params={"entry": 1, "size": 10**6})
        assert bad.status_code == 422
        size = int(first_note.split("\n")[1])
        head = client.get("/api/v1/ledger/head").json()["sequence"]
        root = base64.b64decode(first_note.split("\n")[2])
        entries = client.get("/api/v1/log/entries", params={"start": 1, "end": head}).json()
        assert [e["sequence"] for e in entries["entries"]] == list(range(1, head + 1))
        for entry in entries["entries"][:size]:
            leaf = hashlib.sha256(entry["text"].encode()).digest()
            assert leaf.hex() == entry["hash"]  # the chain's hash is the leaf data
            proof = client.get("/api/v1/log/proof/inclusion",
                               params={"entry": entry["sequence"], "size": size}).json()
            assert merkle.verify_inclusion(
                hashlib.sha256(b"\x00" + leaf).digest(), entry["sequence"] - 1, size,
                [base64.b64decode(p) for p in proof["audit_path"]], root)
        later = client.get("/api/v1/log/proof/consistency",
                           params={"from": size, "to": head}).json()
        assert merkle.verify_consistency(
            size, head, root, base64.b64decode(later["second_root"]),
            [base64.b64decode(p) for p in later["consistency"]])
        assert not merkle.verify_consistency(
            size, head, hashlib.sha256(b"another").digest(),
            base64.b64decode(later["second_root"]),
            [base64.b64decode(p) for p in later["consistency"]])
