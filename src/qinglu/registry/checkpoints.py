"""Signed checkpoints of the ledger head: a public log that reveals a rewrite.

The ledger is hash-chained, so entry N's hash commits to every entry up to N. A
checkpoint is the registry's Ed25519 signature over (origin, sequence, hash, time) of the
head at some moment. Checkpoints are kept in the database *and* appended to a published
file outside it (var/checkpoints/<origin>.jsonl, QINGLU_CHECKPOINT_DIR to move it), served
at /api/v1/ledger/checkpoints and a page, and anyone may keep copies. A database restored
from an older copy cannot take back what was published: its head is behind the latest
checkpoint (acknowledged writes gone), or its entry at a checkpoint's sequence has a
different hash (history rewritten, even with the chain recomputed). `qinglu audit verify`
checks the published file; `--against FILE|URL` checks a stranger's copy.

The origin names the registry's ledger: `qinglu-ledger-` + the first 16 hex digits of
entry 1's hash, so an older copy of the same ledger has the same origin.
Signed bytes: canonical JSON (sorted keys, no spaces, UTF-8) of
{"origin", "sequence", "hash", "time"}; signature base64url, key id as /api/v1/keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from qinglu.core.errors import InvalidInput
from qinglu.core.ledger import ledger_head, verify_chain
from qinglu.core.models import LedgerEntry
from qinglu.db.base import Base
from qinglu.db.engine import var_dir
from qinglu.documents.signing import RegistryKey, load_or_create_key, verify

# While served, a read of the checkpoints makes a new one when the head has moved and the
# latest is older than this: checkpoints follow the ledger about once a minute.
CHECKPOINT_INTERVAL = timedelta(minutes=1)


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(120))


class BadCheckpoints(InvalidInput):
    code = "bad-checkpoints"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    sequence: int
    hash: str
    time: str
    key_id: str
    signature: str

    def signed_part(self) -> dict[str, Any]:
        return {"origin": self.origin, "sequence": self.sequence, "hash": self.hash,
                "time": self.time}

    def as_dict(self) -> dict[str, Any]:
        return {**self.signed_part(), "key_id": self.key_id, "signature": self.signature}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            return cls(str(data["origin"]), int(data["sequence"]), str(data["hash"]),
                       str(data["time"]), str(data.get("key_id", "")), str(data["signature"]))
        except (KeyError, TypeError, ValueError):
            raise BadCheckpoints("检查点格式不对", "a checkpoint is malformed") from None


def ledger_origin(session: Session) -> str | None:
    """The ledger's name: from entry 1's hash (None while the ledger is empty)."""
    first = session.scalar(select(LedgerEntry.hash).where(LedgerEntry.sequence == 1))
    return f"qinglu-ledger-{first[:16]}" if first else None


def checkpoint_dir() -> Path:
    return Path(os.environ.get("QINGLU_CHECKPOINT_DIR", str(var_dir() / "checkpoints")))


def published_file(origin: str) -> Path:
    return checkpoint_dir() / f"{origin}.jsonl"


def make_checkpoint(session: Session, key: RegistryKey | None = None) -> dict[str, Any]:
    """Sign the ledger head now, store it and append it to the published file."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    if origin is None:
        raise BadCheckpoints("账本为空，无可签检查点", "the ledger is empty: nothing to checkpoint")
    sequence, digest = ledger_head(session)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    unsigned = {"origin": origin, "sequence": sequence, "hash": digest, "time": now}
    checkpoint = Checkpoint(origin, sequence, digest, now, key.key_id, key.sign(unsigned))
    session.add(LedgerCheckpoint(sequence=sequence, head_hash=digest, made_at=now,
                                 key_id=key.key_id, signature=checkpoint.signature))
    session.commit()
    path = published_file(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:  # append-only, one line each
        handle.write(json.dumps(checkpoint.as_dict(), ensure_ascii=False) + "\n")
    return checkpoint.as_dict()


def _stored(session: Session, origin: str) -> list[Checkpoint]:
    rows = session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).all()
    return [Checkpoint(origin, r.sequence, r.head_hash, r.made_at, r.key_id, r.signature)
            for r in rows]


def _published(origin: str) -> list[Checkpoint]:
    path = published_file(origin)
    if not path.exists():
        return []
    return [Checkpoint.from_dict(json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def published_checkpoints(session: Session, key: RegistryKey | None = None,
                          refresh: bool = True) -> dict[str, Any]:
    """What /api/v1/ledger/checkpoints serves: the ledger's origin, the registry's key id
    and every published checkpoint, oldest first. While served, a read makes a fresh
    checkpoint when the head has moved and the latest is over a minute old."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    if origin is None:
        return {"origin": None, "key_id": key.key_id, "checkpoints": []}
    known = _published(origin) or _stored(session, origin)
    if refresh and _due(session, known):
        make_checkpoint(session, key)
        known = _published(origin) or _stored(session, origin)
    return {"origin": origin, "key_id": key.key_id,
            "checkpoints": [c.as_dict() for c in known]}


def current_checkpoint(session: Session, key: RegistryKey | None = None
                       ) -> dict[str, Any] | None:
    """The checkpoint a document is issued under: the latest published one when it is of
    the present head, else a new one (None while the ledger is empty)."""
    origin = ledger_origin(session)
    if origin is None:
        return None
    known = _published(origin) or _stored(session, origin)
    sequence, digest = ledger_head(session)
    if known and (known[-1].sequence, known[-1].hash) == (sequence, digest):
        return known[-1].as_dict()
    return make_checkpoint(session, key)


def _due(session: Session, known: list[Checkpoint]) -> bool:
    sequence, _digest = ledger_head(session)
    if not known:
        return sequence > 0
    latest = known[-1]
    age = datetime.now(UTC) - datetime.fromisoformat(latest.time)
    return latest.sequence != sequence and age >= CHECKPOINT_INTERVAL


def load_checkpoints(data: bytes) -> list[Checkpoint]:
    """A copy of the published checkpoints: the JSON /api/v1/ledger/checkpoints serves, a
    list of checkpoints, or the published JSON-lines file."""
    text = data.decode("utf-8").strip()
    try:
        parsed: Any = json.loads(text) if text.startswith(("{", "[")) else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        raise BadCheckpoints("检查点文件无法解析", "the checkpoints file cannot be read") from None
    if isinstance(parsed, dict):
        parsed = parsed.get("checkpoints", [parsed] if "signature" in parsed else [])
    return [Checkpoint.from_dict(item) for item in parsed]


def fetch_checkpoints(source: str) -> bytes:
    """A checkpoints copy from a file path or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import httpx

        response = httpx.get(source, timeout=30, follow_redirects=True)
        response.raise_for_status()
        return response.content
    return Path(source).read_bytes()


def check_against(session: Session, checkpoints: list[Checkpoint],
                  key: RegistryKey | None = None) -> list[str]:
    """Problems of this database against published checkpoints: each checkpoint must be
    signed by the registry, name this ledger, and match the entry at its sequence (the
    chain then vouches for everything before it); none may be ahead of the head."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    sequence, _digest = ledger_head(session)
    problems: list[str] = []
    for checkpoint in checkpoints:
        if not verify(checkpoint.signed_part(), checkpoint.signature, key.public):
            problems.append(f"检查点 #{checkpoint.sequence} 签名无效 / checkpoint "
                            f"#{checkpoint.sequence} is not signed by this registry")
            continue
        if checkpoint.origin != origin:
            problems.append(f"检查点属于另一账本 {checkpoint.origin} / the checkpoint is of "
                            f"another ledger ({checkpoint.origin}, this is {origin})")
            continue
        if checkpoint.sequence > sequence:
            problems.append(
                f"账本落后于已公布的检查点：检查点 #{checkpoint.sequence}（{checkpoint.time}）"
                f"而账本只到 #{sequence}，{checkpoint.sequence - sequence} 条已确认的记录不见了"
                f"（从旧副本恢复？）/ the ledger is behind a published checkpoint: "
                f"#{checkpoint.sequence} ({checkpoint.time}) was published, the ledger ends "
                f"at #{sequence}; {checkpoint.sequence - sequence} acknowledged entries are "
                "gone (restored from an older copy?)")
            continue
        found = session.scalar(select(LedgerEntry.hash)
                               .where(LedgerEntry.sequence == checkpoint.sequence))
        if found != checkpoint.hash:
            problems.append(
                f"账本与检查点 #{checkpoint.sequence} 不符：该记录的哈希已变（历史被改写）/ "
                f"the ledger is inconsistent with checkpoint #{checkpoint.sequence}: its "
                "entry's hash differs (history rewritten)")
    return problems


def audit_against_checkpoints(session: Session, extra: bytes | None = None,
                              key: RegistryKey | None = None,
                              chain: bool = True) -> dict[str, Any]:
    """The chain recomputed (unless the caller audits it already), then checked against
    every checkpoint the registry published (the file outside the database, and the
    database's own) and any copy given."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    finding = verify_chain(session) if chain else None
    problems = [f"#{finding.sequence}: {finding.reason}"] if finding else []
    checkpoints = (_published(origin) + _stored(session, origin)) if origin else []
    if extra is not None:
        checkpoints += load_checkpoints(extra)
    problems += check_against(session, checkpoints, key)
    sequence, digest = ledger_head(session)
    latest = max((c.sequence for c in checkpoints), default=None)
    return {"valid": not problems, "origin": origin, "entries": sequence, "head": digest,
            "checkpoints_checked": len(checkpoints), "latest_checkpoint": latest,
            "problems": list(dict.fromkeys(problems))}
