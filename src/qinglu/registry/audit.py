"""Audit of the registry's state: the hash chain, the block invariants, and a replay of
every recorded movement against the unit blocks as they stand in the database.

A full audit checks everything. Each audit that passes stores the head it verified (its
sequence, chain hash and the log tree's root there); the next incremental audit checks
that this head and the tree up to it are unchanged, then only what came after: the chain
of the new entries, the tree grown over them, the tiling, conservation and states of the
issuances they touched, and the retirements they recorded. The replay of every movement
from the first entry stays in the full audit (`qinglu audit verify --full`)."""

from __future__ import annotations

import bisect
import itertools
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, func, or_, select, tuple_
from sqlalchemy.orm import Session

from qinglu.core.ledger import AuditFinding, iter_entries, ledger_head, verify_chain
from qinglu.core.models import LedgerEntry
from qinglu.registry import stats
from qinglu.registry.checkpoints import (
    CONTENT_COLUMNS,
    AuditHead,
    check_tree,
    content_leaf,
    log_root,
)
from qinglu.registry.models import Account, Hold, Issuance, Retirement, UnitBlock

TERMINAL_STATES = ("retired", "cancelled")


@dataclass
class AuditReport:
    problems: list[str] = field(default_factory=list)
    first_bad_entry: int | None = None
    # Incremental: the verified head it went on from, and how many entries it checked.
    since: int | None = None
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


# Blocks a statement of the replay reads at a time: the full audit walks every block of
# the registry (tens of millions on a province's) a page at a time along an index,
# holding neither the whole result nor a mapped object per row.
PAGE = 10_000
# The incremental audit's issuances, this many to a statement.
IDS_A_STATEMENT = 500


def _pages(session: Session, query: Any, keys: tuple[Any, ...],
           batch: int = PAGE) -> Iterator[Row[Any]]:
    """The rows of `query`, whose first columns are `keys` (an index's columns), in the
    order of `keys`, read `batch` at a time."""
    after: tuple[Any, ...] | None = None
    while True:
        page = query if after is None else query.where(
            keys[0] > after[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*after))
        rows = session.execute(page.order_by(*keys).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        after = tuple(rows[-1][:len(keys)])


def _blocks_by_issuance(session: Session, columns: tuple[Any, ...], batch: int = PAGE
                        ) -> Iterator[tuple[int, list[Row[Any]]]]:
    """Each issuance's blocks (`columns` of them, after the issuance id and serial start),
    in serial order, issuance by issuance: one statement a page of blocks, not one an
    issuance (millions of statements on a ledger of batch-issued certificates)."""
    query = select(UnitBlock.issuance_id, UnitBlock.serial_start, *columns)
    rows = _pages(session, query, (UnitBlock.issuance_id, UnitBlock.serial_start), batch)
    for issuance_id, blocks in itertools.groupby(rows, key=lambda row: row[0]):
        yield int(issuance_id), list(blocks)


def _only_ids(query: Any, column: Any, ids: Collection[int] | None) -> Any:
    """`query`, or with ids, restricted to those rows whose `column` holds one of the ids
    bound as `ids` (see `_chunked`)."""
    return query if ids is None else query.where(column.in_(bindparam("ids", expanding=True)))


def check_tiling(session: Session, ids: Collection[int] | None = None) -> list[str]:
    """Every issuance's blocks tile its range: no gap, no overlap, nothing outside.

    The database compares each block with the one before it (or the issuance's first
    serial) and the last with the issuance's last serial, and returns only the blocks that
    do not fit: the check reads every block where it stands, none travels."""
    neighbours = select(UnitBlock.issuance_id, UnitBlock.serial_start, UnitBlock.serial_end,
                        _along_issuance(func.lag(UnitBlock.serial_end)).label("previous_end"),
                        _along_issuance(func.lead(UnitBlock.serial_start)).label("next_start"))
    b = _only_ids(neighbours, UnitBlock.issuance_id, ids).subquery()
    expected = case((b.c.previous_end.is_(None), Issuance.serial_start),
                    else_=b.c.previous_end + 1)
    misfits = (select(Issuance.id, Issuance.serial_end.label("last"), b.c.serial_start,
                      b.c.serial_end, expected.label("expected"))
               .join(b, b.c.issuance_id == Issuance.id)
               .where(or_(b.c.serial_start != expected,
                          and_(b.c.next_start.is_(None), b.c.serial_end != Issuance.serial_end)))
               .order_by(b.c.issuance_id, b.c.serial_start))
    empty = _only_ids(select(Issuance.id, Issuance.serial_start, Issuance.serial_end)
                      .where(~select(UnitBlock.id)
                             .where(UnitBlock.issuance_id == Issuance.id).exists()),
                      Issuance.id, ids)
    first_misfit: dict[int, Row[Any]] = {}
    for row in _chunked(session, misfits, ids):
        first_misfit.setdefault(row.id, row)
    problems = {issuance: _tiling_problem(row) for issuance, row in first_misfit.items()}
    for row in _chunked(session, empty, ids):
        problems[row.id] = (f"issuance {row.id}: blocks end at {row.serial_start - 1}, "
                            f"issued up to {row.serial_end}")
    return [problems[issuance] for issuance in sorted(problems)]


def _along_issuance(window_function: Any) -> Any:
    return window_function.over(partition_by=UnitBlock.issuance_id,
                                order_by=UnitBlock.serial_start)


def _chunked(session: Session, query: Any, ids: Collection[int] | None) -> Iterator[Row[Any]]:
    """The rows of `query` (made by `_only_ids`), for all its ids a few hundred at a time."""
    if ids is None:
        yield from session.execute(query)
        return
    wanted = sorted(ids)
    for first in range(0, len(wanted), IDS_A_STATEMENT):
        yield from session.execute(query, {"ids": wanted[first:first + IDS_A_STATEMENT]})


def _tiling_problem(row: Row[Any]) -> str:
    if row.serial_start != row.expected:
        kind = "gap" if row.serial_start > row.expected else "overlap"
        return f"issuance {row.id}: {kind} at serial {min(row.serial_start, row.expected)}"
    return f"issuance {row.id}: blocks end at {row.serial_end}, issued up to {row.last}"


def check_conservation(session: Session, ids: Collection[int] | None = None) -> list[str]:
    """issued = held + escrow + retired + cancelled, per issuance (summed where the blocks
    are; only the issuances that do not add up come back)."""
    counted = func.coalesce(func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1), 0)
    query = _only_ids(select(Issuance.id, Issuance.quantity, counted.label("held"))
                      .outerjoin(UnitBlock, UnitBlock.issuance_id == Issuance.id), Issuance.id,
                      ids).group_by(Issuance.id, Issuance.quantity) \
        .having(counted != Issuance.quantity).order_by(Issuance.id)
    return [f"issuance {row.id}: issued {row.quantity}, blocks hold {row.held}"
            for row in _chunked(session, query, ids)]


def check_totals(session: Session) -> list[str]:
    """The public totals kept as units move (registry.stats) equal the blocks' sums."""
    kept, counted = stats.kept_totals(session), stats.totals_from_blocks(session)
    none = dict.fromkeys(stats.STATES, 0)
    return [f"totals {product} {region}: kept {kept.get((product, region), none)}, "
            f"blocks {counted.get((product, region), none)}"
            for product, region in sorted(set(kept) | set(counted))
            if kept.get((product, region), none) != counted.get((product, region), none)]


def check_states(session: Session, ids: Collection[int] | None = None) -> list[str]:
    """Terminal units sit in the right system accounts; escrow belongs to a pending hold.
    The database picks out the blocks that break a rule; only those come back."""
    kind = Account.kind
    query = _only_ids(select(UnitBlock.id, UnitBlock.state, kind)
             .outerjoin(Account, Account.id == UnitBlock.account_id)
             .outerjoin(Hold, Hold.id == UnitBlock.hold_id)
             .where(or_(
                 and_(UnitBlock.state == "retired",
                      or_(kind.is_distinct_from("retirement"), UnitBlock.retirement_id.is_(None))),
                 and_(UnitBlock.state == "cancelled",
                      or_(kind.is_distinct_from("cancellation"),
                          UnitBlock.cancellation_id.is_(None))),
                 and_(UnitBlock.state == "escrow", Hold.status.is_distinct_from("pending")),
                 and_(UnitBlock.state == "held", kind.in_(("retirement", "cancellation"))))),
                      UnitBlock.issuance_id, ids).order_by(UnitBlock.id)
    return [_state_problem(row.id, row.state, row.kind)
            for row in _chunked(session, query, ids)]


def _state_problem(block: int, state: str, kind: str | None) -> str:
    if state == "retired":
        return f"block {block}: retired outside a retirement"
    if state == "cancelled":
        return f"block {block}: cancelled outside a cancellation"
    if state == "escrow":
        return f"block {block}: in escrow without a pending hold"
    return f"block {block}: held in a {kind} account"


class _Segments:
    """Serial ranges of one issuance, each owned by (account, state), kept sorted."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.items: list[list[object]] = []  # [start, end, account, state]

    def _cut(self, at: int) -> None:
        i = bisect.bisect_right(self.starts, at) - 1
        if i >= 0:
            start, end, account, state = self.items[i]
            assert isinstance(end, int)
            if start != at and end >= at:
                self.items[i][1] = at - 1
                self.items.insert(i + 1, [at, end, account, state])
                self.starts.insert(i + 1, at)

    def assign(self, start: int, end: int, account: int, state: str) -> list[tuple[str, str]]:
        """Give [start, end] to (account, state); return the previous (account, state)s."""
        self._cut(start)
        self._cut(end + 1)
        lo = bisect.bisect_left(self.starts, start)
        hi = bisect.bisect_right(self.starts, end)
        previous = [(str(item[2]), str(item[3])) for item in self.items[lo:hi]]
        self.items[lo:hi] = [[start, end, account, state]]
        self.starts[lo:hi] = [start]
        return previous

    def normalised(self) -> list[tuple[int, int, object, object]]:
        merged: list[list[object]] = []
        for item in self.items:
            if merged and merged[-1][2:] == item[2:] and merged[-1][1] == int(str(item[0])) - 1:
                merged[-1][1] = item[1]
            else:
                merged.append(list(item))
        return [(int(str(a)), int(str(b)), c, d) for a, b, c, d in merged]


def replay_moves(session: Session, batch: int = PAGE) -> tuple[list[str], int | None]:
    """Rebuild block ownership from the ledger's moves and compare with the tables.

    Also checks that no recorded move took units out of a terminal state.
    """
    problems: list[str] = []
    first_bad: int | None = None
    segments: dict[int, _Segments] = {}
    for entry in iter_entries(session):
        for issuance_id, start, end, _src, dst, state in json.loads(entry.body).get("moves", []):
            previous = segments.setdefault(issuance_id, _Segments()).assign(start, end, dst, state)
            if any(prev_state in TERMINAL_STATES for _a, prev_state in previous):
                problems.append(f"entry {entry.sequence}: moved units that were already terminal")
                first_bad = first_bad or entry.sequence
    for issuance_id, blocks in _blocks_by_issuance(
            session, (UnitBlock.serial_end, UnitBlock.account_id, UnitBlock.state),
            batch=batch):
        recorded = segments.pop(issuance_id, None)
        if recorded is not None and _segments_of(blocks) != recorded.normalised():
            problems.append(_blocks_differ(issuance_id))
    # Moves recorded for an issuance that has no block left.
    problems += [_blocks_differ(issuance_id) for issuance_id, recorded in segments.items()
                 if recorded.normalised()]
    return problems, first_bad


def _blocks_differ(issuance_id: int) -> str:
    return (f"issuance {issuance_id}: unit blocks differ from the ledger's record "
            "/ 单位区块与账本记录不符")


def _segments_of(blocks: list[Row[Any]]) -> list[tuple[int, int, object, object]]:
    actual = _Segments()
    for block in blocks:
        actual.items.append([block.serial_start, block.serial_end, block.account_id,
                             block.state])
        actual.starts.append(block.serial_start)
    return actual.normalised()


def _recorded_retirement(body: dict[str, Any], into: dict[int, dict[str, object]]) -> None:
    facts = body.get("records", {}).get("retirement")
    if facts:
        into[int(facts["id"])] = facts


def check_retirements(session: Session,
                      recorded: dict[int, dict[str, object]] | None = None) -> list[str]:
    """Each retirement row still says what its ledger entry recorded: every row against
    the whole ledger, or (incremental) the rows of the retirements `recorded` holds."""
    only: Collection[int] | None = None if recorded is None else set(recorded)
    if recorded is None:
        recorded = {}
        for entry in iter_entries(session):
            _recorded_retirement(json.loads(entry.body), recorded)
    problems: list[str] = []
    for (row,) in _chunked(session, _only_ids(select(Retirement), Retirement.id, only), only):
        facts = recorded.get(row.id)
        if facts is None:
            problems.append(f"retirement {row.id}: no ledger entry records it")
            continue
        for name in ("quantity", "beneficiary", "purpose", "serials", "product"):
            if getattr(row, name) != facts.get(name):
                problems.append(f"retirement {row.id}: {name} differs from the ledger "
                                f"/ 注销记录的 {name} 与账本不符")
    return problems


def audit(session: Session, full: bool = True) -> AuditReport:
    """The full audit, or (full=False) what came after the last verified head; a passing
    audit stores the head it verified."""
    head = None if full else latest_verified(session)
    report = _audit_full(session) if head is None else _audit_since(session, head)
    if report.ok:
        _record_verified(session, full=head is None)
    return report


def _audit_full(session: Session) -> AuditReport:
    report = AuditReport()
    report.checked = ledger_head(session)[0]
    finding = verify_chain(session)
    if finding is not None:
        report.problems.append(f"entry {finding.sequence}: {finding.reason}")
        report.first_bad_entry = finding.sequence
    replay_problems, first_bad = replay_moves(session)
    report.first_bad_entry = report.first_bad_entry or first_bad
    report.problems += replay_problems
    report.problems += check_tiling(session)
    report.problems += check_conservation(session)
    report.problems += check_states(session)
    report.problems += check_retirements(session)
    report.problems += check_totals(session)
    report.problems += check_tree(session)
    return report


def _audit_since(session: Session, head: AuditHead) -> AuditReport:
    report = AuditReport(since=head.sequence)
    report.checked = ledger_head(session)[0] - head.sequence
    if session.scalar(select(LedgerEntry.hash).where(LedgerEntry.sequence == head.sequence)
                      ) != head.chain_hash:
        report.problems.append(
            f"entry {head.sequence}: 已核验的账本头被改动（{head.verified_at} 核验）/ the head "
            f"verified at {head.verified_at} has changed: run `audit verify --full`")
        report.first_bad_entry = head.sequence
        return report
    scan = _scan_after(session, head.sequence, head.chain_hash)
    if scan.finding is not None:
        report.problems.append(f"entry {scan.finding.sequence}: {scan.finding.reason}")
        report.first_bad_entry = scan.finding.sequence
        return report
    if log_root(session, head.sequence).hex() != head.root_hash:
        report.problems.append(f"日志树至 #{head.sequence} 已被改动 / the log tree up to the "
                               f"verified head #{head.sequence} has changed")
    report.problems += check_tree(session, after=head.sequence)
    touched, recorded = scan.touched, scan.recorded
    report.problems += check_tiling(session, touched)
    report.problems += check_conservation(session, touched)
    report.problems += check_states(session, touched)
    report.problems += check_retirements(session, recorded)
    return report


@dataclass
class _Scan:
    finding: AuditFinding | None = None
    touched: set[int] = field(default_factory=set)
    recorded: dict[int, dict[str, object]] = field(default_factory=dict)


def _scan_after(session: Session, after: int, prev: str, batch: int = 2000) -> _Scan:
    """One pass over the entries after a verified head, as plain rows: the chain (each
    hash recomputed from the content, each linked to the one before, none missing, the
    head row at the last), the issuances their moves touched, the retirements recorded."""
    scan, expected = _Scan(), after + 1
    while True:
        rows = session.execute(select(*CONTENT_COLUMNS, LedgerEntry.hash)
                               .where(LedgerEntry.sequence >= expected)
                               .order_by(LedgerEntry.sequence).limit(batch)).all()
        for row in rows:
            reason = ("entry missing from the chain / 记录缺失" if row.sequence != expected
                      else "prev_hash does not link / 前序哈希不衔接" if row.prev_hash != prev
                      else "content does not match its hash / 内容与哈希不符"
                      if content_leaf(row).hex() != row.hash else None)
            if reason:
                scan.finding = AuditFinding(expected, reason)
                return scan
            body = json.loads(row.body)
            scan.touched.update(int(move[0]) for move in body.get("moves", []))
            _recorded_retirement(body, scan.recorded)
            prev, expected = row.hash, expected + 1
        if len(rows) < batch:
            break
    if ledger_head(session) != (expected - 1, prev):
        scan.finding = AuditFinding(ledger_head(session)[0], "ledger head does not match "
                                    "the last entry / 账本头不符")
    return scan


def latest_verified(session: Session) -> AuditHead | None:
    return session.scalar(select(AuditHead).order_by(AuditHead.id.desc()).limit(1))


def _record_verified(session: Session, *, full: bool) -> None:
    sequence, chain_hash = ledger_head(session)
    if sequence == 0:
        return
    root = log_root(session, sequence).hex()
    session.add(AuditHead(sequence=sequence, chain_hash=chain_hash, root_hash=root,
                          verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          full=full))
    session.commit()
