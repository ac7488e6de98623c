"""The public log's tree against an independent RFC 6962 checker written here (it does
not import qinglu.registry.merkle): inclusion proofs for 1,000 random entries and
consistency proofs between random sizes, from the tree the store grows lazily out of the
ledger entries, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from qinglu.core.ledger import GENESIS_HASH, entry_hash
from qinglu.core.models import LedgerEntry, LedgerHead
from qinglu.registry import checkpoints as log


# -- the independent checker (RFC 6962 §2.1, as a verifier would write it) ---------------
def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf *data*, straight from RFC 6962 §2.1."""
    if len(leaves) == 1:
        return sha(b"\x00" + leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return sha(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def root_from_path(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """Climb from a leaf hash by its audit path (RFC 6962 §2.1.1 read backwards)."""
    if size == 1:
        assert not path
        return leaf
    k = 1 << ((size - 1).bit_length() - 1)
    *inner, sibling = path
    if index < k:
        return sha(b"\x01" + root_from_path(index, k, leaf, inner) + sibling)
    return sha(b"\x01" + sibling + root_from_path(index - k, size - k, leaf, inner))


def roots_from_consistency(m: int, n: int, proof: list[bytes], old: bytes,
                           whole: bool = True) -> tuple[bytes, bytes]:
    """(old root, new root) rebuilt from PROOF(m, D[n]) (RFC 6962 §2.1.2 backwards)."""
    if m == n:
        return (old, old) if whole else (proof[0], proof[0])
    k = 1 << ((n - 1).bit_length() - 1)
    *inner, last = proof
    if m <= k:
        a, b = roots_from_consistency(m, k, inner, old, whole)
        return a, sha(b"\x01" + b + last)
    a, b = roots_from_consistency(m - k, n - k, inner, old, False)
    return sha(b"\x01" + last + a), sha(b"\x01" + last + b)
# -------------------------------------------------------------------------------------------


def bulk_entries(session: Session, count: int) -> list[bytes]:
    """`count` chained entries written in bulk (the tree is what is under test); returns
    each entry's leaf data as a verifier would rebuild it from the entry's fields."""
    rows, leaves, prev = [], [], GENESIS_HASH
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    for sequence in range(1, count + 1):
        body = json.dumps({"n": sequence}, separators=(",", ":"))
        digest = entry_hash(sequence, now, "bulk", "test", None, body, prev)
        rows.append({"sequence": sequence, "recorded_at": now, "actor": "bulk", "kind": "test",
                     "idempotency_key": None, "body": body, "prev_hash": prev, "hash": digest})
        text = json.dumps([sequence, now, "bulk", "test", "", body, prev],
                          separators=(",", ":"), ensure_ascii=False)
        leaves.append(sha(text.encode()))  # leaf data: SHA-256 of the entry's text
        prev = digest
    session.execute(insert(LedgerEntry), rows)
    if session.get(LedgerHead, 1) is None:
        session.add(LedgerHead(id=1, sequence=count, hash=prev))
    else:
        session.execute(update(LedgerHead).values(sequence=count, hash=prev))
    session.commit()
    return leaves


def unb64(values: list[str]) -> list[bytes]:
    return [base64.b64decode(v) for v in values]


def test_inclusion_and_consistency_proofs_check_independently(session: Session) -> None:
    n = 1500
    leaves = bulk_entries(session, n)
    rng = random.Random(13)
    # The tree grows lazily, in two steps here, as checkpoints would grow it.
    assert log.extend_tree(session, 777) == 777
    roots = {size: mth(leaves[:size]) for size in {1, 2, 3, 777, 1024, 1025, n}}
    for size, expected in roots.items():
        assert log.log_root(session, size) == expected, size
    for _ in range(1000):
        size = rng.randint(1, n)
        entry = rng.randint(1, size)
        proof = log.inclusion_proof(session, entry, size)
        leaf = sha(b"\x00" + leaves[entry - 1])
        assert base64.b64decode(proof["leaf_hash"]) == leaf
        assert root_from_path(entry - 1, size, leaf, unb64(proof["audit_path"])) == \
            base64.b64decode(proof["root_hash"])
        assert len(proof["audit_path"]) <= size.bit_length()
    # roots checked on a sample: the recursive MTH is slow in pure Python
    for size in rng.sample(range(1, n + 1), 20):
        assert base64.b64decode(log.inclusion_proof(session, 1, size)["root_hash"]) == \
            mth(leaves[:size])
    for _ in range(300):
        second = rng.randint(1, n)
        first = rng.randint(1, second)
        proof = log.consistency_proof(session, first, second)
        old, new = (base64.b64decode(proof["first_root"]),
                    base64.b64decode(proof["second_root"]))
        assert roots_from_consistency(first, second, unb64(proof["consistency"]), old) == \
            (old, new), (first, second)


def test_a_wrong_proof_fails_the_independent_checker(session: Session) -> None:
    leaves = bulk_entries(session, 100)
    proof = log.inclusion_proof(session, 37, 90)
    path = unb64(proof["audit_path"])
    path[2] = sha(b"not a node")
    assert root_from_path(36, 90, sha(b"\x00" + leaves[36]), path) != mth(leaves[:90])
    assert root_from_path(36, 90, sha(b"\x00" + leaves[35]), unb64(proof["audit_path"])) != \
        mth(leaves[:90])


def test_the_rfc9162_verifiers_agree_with_the_independent_checker() -> None:
    """merkle.verify_inclusion / verify_consistency (what certificate verify uses) accept
    what the independent checker accepts and refuse a proof with one hash changed."""
    from qinglu.registry import merkle

    leaves = [sha(bytes([i % 256, i // 256])) for i in range(300)]
    hashes = [sha(b"\x00" + leaf) for leaf in leaves]

    def source(level: int, index: int) -> bytes:
        return mth(leaves[index << level:(index + 1) << level])

    rng = random.Random(62)
    for _ in range(200):
        size = rng.randint(1, 300)
        index = rng.randrange(size)
        path = merkle.inclusion_path(source, index, size)
        root = mth(leaves[:size])
        assert root_from_path(index, size, hashes[index], path) == root
        assert merkle.verify_inclusion(hashes[index], index, size, path, root)
        if path:
            bent = [*path[:-1], sha(path[-1])]
            assert not merkle.verify_inclusion(hashes[index], index, size, bent, root)
        first = rng.randint(1, size)
        proof = merkle.consistency_proof(source, first, size)
        old = mth(leaves[:first])
        assert roots_from_consistency(first, size, proof, old) == (old, root)
        assert merkle.verify_consistency(first, size, old, root, proof)
        if proof:
            assert not merkle.verify_consistency(first, size, old, root,
                                                 [sha(proof[0]), *proof[1:]])
