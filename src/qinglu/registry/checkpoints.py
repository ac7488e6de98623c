"""The public log of the ledger: an RFC 6962 Merkle tree over its entries, and signed
checkpoints of it in the C2SP tlog-checkpoint signed-note format.

Leaves are the ledger entries in sequence order (entry N is leaf N - 1). An entry's
canonical text is the UTF-8 canonical JSON (sorted keys, no spaces) of
[sequence, recorded_at, actor, kind, idempotency_key or "", body, prev_hash]; its SHA-256
is the entry's chain hash, and those 32 bytes are its leaf data: the Merkle leaf hash is
SHA-256(0x00 || SHA-256(text)). The tree is kept as the hashes of its complete subtrees of
2**STORED_LEVEL leaves or more (`log_nodes`, about one row per eight entries), grown lazily
from the entries table's chain hashes (at a checkpoint, when a proof asks for a size not
yet covered): the write path of a transfer is untouched. Smaller subtrees are recomputed
from at most eight chain hashes. A root, inclusion path or consistency proof then takes a
handful of queries and O(log n) hashes (merkle.py does the maths); an audit recomputes the
leaves from the entries' content, not their stored hashes.

A checkpoint is a signed note (https://c2sp.org/signed-note, /tlog-checkpoint):

    <origin>\n<tree size>\n<base64 root hash>\nchain <hex chain hash of entry <size>>\n
    time <ISO 8601 UTC>\n\n— <origin> <base64(4-byte key id || Ed25519 signature)>\n

signed over the note's text (every line up to and including the "time" line's newline).
The key id is the first 4 bytes of SHA-256(<origin> || 0x0A || 0x01 || the 32-byte
Ed25519 public key). The chain line keeps the hash chain's guarantee beside the tree's.
Checkpoints are kept in the database (the latest is what renders read) *and* appended to
a published file outside it (var/checkpoints/<origin>.jsonl, QINGLU_CHECKPOINT_DIR to move
it). A database restored from an older copy cannot take back what was published: it is
shorter than a checkpoint, or its tree at a checkpoint's size has another root. Checkpoints
made before the tree existed (JSON signed over origin, sequence, hash, time) still verify.

The origin names the registry's ledger: `qinglu-ledger-` + the first 16 hex digits of
entry 1's hash, so an older copy of the same ledger has the same origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    Row,
    SmallInteger,
    String,
    Text,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from qinglu.core.errors import InvalidInput, NotFound
from qinglu.core.ledger import canonical_json, ledger_head, verify_chain
from qinglu.core.models import LedgerEntry
from qinglu.db.base import Base
from qinglu.db.engine import begin_write, var_dir
from qinglu.documents.signing import RegistryKey, load_or_create_key, verify
from qinglu.registry import merkle

# While served, a read of the checkpoints makes a new one when the head has moved and the
# latest is older than this: checkpoints follow the ledger about once a minute.
CHECKPOINT_INTERVAL = timedelta(minutes=1)
# Entries read per round when the tree grows (bounded memory, few round trips).
EXTEND_BATCH = 5000
# The most entries one /api/v1/log/entries page returns.
MAX_ENTRIES_PAGE = 1000
NOTE_DASH = "\u2014"  # the em dash that opens a signed note's signature line


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(120))
    root_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # hex
    note: Mapped[str | None] = mapped_column(Text, nullable=True)  # the signed note


class LogNode(Base):
    """The hash of a complete subtree of 2**level leaves: leaves [idx << level, ...)."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogTree(Base):
    """One row: how many leaves (entries) `log_nodes` covers. Extenders lock it."""

    __tablename__ = "log_tree"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)


class AuditHead(Base):
    """A head an audit verified: the next incremental audit checks only what follows."""

    __tablename__ = "audit_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    chain_hash: Mapped[str] = mapped_column(String(64))
    root_hash: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[str] = mapped_column(String(40))
    full: Mapped[bool] = mapped_column(Boolean)


class BadCheckpoints(InvalidInput):
    code = "bad-checkpoints"


class BadProofRequest(InvalidInput):
    code = "bad-proof-request"


class LogEmpty(NotFound):
    code = "log-empty"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadCheckpoints("base64 无法解析", "not base64") from None


# -- leaves and the stored tree ----------------------------------------------------------

CONTENT_COLUMNS = (LedgerEntry.sequence, LedgerEntry.recorded_at, LedgerEntry.actor,
                   LedgerEntry.kind, LedgerEntry.idempotency_key, LedgerEntry.body,
                   LedgerEntry.prev_hash)
# Nodes below this level are not stored: one of them is recomputed from at most
# 2**(STORED_LEVEL - 1) leaves, and the table holds one row per 2**(STORED_LEVEL - 1)
# entries instead of one per entry.
STORED_LEVEL = 4


def entry_text(row: Any) -> str:
    """An entry's canonical text: the UTF-8 bytes its chain hash is the SHA-256 of."""
    return canonical_json([row.sequence, row.recorded_at, row.actor, row.kind,
                           row.idempotency_key or "", row.body, row.prev_hash])


def content_leaf(row: Any) -> bytes:
    """An entry's leaf data recomputed from its content: SHA-256 of its canonical text."""
    return hashlib.sha256(entry_text(row).encode("utf-8")).digest()


def _content_rows(session: Session, first: int, last: int) -> Sequence[Row[Any]]:
    return session.execute(select(*CONTENT_COLUMNS)  # type: ignore[return-value]
                           .where(LedgerEntry.sequence.between(first, last))
                           .order_by(LedgerEntry.sequence)).all()


def _hash_rows(session: Session, first: int, last: int) -> Sequence[Row[Any]]:
    return session.execute(select(LedgerEntry.sequence, LedgerEntry.hash)  # type: ignore[return-value]
                           .where(LedgerEntry.sequence.between(first, last))
                           .order_by(LedgerEntry.sequence)).all()


def _missing(rows: Sequence[Row[Any]], first: int, last: int) -> int | None:
    """The first sequence in [first, last] with no entry, if any."""
    for expected, row in enumerate(rows, start=first):
        if row.sequence != expected:
            return expected
    return None if len(rows) == last - first + 1 else first + len(rows)


def _gap(sequence: int) -> BadCheckpoints:
    return BadCheckpoints(f"账本缺少记录 #{sequence}", f"ledger entry #{sequence} is missing")


def _leaves(session: Session, first: int, last: int, content: bool) -> list[bytes]:
    """Merkle leaf hashes of entries first..last: from the stored chain hashes (the tree's
    own upkeep), or recomputed from the entries' content (an audit)."""
    rows = (_content_rows if content else _hash_rows)(session, first, last)
    gap = _missing(rows, first, last)
    if gap is not None:
        raise _gap(gap)
    data = [content_leaf(r) for r in rows] if content else [bytes.fromhex(r.hash)
                                                            for r in rows]
    return [merkle.leaf_hash(d) for d in data]


def iter_leaf_hashes(session: Session, upto: int) -> Iterator[bytes]:
    """The leaf hashes of entries 1..upto recomputed from their content; a gap raises."""
    done = 0
    while done < upto:
        last = min(done + EXTEND_BATCH, upto)
        yield from _leaves(session, done + 1, last, content=True)
        done = last


class StoredTree:
    """A merkle.NodeSource over `log_nodes` (a low node from its entries' chain hashes),
    cached per use; `plan` reads every node a computation needs in two queries."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, index: int) -> bytes:
        found = self.cache.get((level, index))
        if found is None:
            self._load({(level, index)})
            found = self.cache[(level, index)]
        return found

    def plan(self, compute: Callable[[merkle.NodeSource], Any]) -> None:
        """Run `compute` on stand-in hashes to learn the nodes it reads, then load them."""
        wanted: set[tuple[int, int]] = set()

        def record(level: int, index: int) -> bytes:
            wanted.add((level, index))
            return bytes(32)

        compute(record)
        self._load(wanted - set(self.cache))

    def _load(self, wanted: set[tuple[int, int]]) -> None:
        stored = [(lv, ix) for lv, ix in wanted if lv >= STORED_LEVEL]
        low = [(lv, ix) for lv, ix in wanted if lv < STORED_LEVEL]
        if stored:
            for level, index, digest in self.session.execute(
                    select(LogNode.level, LogNode.idx, LogNode.hash)
                    .where(tuple_(LogNode.level, LogNode.idx).in_(stored))):
                self.cache[(level, index)] = bytes(digest)
        if low:
            sequences = sorted({i + 1 for lv, ix in low
                                for i in range(ix << lv, (ix + 1) << lv)})
            hashes = dict(self.session.execute(
                select(LedgerEntry.sequence, LedgerEntry.hash)
                .where(LedgerEntry.sequence.in_(sequences))).all())
            for level, index in low:
                span = range((index << level) + 1, ((index + 1) << level) + 1)
                if any(s not in hashes for s in span):
                    raise _gap(next(s for s in span if s not in hashes))
                self.cache[(level, index)] = merkle.root_of_leaves(
                    [merkle.leaf_hash(bytes.fromhex(hashes[s])) for s in span])
        for level, index in wanted:
            if (level, index) not in self.cache:
                raise BadCheckpoints("日志树缺少节点",
                                     f"the log tree lacks node {level}/{index}")


def tree_size(session: Session) -> int:
    """How many entries the stored tree covers."""
    return int(session.scalar(select(LogTree.size).where(LogTree.id == 1)) or 0)


def extend_tree(session: Session, upto: int | None = None) -> int:
    """Grow the stored tree to `upto` leaves (the ledger head when None) from the entries'
    chain hashes, in batches, under the lock of the `log_tree` row; returns the size
    covered. Only the nodes of level STORED_LEVEL or more that new leaves complete are
    written: about one row per 2**(STORED_LEVEL - 1) entries."""
    target = ledger_head(session)[0] if upto is None else upto
    covered = tree_size(session)
    if covered >= target:
        return covered
    begin_write(session)
    row = session.scalar(select(LogTree).where(LogTree.id == 1).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None:
        row = LogTree(id=1, size=0)
        session.add(row)
        session.flush()
    size, source = row.size, StoredTree(session)
    try:
        while size < target:
            last = min(size + EXTEND_BATCH, target)
            made = merkle.new_nodes(size, _leaves(session, size + 1, last, content=False),
                                    source)
            kept = [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in made
                    if lv >= STORED_LEVEL]
            if kept:
                session.execute(insert(LogNode), kept)
            size = last
        row.size = size
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return size


def _frontier(size: int) -> set[tuple[int, int]]:
    """The complete subtrees [0, size) splits into: all a tree needs to grow further."""
    return {(level, (size >> level) - 1) for level in range(size.bit_length())
            if size >> level & 1}


def check_tree(session: Session, after: int = 0) -> list[str]:
    """The stored nodes that entries after `after` completed, recomputed from the entries'
    content (the older ones needed, the frontier of `after`, are read as stored: an
    incremental audit has checked them against the root it verified)."""
    size = extend_tree(session)
    stored, made = StoredTree(session), dict[tuple[int, int], bytes]()
    stored.plan(lambda source: [source(lv, ix) for lv, ix in _frontier(after)])
    problems: list[str] = []
    position = after
    while position < size:
        last = min(position + EXTEND_BATCH, size)
        try:
            leaves = _leaves(session, position + 1, last, content=True)
        except BadCheckpoints as exc:
            return [*problems, f"{exc.zh} / {exc.en}"]
        nodes = merkle.new_nodes(
            position, leaves,
            lambda level, index: made.get((level, index)) or stored(level, index))
        problems += _differing(session, [n for n in nodes if n[0] >= STORED_LEVEL])
        made.update({(lv, ix): h for lv, ix, h in nodes})
        for key in set(made) - _frontier(last):  # only the frontier is needed further
            del made[key]
        position = last
    return problems[:10]


def _differing(session: Session, nodes: list[tuple[int, int, bytes]]) -> list[str]:
    by_level: dict[int, dict[int, bytes]] = {}
    for level, index, digest in nodes:
        by_level.setdefault(level, {})[index] = digest
    problems = []
    for level, wanted in by_level.items():
        found = dict(session.execute(select(LogNode.idx, LogNode.hash).where(
            LogNode.level == level, LogNode.idx.between(min(wanted), max(wanted)))).all())
        problems += [f"日志树节点 {level}/{index} 与账本记录不符 / the log tree's node "
                     f"{level}/{index} does not match the entries" for index, digest
                     in wanted.items() if bytes(found.get(index) or b"") != digest]
    return problems


def _covered(session: Session, size: int,
             compute: Callable[[merkle.NodeSource], Any]) -> StoredTree:
    """A source holding every node `compute` needs of the tree of `size` (grown to it)."""
    head = ledger_head(session)[0]
    if not 1 <= size <= head:
        raise BadProofRequest(f"日志树没有 {size} 个叶子（账本到 #{head}）",
                              f"the log has no tree of size {size} (the ledger ends at #{head})")
    extend_tree(session, size)
    source = StoredTree(session)
    source.plan(compute)
    return source


def log_root(session: Session, size: int) -> bytes:
    """The Merkle root of the first `size` entries (the stored tree grown when needed)."""
    return merkle.root(_covered(session, size, lambda s: merkle.root(s, size)), size)


def inclusion_proof(session: Session, entry: int, size: int) -> dict[str, Any]:
    """Entry `entry` (leaf entry - 1) is in the tree of `size`: RFC 6962 audit path."""
    if not 1 <= entry <= size:
        raise BadProofRequest(f"记录 #{entry} 不在大小为 {size} 的树中",
                              f"entry #{entry} is not in a tree of size {size}")

    def compute(source: merkle.NodeSource) -> tuple[bytes, list[bytes], bytes]:
        return (source(0, entry - 1), merkle.inclusion_path(source, entry - 1, size),
                merkle.root(source, size))

    leaf, path, root = compute(_covered(session, size, compute))
    return {"entry": entry, "leaf_index": entry - 1, "tree_size": size,
            "leaf_hash": b64(leaf), "root_hash": b64(root),
            "audit_path": [b64(p) for p in path]}


def consistency_proof(session: Session, first: int, second: int) -> dict[str, Any]:
    """The tree of `second` entries extends the tree of `first`: RFC 6962 proof."""
    if not 1 <= first <= second:
        raise BadProofRequest(f"无从 {first} 到 {second} 的一致性证明",
                              f"no consistency proof from {first} to {second}")

    def compute(source: merkle.NodeSource) -> tuple[bytes, bytes, list[bytes]]:
        return (merkle.root(source, first), merkle.root(source, second),
                merkle.consistency_proof(source, first, second))

    old, new, proof = compute(_covered(session, second, compute))
    return {"first": first, "second": second, "first_root": b64(old),
            "second_root": b64(new), "consistency": [b64(p) for p in proof]}


def log_entries(session: Session, start: int, end: int) -> dict[str, Any]:
    """Entries start..end (inclusive, at most MAX_ENTRIES_PAGE): each with its canonical
    text (whose SHA-256 is its chain hash and its leaf data) and that hash."""
    if start < 1 or end < start:
        raise BadProofRequest("范围无效", f"no entries from {start} to {end}")
    end = min(end, start + MAX_ENTRIES_PAGE - 1)
    rows = session.execute(select(*CONTENT_COLUMNS, LedgerEntry.hash)
                           .where(LedgerEntry.sequence.between(start, end))
                           .order_by(LedgerEntry.sequence)).all()
    return {"start": start, "end": end, "entries": [
        {"sequence": r.sequence, "text": entry_text(r), "hash": r.hash} for r in rows]}


# -- signed notes --------------------------------------------------------------------------

def note_key_id(name: str, public_raw: bytes) -> bytes:
    """The signed-note key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public_raw).digest()[:4]


def checkpoint_text(origin: str, size: int, root: bytes, chain: str, time: str) -> str:
    return f"{origin}\n{size}\n{b64(root)}\nchain {chain}\ntime {time}\n"


def sign_note(key: RegistryKey, name: str, text: str) -> str:
    blob = note_key_id(name, key.public_raw()) + key.private.sign(text.encode("utf-8"))
    return f"{text}\n{NOTE_DASH} {name} {b64(blob)}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, str]]]:
    """(the signed text, [(key name, base64 blob)]) of a signed note."""
    text, blank, rest = note.partition("\n\n")
    if not blank or not text:
        raise BadCheckpoints("签名附注格式不对", "a signed note is malformed")
    lines = [line.split(" ") for line in rest.splitlines() if line.strip()]
    if not lines or any(len(p) != 3 or p[0] != NOTE_DASH for p in lines):
        raise BadCheckpoints("签名附注的签名行格式不对",
                             "a signed note's signature lines are malformed")
    return text + "\n", [(p[1], p[2]) for p in lines]


def note_signed_by(note: str, name: str, public: Ed25519PublicKey, public_raw: bytes) -> bool:
    """Some signature line of `name` with this key's id verifies over the note's text."""
    text, signatures = split_note(note)
    wanted = note_key_id(name, public_raw)
    for signer, blob in signatures:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4)) if signer == name else b""
        if len(raw) == 68 and raw[:4] == wanted:
            try:
                public.verify(raw[4:], text.encode("utf-8"))
                return True
            except InvalidSignature:
                continue
    return False


def parse_checkpoint_note(note: str, key_id: str = "") -> Checkpoint:
    """A checkpoint's fields as its note states them (the signature is checked apart)."""
    text, signatures = split_note(note)
    lines = text.rstrip("\n").split("\n")
    extensions = dict(line.split(" ", 1) for line in lines[3:] if " " in line)
    try:
        origin, size, root = lines[0], int(lines[1]), lines[2]
        unb64(root)
    except (IndexError, ValueError):
        raise BadCheckpoints("检查点格式不对", "a checkpoint note is malformed") from None
    return Checkpoint(origin, size, extensions.get("chain", ""), extensions.get("time", ""),
                      key_id, signatures[0][1], root, note)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    sequence: int  # the tree size: entries 1..sequence
    hash: str  # the chain hash of entry `sequence`
    time: str
    key_id: str
    signature: str
    root: str = ""  # base64 Merkle root; "" in a checkpoint made before the tree
    note: str = ""  # the signed note; "" likewise

    def signed_part(self) -> dict[str, Any]:
        return {"origin": self.origin, "sequence": self.sequence, "hash": self.hash,
                "time": self.time}

    def as_dict(self) -> dict[str, Any]:
        return {**self.signed_part(), "tree_size": self.sequence, "root": self.root,
                "key_id": self.key_id, "signature": self.signature, "note": self.note}

    def signed_by(self, key: RegistryKey) -> bool:
        if not self.note:
            return verify(self.signed_part(), self.signature, key.public)
        try:
            stated = parse_checkpoint_note(self.note)
            return (note_signed_by(self.note, self.origin, key.public, key.public_raw())
                    and (stated.origin, stated.sequence, stated.hash, stated.root, stated.time)
                    == (self.origin, self.sequence, self.hash, self.root, self.time))
        except BadCheckpoints:
            return False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            if data.get("note"):  # the fields beside the note must be the note's own
                noted = parse_checkpoint_note(str(data["note"]), str(data.get("key_id", "")))
                return cls(str(data.get("origin", noted.origin)),
                           int(data.get("sequence", noted.sequence)),
                           str(data.get("hash", noted.hash)), str(data.get("time", noted.time)),
                           noted.key_id, noted.signature, str(data.get("root", noted.root)),
                           noted.note)
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
    """Grow the tree to the ledger head, sign a checkpoint of it now, store it and append
    it to the published file."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    if origin is None:
        raise BadCheckpoints("账本为空，无可签检查点", "the ledger is empty: nothing to checkpoint")
    size, chain = ledger_head(session)
    root = log_root(session, size)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    note = sign_note(key, origin, checkpoint_text(origin, size, root, chain, now))
    checkpoint = parse_checkpoint_note(note, key.key_id)
    session.add(LedgerCheckpoint(sequence=size, head_hash=chain, made_at=now,
                                 key_id=key.key_id, signature=checkpoint.signature,
                                 root_hash=root.hex(), note=note))
    session.commit()
    path = published_file(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:  # append-only, one line each
        handle.write(json.dumps(checkpoint.as_dict(), ensure_ascii=False) + "\n")
    return checkpoint.as_dict()


def _from_row(origin: str, row: LedgerCheckpoint) -> Checkpoint:
    if row.note:
        return parse_checkpoint_note(row.note, row.key_id)
    return Checkpoint(origin, row.sequence, row.head_hash, row.made_at, row.key_id,
                      row.signature)


def _stored(session: Session, origin: str) -> list[Checkpoint]:
    rows = session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id)).all()
    return [_from_row(origin, r) for r in rows]


def _latest(session: Session, origin: str) -> Checkpoint | None:
    row = session.scalar(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1))
    return _from_row(origin, row) if row is not None else None


def _published(origin: str) -> list[Checkpoint]:
    """The whole published file: for an audit, never for a page or a document."""
    path = published_file(origin)
    if not path.exists():
        return []
    return [Checkpoint.from_dict(json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def published_checkpoints(session: Session, key: RegistryKey | None = None,
                          refresh: bool = True) -> dict[str, Any]:
    """What /api/v1/ledger/checkpoints serves: the ledger's origin, the registry's key id
    and every checkpoint the database holds, oldest first. While served, a read makes a
    fresh checkpoint when the head has moved and the latest is over a minute old."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    if origin is None:
        return {"origin": None, "key_id": key.key_id, "checkpoints": []}
    if refresh and _due(session, _latest(session, origin)):
        make_checkpoint(session, key)
    return {"origin": origin, "key_id": key.key_id,
            "checkpoints": [c.as_dict() for c in _stored(session, origin)]}


def latest_checkpoint(session: Session, key: RegistryKey | None = None) -> dict[str, Any]:
    """The latest signed-note checkpoint: a fresh one when due (as above) or when the
    latest predates the tree; refused while the ledger is empty."""
    origin = ledger_origin(session)
    if origin is None:
        raise LogEmpty("账本为空，尚无检查点", "the ledger is empty: no checkpoint yet")
    latest = _latest(session, origin)
    if latest is None or not latest.note or _due(session, latest):
        return make_checkpoint(session, key)
    return latest.as_dict()


def current_checkpoint(session: Session, key: RegistryKey | None = None
                       ) -> dict[str, Any] | None:
    """A checkpoint of the present head: the latest when it is of the head, else a new
    one (None while the ledger is empty). What a document's issue makes."""
    origin = ledger_origin(session)
    if origin is None:
        return None
    latest = _latest(session, origin)
    if latest is not None and (latest.sequence, latest.hash) == ledger_head(session):
        return latest.as_dict()
    return make_checkpoint(session, key)


def checkpoint_covering(session: Session, entry: int) -> dict[str, Any] | None:
    """The first checkpoint whose tree holds entry `entry`: the one a document recorded
    there was issued under. A read only (None when no checkpoint covers it yet)."""
    origin = ledger_origin(session)
    row = session.scalar(select(LedgerCheckpoint).where(LedgerCheckpoint.sequence >= entry)
                         .order_by(LedgerCheckpoint.id).limit(1))
    return _from_row(origin or "", row).as_dict() if row is not None else None


def check_inclusion(session: Session, entry: int, checkpoint: dict[str, Any],
                    key: RegistryKey | None = None) -> list[str]:
    """Problems, if any, with entry `entry` being in `checkpoint`'s tree: the checkpoint
    signed by the registry, the entry's leaf (recomputed from the row now) proven by an
    inclusion path against its signed root, and today's tree consistent with it."""
    key = key or load_or_create_key()
    stated = Checkpoint.from_dict(checkpoint)
    if not stated.note or not stated.signed_by(key):
        return ["检查点签名无效 / the checkpoint is not signed by this registry"]
    size = stated.sequence
    try:
        proof = inclusion_proof(session, entry, size)
        head = ledger_head(session)[0]
        later = consistency_proof(session, size, head)
    except InvalidInput as exc:
        return [f"{exc.zh} / {exc.en}"]
    problems = []
    rows = _content_rows(session, entry, entry)
    leaf = merkle.leaf_hash(content_leaf(rows[0])) if rows else b""  # from what it says now
    if not merkle.verify_inclusion(leaf, entry - 1, size,
                                   [unb64(p) for p in proof["audit_path"]], unb64(stated.root)):
        problems.append(f"记录 #{entry} 不在其检查点（{size}）的树中：账本被改动 / entry #{entry}"
                        f" is not in the tree of its checkpoint ({size}): the ledger was altered")
    if not merkle.verify_consistency(size, head, unb64(stated.root),
                                     unb64(later["second_root"]),
                                     [unb64(p) for p in later["consistency"]]):
        problems.append(f"今天的账本树与检查点 {size} 不一致 / today's ledger tree is not "
                        f"consistent with checkpoint {size}")
    return problems


def _due(session: Session, latest: Checkpoint | None) -> bool:
    sequence, _digest = ledger_head(session)
    if latest is None:
        return sequence > 0
    age = datetime.now(UTC) - datetime.fromisoformat(latest.time)
    return latest.sequence != sequence and age >= CHECKPOINT_INTERVAL


def load_checkpoints(data: bytes) -> list[Checkpoint]:
    """A copy of the published checkpoints: a signed note (what `qinglu log checkpoint`
    prints and /api/v1/log/checkpoint serves), the JSON /api/v1/ledger/checkpoints serves,
    a list of checkpoints, or the published JSON-lines file. A file that is none of
    these, or holds no checkpoint, is refused: checking against nothing proves nothing."""
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise BadCheckpoints("检查点文件不是 UTF-8 文本", "the checkpoints file is not UTF-8 text"
                             ) from None
    if f"\n\n{NOTE_DASH} " in text:
        return [parse_checkpoint_note(text + "\n")]
    try:
        parsed: Any = json.loads(text) if text.startswith(("{", "[")) else [
            json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, RecursionError):
        raise BadCheckpoints("检查点文件无法解析", "the checkpoints file cannot be read") from None
    if isinstance(parsed, dict):
        parsed = parsed.get("checkpoints", [parsed] if "signature" in parsed else [])
    if not isinstance(parsed, list) or not all(isinstance(item, dict) for item in parsed):
        raise BadCheckpoints("检查点格式不对", "a checkpoint is malformed")
    if not parsed:
        raise BadCheckpoints("检查点文件中没有检查点", "the checkpoints file holds no checkpoint")
    return [Checkpoint.from_dict(item) for item in parsed]


def fetch_checkpoints(source: str) -> bytes:
    """A checkpoints copy from a file path or an http(s) URL. A URL that cannot be
    reached (nothing listens, no such host, a timeout, a malformed address) or that does
    not answer 2xx is refused in one line naming it and the reason."""
    if "://" in source and not source.startswith(("http://", "https://")):
        raise InvalidInput(f"无法连接 {source}：只支持 http(s) 网址",
                           f"cannot reach {source}: only http(s) URLs are supported")
    if source.startswith(("http://", "https://")):
        import httpx

        try:
            response = httpx.get(source, timeout=30, follow_redirects=True)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            reason = str(exc).strip() or type(exc).__name__
            raise InvalidInput(f"无法连接 {source}：{reason}",
                               f"cannot reach {source}: {reason}") from None
        if not response.is_success:
            status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
            raise InvalidInput(f"无法取得 {source}：{status}",
                               f"cannot fetch {source}: {status}")
        return response.content
    return Path(source).read_bytes()


RootsOf = Callable[[list[int]], dict[int, bytes]]


def stored_roots(session: Session) -> RootsOf:
    """Roots at given sizes from the stored tree (grown to them when needed)."""
    return lambda sizes: {size: log_root(session, size) for size in sizes}


def recomputed_roots(session: Session) -> RootsOf:
    """Roots at given sizes recomputed from the entries themselves, in one pass."""
    def roots(sizes: list[int]) -> dict[int, bytes]:
        return merkle.prefix_roots(iter_leaf_hashes(session, max(sizes, default=0)), sizes)
    return roots


def check_against(session: Session, checkpoints: list[Checkpoint],
                  key: RegistryKey | None = None,
                  roots_of: RootsOf | None = None) -> list[str]:
    """Problems of this database against published checkpoints: each checkpoint must be
    signed by the registry, name this ledger, match the entry at its sequence (the chain
    vouches for everything before it) and, for a signed note, the tree of its size must
    have its root (so must every tree before: consistency); none may be ahead."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    sequence, _digest = ledger_head(session)
    problems: list[str] = []
    with_roots: list[Checkpoint] = []
    for checkpoint in checkpoints:
        problem = _check_one(session, checkpoint, key, origin, sequence)
        if problem:
            problems.append(problem)
            continue
        problems += filter(None, [_chain_differs(session, checkpoint)])
        if checkpoint.root:
            with_roots.append(checkpoint)
    if with_roots:
        try:
            found = (roots_of or stored_roots(session))(sorted({c.sequence for c in with_roots}))
        except InvalidInput as exc:
            return [*problems, f"{exc.zh} / {exc.en}"]
        for checkpoint in with_roots:
            if found.get(checkpoint.sequence) != unb64(checkpoint.root):
                problems.append(
                    f"账本与检查点 #{checkpoint.sequence} 不符：大小 {checkpoint.sequence} "
                    f"的默克尔树根不同（历史被改写）/ the ledger is inconsistent with checkpoint "
                    f"#{checkpoint.sequence}: its Merkle tree of that size has another root "
                    "(history rewritten)")
    return problems


def _check_one(session: Session, checkpoint: Checkpoint, key: RegistryKey,
               origin: str | None, sequence: int) -> str | None:
    if not checkpoint.signed_by(key):
        return (f"检查点 #{checkpoint.sequence} 签名无效 / checkpoint "
                f"#{checkpoint.sequence} is not signed by this registry")
    if checkpoint.origin != origin:
        return (f"检查点属于另一账本 {checkpoint.origin} / the checkpoint is of "
                f"another ledger ({checkpoint.origin}, this is {origin})")
    if checkpoint.sequence > sequence:
        return (f"账本落后于已公布的检查点：检查点 #{checkpoint.sequence}（{checkpoint.time}）"
                f"而账本只到 #{sequence}，{checkpoint.sequence - sequence} 条已确认的记录不见了"
                f"（从旧副本恢复？）/ the ledger is behind a published checkpoint: "
                f"#{checkpoint.sequence} ({checkpoint.time}) was published, the ledger ends "
                f"at #{sequence}; {checkpoint.sequence - sequence} acknowledged entries are "
                "gone (restored from an older copy?)")
    return None


def _chain_differs(session: Session, checkpoint: Checkpoint) -> str | None:
    found = session.scalar(select(LedgerEntry.hash)
                           .where(LedgerEntry.sequence == checkpoint.sequence))
    if checkpoint.hash and found != checkpoint.hash:
        return (f"账本与检查点 #{checkpoint.sequence} 不符：该记录的哈希已变（历史被改写）/ "
                f"the ledger is inconsistent with checkpoint #{checkpoint.sequence}: its "
                "entry's hash differs (history rewritten)")
    return None


def audit_against_checkpoints(session: Session, extra: bytes | None = None,
                              key: RegistryKey | None = None,
                              chain: bool = True) -> dict[str, Any]:
    """The chain recomputed (unless the caller audits it already), then checked against
    every checkpoint the registry published (the file outside the database, and the
    database's own) and any copy given; the trees' roots from the stored tree."""
    key = key or load_or_create_key()
    origin = ledger_origin(session)
    finding = verify_chain(session) if chain else None
    problems = [f"#{finding.sequence}: {finding.reason}"] if finding else []
    checkpoints = (_published(origin) + _stored(session, origin)) if origin else []
    if extra is not None:
        checkpoints += load_checkpoints(extra)
    problems += check_against(session, checkpoints, key)
    return _report(session, origin, checkpoints, problems)


def audit_checkpoint_file(session: Session, data: bytes,
                          key: RegistryKey | None = None) -> dict[str, Any]:
    """The ledger holds the tree of a checkpoint someone kept (`audit verify --checkpoint
    FILE`): every root recomputed from the entries themselves, not the stored tree, so a
    restored older copy (shorter), a deleted entry (a gap) or an edited one (another root)
    all fail."""
    key = key or load_or_create_key()
    checkpoints = load_checkpoints(data)
    problems = check_against(session, checkpoints, key, recomputed_roots(session))
    return _report(session, ledger_origin(session), checkpoints, problems)


def _report(session: Session, origin: str | None, checkpoints: list[Checkpoint],
            problems: list[str]) -> dict[str, Any]:
    sequence, digest = ledger_head(session)
    latest = max((c.sequence for c in checkpoints), default=None)
    return {"valid": not problems, "origin": origin, "entries": sequence, "head": digest,
            "checkpoints_checked": len(checkpoints), "latest_checkpoint": latest,
            "problems": list(dict.fromkeys(problems))}
