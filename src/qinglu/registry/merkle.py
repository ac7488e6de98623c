"""RFC 6962 Merkle tree maths (as Certificate Transparency hashes it), with no storage.

Leaves hash as SHA-256(0x00 || leaf bytes), interior nodes as SHA-256(0x01 || left ||
right); a tree of n > 1 leaves splits at k, the largest power of two below n (RFC 6962
§2.1). Every function here reads hashes through a `NodeSource`: the hash of a *complete*
subtree, 2**level leaves starting at index * 2**level. Every left part of an RFC 6962
split is such a subtree, so a root, an inclusion path or a consistency proof needs
O(log n) of them (the store keeps them, extended as the ledger grows).

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 and needs no source at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

# hash of the complete subtree (level, index): leaves [index << level, (index + 1) << level)
NodeSource = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof asked of sizes or indices the tree does not have."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(source: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) of a range that RFC 6962's recursion produces (start aligned to
    the largest power of two not above end - start): O(log n) complete subtrees."""
    size = end - start
    if size <= 0:
        raise ProofError("an empty range has no root here")
    if size & (size - 1) == 0 and start % size == 0:
        return source(size.bit_length() - 1, start // size)
    k = split(size)
    return node_hash(source((k.bit_length() - 1), start // k), subtree_root(source, start + k, end))


def root(source: NodeSource, size: int) -> bytes:
    """The tree head of the first `size` leaves (size 0: the hash of the empty string)."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    return subtree_root(source, 0, size)


def inclusion_path(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf-side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree_root(source, start + k, end))
            end = start + k
        else:
            path.append(subtree_root(source, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 6962 §2.1.2 (0 < first <= second)."""
    if not 0 < first <= second:
        raise ProofError(f"no consistency proof from {first} to {second}")
    proof: list[bytes] = []
    start, end, whole = 0, second, True
    m = first
    while True:
        if m == end - start:
            if not whole:
                proof.append(subtree_root(source, start, end))
            break
        k = split(end - start)
        if m <= k:
            proof.append(subtree_root(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(source, start, start + k))
            start, m, whole = start + k, m - k, False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, path: Iterable[bytes],
                     root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: `leaf` (a leaf hash) is leaf `index` of the tree `root_hash`."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: the tree of `second` leaves extends the tree of `first`."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def new_nodes(size: int, leaves: list[bytes], source: NodeSource
              ) -> list[tuple[int, int, bytes]]:
    """The complete subtrees (level >= 1) that leaves `size`, `size + 1`, ... complete,
    as (level, index, hash): what a store adds when the tree grows by `leaves` (leaf
    hashes). Left siblings older than the batch are read through `source`."""
    made: dict[tuple[int, int], bytes] = {(0, size + i): h for i, h in enumerate(leaves)}

    def get(level: int, index: int) -> bytes:
        return made.get((level, index)) or source(level, index)

    out: list[tuple[int, int, bytes]] = []
    for position in range(size, size + len(leaves)):
        level, index = 0, position
        while index & 1:  # a right child: its parent is complete now
            parent = node_hash(get(level, index - 1), get(level, index))
            level, index = level + 1, index >> 1
            made[(level, index)] = parent
            out.append((level, index, parent))
    return out


def prefix_roots(leaves: Iterable[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    """MTH(D[0:size]) for each wanted size, in one pass over the leaf hashes (an auditor
    recomputing trees from the entries themselves); sizes past the last leaf are absent."""
    wanted = set(sizes)
    found: dict[int, bytes] = {}
    stack: list[tuple[int, bytes]] = []  # (level, hash) of complete subtrees, left to right
    for count, leaf in enumerate(leaves, start=1):
        level, h = 0, leaf
        while stack and stack[-1][0] == level:
            h = node_hash(stack.pop()[1], h)
            level += 1
        stack.append((level, h))
        if count in wanted:
            folded = stack[-1][1]
            for _level, left in reversed(stack[:-1]):
                folded = node_hash(left, folded)
            found[count] = folded
    return found


def root_of_leaves(leaves: list[bytes]) -> bytes:
    """MTH of a list of leaf hashes held in memory."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    return prefix_roots(leaves, [len(leaves)])[len(leaves)]
