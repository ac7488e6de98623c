"""Block movements in SQLAlchemy Core: the ledger's hot path.

A movement takes blocks from a source in serial order (oldest issuance first).
When only part of the last block is needed, the taken part becomes a new row
and the original row keeps the rest, so the source's row never changes owner.
All taken blocks then get their new owner in one UPDATE, and blocks that end up
adjacent in the same place are merged. Core statements, not ORM objects: this
runs on every transfer, and the ORM's bookkeeping cost more than the SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from qinglu.core.errors import InsufficientUnits, NotTradable
from qinglu.core.quantities import format_quantity, product_spec
from qinglu.core.serials import format_serial
from qinglu.registry.models import Issuance, Project, UnitBlock

blocks_table: Table = UnitBlock.__table__  # type: ignore[assignment]
B = blocks_table.c


@dataclass
class Block:
    id: int
    issuance_id: int
    start: int
    end: int
    # Facts of the issuance, for the block's human serial.
    product: str
    region: str
    project_id: int
    vintage: int

    @property
    def quantity(self) -> int:
        return self.end - self.start + 1

    @property
    def serial(self) -> str:
        return format_serial(self.product, self.region, self.project_id, self.vintage,
                             self.start, self.end)


@dataclass(frozen=True)
class Place:
    """Where units sit: an account, a state, and the record that put them there."""

    account_id: int
    state: str
    hold_id: int | None = None
    retirement_id: int | None = None
    cancellation_id: int | None = None

    def values(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "state": self.state, "hold_id": self.hold_id,
                "retirement_id": self.retirement_id, "cancellation_id": self.cancellation_id}


def take(
    session: Session,
    *,
    account_id: int,
    product: str,
    quantity: int,
    state: str = "held",
    hold_id: int | None = None,
    project_id: int | None = None,
    vintage: int | None = None,
    trade: bool = False,
    current_only: bool = True,
    to_region: str | None = None,
) -> tuple[list[Block], tuple[Block, int] | None]:
    """Lock the source's blocks and choose `quantity` units in serial order.

    Returns the whole blocks taken, and (block, units needed) when the last block
    is taken only in part. Nothing is written yet. Units past their issuance's
    `valid_to` are never taken (unless `current_only` is off: a hold given back), and a
    `trade` (transfer, hold, settlement) takes only tradable units, and with `to_region`
    (the receiving holder's) only units whose scope of trade takes that region in, as
    registry/sql/move_units.sql does on the server path.
    """
    query = (
        select(B.id, B.issuance_id, B.serial_start, B.serial_end, Issuance.product,
               Project.region, Issuance.project_id, Issuance.vintage)
        .select_from(blocks_table)
        .join(Issuance, Issuance.id == B.issuance_id)
        .join(Project, Project.id == Issuance.project_id)
        .where(B.account_id == account_id, B.state == state, Issuance.product == product)
        .order_by(B.issuance_id, B.serial_start)
        .with_for_update(of=blocks_table)
    )
    if hold_id is not None:
        query = query.where(B.hold_id == hold_id)
    if project_id is not None:
        query = query.where(Issuance.project_id == project_id)
    if vintage is not None:
        query = query.where(Issuance.vintage == vintage)
    if current_only:
        query = query.where(or_(Issuance.valid_to.is_(None), Issuance.valid_to >= today()))
    if trade:
        query = query.where(Issuance.tradable.is_(True))
    if to_region is not None:
        query = query.where(in_scope(to_region))
    whole: list[Block] = []
    needed = quantity
    for block in _in_serial_order(session, query):
        if block.quantity > needed:
            return whole, (block, needed)
        whole.append(block)
        needed -= block.quantity
        if needed == 0:
            return whole, None
    if state != "held":
        raise insufficient(account_id, product, quantity, needed)
    raise shortfall(session, account_id, product, quantity, needed, trade=trade,
                    to_region=to_region)


# Blocks are read (and locked) a few at a time, each read going on after the last block
# seen, as registry/sql/move_units.sql reads them: one unbounded query would lock and
# fetch every block of a large account (50,000 for a unit's hold), and a prepared
# statement's generic plan would sort them all first. Most moves need a block or two;
# one that needs many reads twice as many each time, so hundreds of blocks cost a
# handful of round trips, not one per ten.
TAKE_CHUNK = 10


def _in_serial_order(session: Session, query: Any) -> Iterator[Block]:
    last, chunk = (0, -1), TAKE_CHUNK
    while True:
        rows = session.connection().execute(
            query.where(tuple_(B.issuance_id, B.serial_start) > tuple_(*last))
            .limit(chunk)).all()
        for row in rows:
            block = Block(*row)
            last = (block.issuance_id, block.start)
            yield block
        if len(rows) < chunk:
            return
        chunk *= 2


def expired(session: Session, product: str, day: date) -> dict[int, list[Block]]:
    """Held blocks of `product` whose issuance was valid only before `day`, per account,
    locked, in serial order."""
    query = (
        select(B.account_id, B.id, B.issuance_id, B.serial_start, B.serial_end,
               Issuance.product, Project.region, Issuance.project_id, Issuance.vintage)
        .select_from(blocks_table)
        .join(Issuance, Issuance.id == B.issuance_id)
        .join(Project, Project.id == Issuance.project_id)
        .where(B.state == "held", Issuance.product == product, Issuance.valid_to < day)
        .order_by(B.account_id, B.issuance_id, B.serial_start)
        .with_for_update(of=blocks_table)
    )
    found: dict[int, list[Block]] = {}
    for account_id, *rest in session.connection().execute(query):
        found.setdefault(account_id, []).append(Block(*rest))
    return found


def today() -> date:
    """The ledger's day: UTC, as the server's current_date in a UTC session."""
    return datetime.now(UTC).date()


def in_scope(region: str) -> Any:
    """Issuances whose scope of trade takes in a holder of `region`."""
    return or_(Issuance.scope_region.is_(None),
               func.substr(region, 1, func.length(Issuance.scope_region))
               == Issuance.scope_region)


def unmovable_units(session: Session, account_id: int, product: str, *, trade: bool,
                    to_region: str | None = None) -> int:
    """Held units of `product` in the account that the product's rules keep still:
    expired ones, for a trade the non-tradable ones, and those out of scope for the
    receiving holder's region."""
    rules = Issuance.valid_to < today()
    if trade:
        rules = or_(rules, Issuance.tradable.is_(False))
    if to_region is not None:
        rules = or_(rules, ~in_scope(to_region))
    total = session.scalar(
        select(func.coalesce(func.sum(B.serial_end - B.serial_start + 1), 0))
        .select_from(blocks_table).join(Issuance, Issuance.id == B.issuance_id)
        .where(B.account_id == account_id, B.state == "held", Issuance.product == product,
               rules))
    return int(total or 0)


def shortfall(session: Session, account_id: int, product: str, quantity: int,
              missing: int, *, trade: bool, to_region: str | None = None
              ) -> InsufficientUnits | NotTradable:
    """The refusal of a move short of units: the product's rule when units it keeps
    still would have covered it, else too few units (both paths say the same)."""
    kept = unmovable_units(session, account_id, product, trade=trade, to_region=to_region)
    if kept == 0:
        return insufficient(account_id, product, quantity, missing)
    have, unit = quantity - missing, product_spec(product).unit
    return NotTradable(
        f"账户 {account_id} 的 {format_quantity(product, kept)} {unit} 按产品规则不可转让"
        f"（不可交易、已过期或超出交易范围），可动用 {format_quantity(product, have)}，"
        f"不足 {format_quantity(product, quantity)} {unit}",
        f"account {account_id}: {format_quantity(product, kept)} {unit} may not move under "
        f"the product's rules (not tradable, expired, or out of its scope of trade for the "
        f"receiver); {format_quantity(product, have)} movable, less than "
        f"{format_quantity(product, quantity)} {unit}")


def insufficient(account_id: int, product: str, quantity: int, missing: int) -> InsufficientUnits:
    have = quantity - missing
    unit = product_spec(product).unit
    return InsufficientUnits(
        f"账户 {account_id} 可用 {format_quantity(product, have)}，"
        f"不足 {format_quantity(product, quantity)} {unit}",
        f"account {account_id} has {format_quantity(product, have)} available, "
        f"less than {format_quantity(product, quantity)} {unit}",
    )


def move(
    session: Session,
    whole: list[Block],
    part: tuple[Block, int] | None,
    to: Place,
    moves: list[list[Any]],
    source: int,
) -> list[str]:
    """Give the chosen units to `to`, record the moves, merge; return the serials moved."""
    conn = session.connection()  # Core straight on the connection: no ORM layer needed
    moved = list(whole)
    if part is not None:
        block, keep = part
        taken = Block(0, block.issuance_id, block.start, block.start + keep - 1, block.product,
                      block.region, block.project_id, block.vintage)
        conn.execute(update(blocks_table).where(B.id == block.id)
                     .values(serial_start=block.start + keep))
        taken.id = conn.execute(
            insert(blocks_table).values(issuance_id=block.issuance_id, serial_start=taken.start,
                                        serial_end=taken.end, **to.values()).returning(B.id)
        ).scalar_one()
        moved.append(taken)
    if whole:
        conn.execute(update(blocks_table).where(B.id.in_([b.id for b in whole]))
                     .values(**to.values()))
    for block in moved:
        moves.append([block.issuance_id, block.start, block.end, source, to.account_id,
                      to.state])
    _merge(session, moved, to)
    return [block.serial for block in moved]


def _merge(session: Session, moved: Sequence[Block], to: Place) -> None:
    """Join the moved blocks with adjacent blocks of the same issuance in the same place.

    The blocks of an issuance tile its range, so sorting the moved blocks with their
    same-place neighbours and joining contiguous runs is enough.
    """
    edges = {b.start - 1 for b in moved} | {b.end + 1 for b in moved}
    same_place = [getattr(B, name).is_(value) if value is None else getattr(B, name) == value
                  for name, value in to.values().items()]
    conn = session.connection()
    rows = conn.execute(
        select(B.id, B.issuance_id, B.serial_start, B.serial_end).where(
            B.issuance_id.in_({b.issuance_id for b in moved}),
            or_(B.serial_end.in_(edges), B.serial_start.in_(edges)),
            *same_place,
        )
    ).all()
    ranges = {b.id: (b.issuance_id, b.start, b.end) for b in moved}
    ranges.update({row[0]: (row[1], row[2], row[3]) for row in rows})
    runs: list[list[tuple[int, int, int, int]]] = []
    for block_id, (issuance_id, start, end) in sorted(ranges.items(), key=lambda kv: kv[1]):
        last = runs[-1][-1] if runs else None
        if last is not None and last[1] == issuance_id and last[3] + 1 == start:
            runs[-1].append((block_id, issuance_id, start, end))
        else:
            runs.append([(block_id, issuance_id, start, end)])
    absorbed: list[int] = []
    for run in runs:
        if len(run) > 1:
            conn.execute(update(blocks_table).where(B.id == run[0][0])
                         .values(serial_end=run[-1][3]))
            absorbed += [block_id for block_id, *_ in run[1:]]
    if absorbed:
        conn.execute(delete(blocks_table).where(B.id.in_(absorbed)))
