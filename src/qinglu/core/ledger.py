"""The ledger record: every write is one transaction that appends a hash-chained entry.

A write does its work first (locking only the accounts it touches, in id order, so
writes on different accounts run side by side), then locks the single
`ledger_head` row for the short append: that orders the chain. A repeated
idempotency key is caught up front, or by the unique index when two repeats race.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from qinglu.core.errors import IdempotencyConflict, QingluError
from qinglu.core.models import LedgerEntry, LedgerHead
from qinglu.db.engine import begin_write, is_postgresql

GENESIS_HASH = "0" * 64
MAX_ATTEMPTS = 8
# PostgreSQL serialization failure, deadlock, lock timeout; SQLite busy/locked.
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
Moves = list[list[Any]]


@dataclass(frozen=True)
class WriteContext:
    """What a write action gets: the session and a list to append its block moves to."""

    session: Session
    moves: Moves
    # Facts a composed write wants on the record besides its result (e.g. a case
    # step's retirement), so an audit can check the rows against them.
    records: dict[str, Any] = field(default_factory=dict)
    # Called with the entry's sequence once it is known (rows that point at their entry).
    on_sequence: list[Callable[[int], None]] = field(default_factory=list)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    sequence: int,
    recorded_at: str,
    actor: str,
    kind: str,
    idempotency_key: str | None,
    body: str,
    prev_hash: str,
) -> str:
    material = canonical_json(
        [sequence, recorded_at, actor, kind, idempotency_key or "", body, prev_hash]
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def _lock_head(session: Session) -> LedgerHead:
    head = session.scalar(select(LedgerHead).where(LedgerHead.id == 1).with_for_update())
    if head is None:  # a database migrated before the head row existed
        head = LedgerHead(id=1, sequence=0, hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def _replay(session: Session, kind: str, request: dict[str, Any], key: str) -> Any:
    prior = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
    if prior is None:
        return None
    body = json.loads(prior.body)
    if prior.kind != kind or body["request"] != request:
        raise IdempotencyConflict(
            f"幂等键 {key!r} 已用于另一请求",
            f"idempotency key {key!r} was used for another request",
        )
    return body["result"]


def _replay_after_conflict(session: Session, kind: str, request: dict[str, Any],
                           key: str | None) -> dict[str, Any]:
    """A unique-index conflict: a concurrent repeat of the same idempotency key won the
    race, so return its result; any other integrity error is re-raised."""
    session.rollback()
    prior = _replay(session, kind, request, key) if key else None
    session.rollback()
    if prior is None:
        raise
    return dict(prior)


def run_write(
    session: Session,
    *,
    kind: str,
    actor: str,
    request: dict[str, Any],
    action: Callable[[WriteContext], dict[str, Any]],
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Run `action` in one transaction and append its ledger entry; retry on contention.

    A repeat with the same idempotency key returns the first result and moves nothing.
    """
    request = json.loads(canonical_json(request))
    return _with_retries(
        session,
        once=lambda: _write_once(session, kind, actor, request, action, idempotency_key),
        replay=lambda: _replay_after_conflict(session, kind, request, idempotency_key))


def run_server_write(
    session: Session,
    *,
    kind: str,
    request: dict[str, Any],
    statement: str,
    params: dict[str, Any],
    translate: Callable[[str, str], QingluError | None],
    idempotency_key: str | None = None,
    present: Callable[[dict[str, Any]], dict[str, Any]] = dict,
) -> dict[str, Any]:
    """A write done by one server-side function that appends its own ledger entry.

    `statement` returns the result as JSON text. One statement in autocommit mode is
    one transaction on the server: the call needs no BEGIN or COMMIT round trips."""

    def call(connection: Connection, common: dict[str, Any]) -> dict[str, Any]:
        return dict(json.loads(connection.execute(text(statement),
                                                  {**params, **common}).scalar_one()))

    return run_server_calls(session, kind=kind, request=request, call=call, translate=translate,
                            idempotency_key=idempotency_key, present=present, autocommit=True)


def run_server_calls(
    session: Session,
    *,
    kind: str,
    request: dict[str, Any],
    call: Callable[[Connection, dict[str, Any]], dict[str, Any]],
    translate: Callable[[str, str], QingluError | None],
    idempotency_key: str | None = None,
    present: Callable[[dict[str, Any]], dict[str, Any]] = dict,
    autocommit: bool = False,
) -> dict[str, Any]:
    """A write made of server-side function calls, the last of which appends the entry.

    `call(connection, common)` runs them, `common` holding the canonical request and the
    idempotency key; without `autocommit` they share one transaction, committed here.
    The functions raise SQLSTATEs of class QL for refusals; `translate(sqlstate, detail)`
    turns them into domain errors. `present` shapes the function's result, and a repeat's
    recorded one, for the caller. Contention is retried as in `run_write`.
    """
    request = json.loads(canonical_json(request))
    common = {"request": canonical_json(request), "key": idempotency_key}
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}

    def once() -> dict[str, Any]:
        if session.in_transaction():
            session.commit()
        if idempotency_key:
            prior = _replay(session, kind, request, idempotency_key)
            session.commit()
            if prior is not None:
                return present(prior)
        result = call(session.connection(execution_options=options), common)
        session.commit()
        # The functions changed rows this session may hold: read them afresh.
        session.expire_all()
        return present(result)

    def refusal(exc: DBAPIError) -> QingluError | None:
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        if not sqlstate.startswith("QL"):
            return None
        diag = getattr(exc.orig, "diag", None)
        return translate(sqlstate, str(getattr(diag, "message_detail", "") or ""))

    return _with_retries(
        session, once=once,
        replay=lambda: present(_replay_after_conflict(session, kind, request, idempotency_key)),
        refusal=refusal)


def _with_retries(
    session: Session,
    *,
    once: Callable[[], dict[str, Any]],
    replay: Callable[[], dict[str, Any]],
    refusal: Callable[[DBAPIError], QingluError | None] = lambda exc: None,
) -> dict[str, Any]:
    """What every write keeps, on both paths: a refusal rolls back and is raised; a
    clash on the idempotency key is a concurrent repeat, answered by its first result;
    contention (serialisation failure, deadlock) is retried with backoff."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return once()
        except QingluError:
            session.rollback()
            raise
        except IntegrityError:
            return replay()
        except DBAPIError as exc:
            session.rollback()
            refused = refusal(exc)
            if refused is not None:
                raise refused from None
            if not _is_retryable(exc) or attempt == MAX_ATTEMPTS - 1:
                raise
            time.sleep(0.005 * (2**attempt))
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _write_once(
    session: Session,
    kind: str,
    actor: str,
    request: dict[str, Any],
    action: Callable[[WriteContext], dict[str, Any]],
    key: str | None,
) -> dict[str, Any]:
    begin_write(session)
    if key:
        prior = _replay(session, kind, request, key)
        if prior is not None:
            session.rollback()
            return dict(prior)
    ctx = WriteContext(session, [])
    result = action(ctx)
    _settle_before_head(session)
    head = _lock_head(session)
    sequence = head.sequence + 1
    result.setdefault("id", sequence)  # a transfer's id is its ledger entry
    result["entry"] = sequence
    for callback in ctx.on_sequence:
        callback(sequence)
    recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
    body = canonical_json(
        {"request": request, "moves": ctx.moves, "result": result, "records": ctx.records}
    )
    digest = entry_hash(sequence, recorded_at, actor, kind, key, body, head.hash)
    session.add(
        LedgerEntry(
            sequence=sequence,
            recorded_at=recorded_at,
            actor=actor,
            kind=kind,
            idempotency_key=key,
            body=body,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    head.sequence = sequence
    head.hash = digest
    session.commit()
    return result


def _settle_before_head(session: Session) -> None:
    """Write the action's rows and check deferred constraints before taking the head.

    Every write queues on the ledger-head lock, so it is held only for the append:
    flushing (and, on PostgreSQL, checking the deferred no-overlap constraint) first
    means a refused or slow write never makes the others wait."""
    session.flush()
    if is_postgresql(session):
        session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))


@dataclass(frozen=True)
class AuditFinding:
    sequence: int
    reason: str


def iter_entries(session: Session, batch: int = 2000, after: int = 0) -> Iterator[LedgerEntry]:
    last = after
    while True:
        rows = session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.sequence > last)
            .order_by(LedgerEntry.sequence)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].sequence


def verify_chain(session: Session, after: tuple[int, str] = (0, GENESIS_HASH)
                 ) -> AuditFinding | None:
    """Recompute every hash after entry `after[0]` (whose hash is `after[1]`: an audit
    goes on from a head it verified); return the first entry that does not match."""
    expected_sequence, prev = after[0] + 1, after[1]
    for entry in iter_entries(session, after=after[0]):
        if entry.sequence != expected_sequence:
            return AuditFinding(expected_sequence, "entry missing from the chain / 记录缺失")
        if entry.prev_hash != prev:
            return AuditFinding(entry.sequence, "prev_hash does not link / 前序哈希不衔接")
        digest = entry_hash(
            entry.sequence,
            entry.recorded_at,
            entry.actor,
            entry.kind,
            entry.idempotency_key,
            entry.body,
            entry.prev_hash,
        )
        if digest != entry.hash:
            return AuditFinding(entry.sequence, "content does not match its hash / 内容与哈希不符")
        prev = entry.hash
        expected_sequence += 1
    head = session.get(LedgerHead, 1)
    if head is not None and (head.sequence != expected_sequence - 1 or head.hash != prev):
        return AuditFinding(head.sequence, "ledger head does not match the last entry / 账本头不符")
    return None


def ledger_head(session: Session) -> tuple[int, str]:
    head = session.get(LedgerHead, 1)
    return (head.sequence, head.hash) if head else (0, GENESIS_HASH)
