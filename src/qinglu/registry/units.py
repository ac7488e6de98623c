"""Unit movements: issue, transfer, retire, cancel, hold/settle/release; balances and look-ups.

Every movement takes whole blocks from the source in serial order (oldest
issuance first), splits the last block if only part of it is needed, moves the
taken blocks, and merges them with adjacent blocks of the same issuance that
end up in the same place, so a busy account does not fragment without bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qinglu.registry.errors import (
    AccountKindNotAllowed,
    InsufficientUnits,
    InvalidInput,
    InvalidSerial,
    InvalidTransition,
    UnknownHold,
)
from qinglu.registry.ledger import WriteContext, run_write
from qinglu.registry.models import (
    Account,
    Cancellation,
    Hold,
    Issuance,
    Product,
    Project,
    Retirement,
    UnitBlock,
)
from qinglu.registry.quantities import format_quantity, product_spec
from qinglu.registry.serials import format_serial, parse_serial
from qinglu.registry.service import _require_text, get_account, get_project, system_account

SOURCE_KINDS = ("holding", "buffer", "escrow")
DESTINATION_KINDS = ("holding", "buffer", "escrow")
MIN_VINTAGE, MAX_VINTAGE = 1990, 2100


def _check_quantity(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidInput(f"数量必须为正整数基本单位：{quantity!r}",
                           f"quantity must be a positive whole number of base units: {quantity!r}")


def _lock_accounts(session: Session, *account_ids: int) -> dict[int, Account]:
    """Lock the accounts a write touches, always in id order, so writers never deadlock."""
    wanted = sorted(set(account_ids))
    found = {
        account.id: account
        for account in session.scalars(
            select(Account).where(Account.id.in_(wanted)).order_by(Account.id)
            .with_for_update().execution_options(populate_existing=True)
        )
    }
    for account_id in wanted:
        if account_id not in found:
            get_account(session, account_id)  # raises UnknownAccount
    return found


def _check_source(account: Account) -> None:
    if account.kind not in SOURCE_KINDS:
        raise AccountKindNotAllowed(
            f"{account.kind} 账户 {account.id} 中的单位不能再移动",
            f"units in {account.kind} account {account.id} cannot move",
        )


def _check_destination(account: Account) -> None:
    if account.kind not in DESTINATION_KINDS:
        raise AccountKindNotAllowed(
            f"不能直接转入 {account.kind} 账户 {account.id}（请用注销或核销）",
            f"cannot transfer into {account.kind} account {account.id} (retire or cancel instead)",
        )


def _lock_source(session: Session, account_id: int, *others: int) -> dict[int, Account]:
    accounts = _lock_accounts(session, account_id, *others)
    _check_source(accounts[account_id])
    return accounts


class SerialNamer:
    """Human serial strings for blocks, caching each issuance's project facts."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[int, tuple[str, str, int, int]] = {}

    def facts(self, issuance_id: int) -> tuple[str, str, int, int]:
        if issuance_id not in self._cache:
            self.prime([issuance_id])
        return self._cache[issuance_id]

    def remember(self, issuance_id: int, facts: Sequence[Any]) -> None:
        product, region, project_id, vintage = facts
        self._cache[issuance_id] = (product, region, project_id, vintage)

    def prime(self, issuance_ids: Sequence[int]) -> None:
        """Load the facts of several issuances in one query (without flushing)."""
        missing = [i for i in set(issuance_ids) if i not in self._cache]
        if not missing:
            return
        with self.session.no_autoflush:
            rows = self.session.execute(
                select(Issuance.id, Issuance.product, Project.region, Issuance.project_id,
                       Issuance.vintage)
                .join(Project, Project.id == Issuance.project_id)
                .where(Issuance.id.in_(missing))
            ).all()
        for issuance_id, product, region, project_id, vintage in rows:
            self._cache[issuance_id] = (product, region, project_id, vintage)

    def name(self, issuance_id: int, start: int, end: int) -> str:
        product, region, project_id, vintage = self.facts(issuance_id)
        return format_serial(product, region, project_id, vintage, start, end)


def _take_blocks(
    session: Session,
    *,
    account_id: int,
    product: str,
    quantity: int,
    state: str = "held",
    hold_id: int | None = None,
    project_id: int | None = None,
    vintage: int | None = None,
    namer: SerialNamer | None = None,
) -> list[UnitBlock]:
    """Lock and take `quantity` units from the account, splitting the last block.

    The same query brings each block's issuance facts for `namer`, saving a round trip.
    """
    query = (
        select(UnitBlock, Issuance.product, Project.region, Issuance.project_id,
               Issuance.vintage)
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .join(Project, Project.id == Issuance.project_id)
        .where(
            UnitBlock.account_id == account_id,
            UnitBlock.state == state,
            Issuance.product == product,
        )
        .order_by(UnitBlock.issuance_id, UnitBlock.serial_start)
        .with_for_update(of=UnitBlock)
    )
    if hold_id is not None:
        query = query.where(UnitBlock.hold_id == hold_id)
    if project_id is not None:
        query = query.where(Issuance.project_id == project_id)
    if vintage is not None:
        query = query.where(Issuance.vintage == vintage)
    taken: list[UnitBlock] = []
    needed = quantity
    for block, *facts in session.execute(query):
        if needed == 0:
            break
        if namer is not None:
            namer.remember(block.issuance_id, facts)
        if block.quantity > needed:
            _split(session, block, needed)
        taken.append(block)
        needed -= block.quantity
    if needed:
        have = quantity - needed
        raise InsufficientUnits(
            f"账户 {account_id} 可用 {format_quantity(product, have)}，"
            f"不足 {format_quantity(product, quantity)} {product_spec(product).unit}",
            f"account {account_id} has {format_quantity(product, have)} available, "
            f"less than {format_quantity(product, quantity)} {product_spec(product).unit}",
        )
    return taken


def _split(session: Session, block: UnitBlock, keep: int) -> UnitBlock:
    """Shrink `block` to its first `keep` units; the rest becomes a new block in place."""
    remainder = UnitBlock(
        issuance_id=block.issuance_id,
        account_id=block.account_id,
        serial_start=block.serial_start + keep,
        serial_end=block.serial_end,
        state=block.state,
        hold_id=block.hold_id,
        retirement_id=block.retirement_id,
        cancellation_id=block.cancellation_id,
    )
    block.serial_end = block.serial_start + keep - 1
    session.add(remainder)
    return remainder


def _same_place(a: UnitBlock, b: UnitBlock) -> bool:
    return (
        a.account_id == b.account_id
        and a.state == b.state
        and a.hold_id == b.hold_id
        and a.retirement_id == b.retirement_id
        and a.cancellation_id == b.cancellation_id
    )


def _merge_neighbours(session: Session, moved: Sequence[UnitBlock]) -> None:
    """Merge moved blocks with adjacent blocks of the same issuance in the same place.

    One query fetches every possible neighbour; since an issuance's blocks tile its
    range, sorting them and joining contiguous same-place pairs is enough.
    """
    issuance_ids = {b.issuance_id for b in moved}
    edges = {b.serial_start - 1 for b in moved} | {b.serial_end + 1 for b in moved}
    # No flush needed first: only the moved blocks' owners changed, not which rows
    # border them, and the identity map hands back the moved objects as changed.
    with session.no_autoflush:
        neighbours = session.scalars(
            select(UnitBlock).where(
                UnitBlock.issuance_id.in_(issuance_ids),
                or_(UnitBlock.serial_end.in_(edges), UnitBlock.serial_start.in_(edges)),
            )
        ).all()
    pool = {b.id: b for b in neighbours} | {b.id: b for b in moved}
    ordered = sorted(pool.values(), key=lambda b: (b.issuance_id, b.serial_start))
    previous: UnitBlock | None = None
    for block in ordered:
        if (
            previous is not None
            and previous.issuance_id == block.issuance_id
            and previous.serial_end + 1 == block.serial_start
            and _same_place(previous, block)
        ):
            previous.serial_end = block.serial_end
            session.delete(block)
            continue
        previous = block


def _move(
    ctx: WriteContext,
    blocks: Sequence[UnitBlock],
    *,
    to_account: int,
    state: str,
    hold_id: int | None = None,
    retirement_id: int | None = None,
    cancellation_id: int | None = None,
    namer: SerialNamer | None = None,
) -> list[str]:
    """Move blocks and record the moves; returns the human serials moved."""
    namer = namer or SerialNamer(ctx.session)
    namer.prime([block.issuance_id for block in blocks])
    serials: list[str] = []
    for block in blocks:
        ctx.moves.append(
            [block.issuance_id, block.serial_start, block.serial_end, block.account_id,
             to_account, state]
        )
        serials.append(namer.name(block.issuance_id, block.serial_start, block.serial_end))
        block.account_id = to_account
        block.state = state
        block.hold_id = hold_id
        block.retirement_id = retirement_id
        block.cancellation_id = cancellation_id
    _merge_neighbours(ctx.session, blocks)
    return serials


def issue(
    session: Session,
    *,
    project_id: int,
    vintage: int,
    quantity: int,
    to_account: int,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Issue a fresh contiguous serial range: one row however large the quantity."""
    _check_quantity(quantity)
    if not MIN_VINTAGE <= vintage <= MAX_VINTAGE:
        raise InvalidInput(f"年份 {vintage} 超出范围", f"vintage {vintage} is out of range")
    request = {"project_id": project_id, "vintage": vintage, "quantity": quantity,
               "to_account": to_account}

    def action(ctx: WriteContext) -> dict[str, Any]:
        project = get_project(ctx.session, project_id)
        _check_destination(_lock_accounts(ctx.session, to_account)[to_account])
        product = ctx.session.scalar(
            select(Product).where(Product.code == project.product).with_for_update()
        )
        assert product is not None  # products are seeded by the migration
        start = product.next_serial
        end = start + quantity - 1
        product.next_serial = end + 1
        issuance = Issuance(project_id=project.id, product=project.product, vintage=vintage,
                            quantity=quantity, serial_start=start, serial_end=end)
        ctx.session.add(issuance)
        ctx.session.flush()
        ctx.session.add(UnitBlock(issuance_id=issuance.id, account_id=to_account,
                                  serial_start=start, serial_end=end, state="held"))
        ctx.moves.append([issuance.id, start, end, None, to_account, "held"])
        serial = format_serial(project.product, project.region, project.id, vintage, start, end)
        return {"id": issuance.id, "product": project.product, "quantity": quantity,
                "serials": [serial]}

    return run_write(session, kind="issue", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def transfer(
    session: Session,
    *,
    from_account: int,
    to_account: int,
    product: str,
    quantity: int,
    actor: str,
    project_id: int | None = None,
    vintage: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    product_spec(product)
    _check_quantity(quantity)
    if from_account == to_account:
        raise InvalidInput("转出与转入账户相同", "from and to are the same account")
    request = {"from_account": from_account, "to_account": to_account, "product": product,
               "quantity": quantity, "project_id": project_id, "vintage": vintage}

    def action(ctx: WriteContext) -> dict[str, Any]:
        accounts = _lock_source(ctx.session, from_account, to_account)
        _check_destination(accounts[to_account])
        namer = SerialNamer(ctx.session)
        blocks = _take_blocks(ctx.session, account_id=from_account, product=product,
                              quantity=quantity, project_id=project_id, vintage=vintage,
                              namer=namer)
        serials = _move(ctx, blocks, to_account=to_account, state="held", namer=namer)
        return {"product": product, "quantity": quantity, "from_account": from_account,
                "to_account": to_account, "serials": serials}

    return run_write(session, kind="transfer", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def retire(
    session: Session,
    *,
    from_account: int,
    product: str,
    quantity: int,
    beneficiary: str,
    purpose: str,
    actor: str,
    case_ref: str | None = None,
    project_id: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Retire units for a beneficiary and purpose: they move to the retirement account
    and never move again."""
    product_spec(product)
    _check_quantity(quantity)
    beneficiary = _require_text("受益人 beneficiary", beneficiary)
    purpose = _require_text("用途 purpose", purpose, limit=2000)
    request = {"from_account": from_account, "product": product, "quantity": quantity,
               "beneficiary": beneficiary, "purpose": purpose, "case_ref": case_ref,
               "project_id": project_id}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return retire_in(ctx, from_account=from_account, product=product, quantity=quantity,
                         beneficiary=beneficiary, purpose=purpose, case_ref=case_ref,
                         project_id=project_id)

    return run_write(session, kind="retire", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def retire_in(
    ctx: WriteContext,
    *,
    from_account: int,
    product: str,
    quantity: int,
    beneficiary: str,
    purpose: str,
    case_ref: str | None = None,
    project_id: int | None = None,
    hold_id: int | None = None,
) -> dict[str, Any]:
    """The retirement itself, inside a caller's ledger write (a case step uses it).

    With `hold_id`, exactly the units escrowed by that hold are retired and the hold
    is settled; otherwise held units are taken in serial order.
    """
    target = system_account(ctx.session, "retirement")
    _lock_source(ctx.session, from_account, target.id)
    if hold_id is not None:
        record = _pending_hold(ctx.session, hold_id)
        blocks = _take_blocks(ctx.session, account_id=from_account, product=product,
                              quantity=quantity, state="escrow", hold_id=hold_id)
        record.quantity -= quantity
        record.status = "settled" if record.quantity == 0 else record.status
    else:
        blocks = _take_blocks(ctx.session, account_id=from_account, product=product,
                              quantity=quantity, project_id=project_id)
    retirement = Retirement(account_id=from_account, product=product, quantity=quantity,
                            beneficiary=beneficiary, purpose=purpose, case_ref=case_ref,
                            serials=[])
    ctx.session.add(retirement)
    ctx.session.flush()
    serials = _move(ctx, blocks, to_account=target.id, state="retired",
                    retirement_id=retirement.id)
    retirement.serials = serials
    facts = {"id": retirement.id, "product": product, "quantity": quantity,
             "from_account": from_account, "beneficiary": beneficiary, "purpose": purpose,
             "case_ref": case_ref, "serials": serials}
    ctx.records["retirement"] = facts
    return dict(facts)


def cancel(
    session: Session,
    *,
    from_account: int,
    product: str,
    quantity: int,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    product_spec(product)
    _check_quantity(quantity)
    reason = _require_text("原因 reason", reason, limit=2000)
    request = {"from_account": from_account, "product": product, "quantity": quantity,
               "reason": reason}

    def action(ctx: WriteContext) -> dict[str, Any]:
        target = system_account(ctx.session, "cancellation")
        _lock_source(ctx.session, from_account, target.id)
        blocks = _take_blocks(ctx.session, account_id=from_account, product=product,
                              quantity=quantity)
        cancellation = Cancellation(account_id=from_account, product=product, quantity=quantity,
                                    reason=reason, serials=[])
        ctx.session.add(cancellation)
        ctx.session.flush()
        serials = _move(ctx, blocks, to_account=target.id, state="cancelled",
                        cancellation_id=cancellation.id)
        cancellation.serials = serials
        return {"id": cancellation.id, "product": product, "quantity": quantity,
                "from_account": from_account, "reason": reason, "serials": serials}

    return run_write(session, kind="cancel", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def hold(
    session: Session,
    *,
    from_account: int,
    product: str,
    quantity: int,
    purpose: str,
    actor: str,
    project_id: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Set units aside in escrow (first phase); they stay the holder's but cannot move."""
    product_spec(product)
    _check_quantity(quantity)
    purpose = _require_text("用途 purpose", purpose, limit=2000)
    request = {"from_account": from_account, "product": product, "quantity": quantity,
               "purpose": purpose, "project_id": project_id}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return hold_in(ctx, from_account=from_account, product=product, quantity=quantity,
                       purpose=purpose, project_id=project_id)

    return run_write(session, kind="hold", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def hold_in(
    ctx: WriteContext,
    *,
    from_account: int,
    product: str,
    quantity: int,
    purpose: str,
    project_id: int | None = None,
) -> dict[str, Any]:
    """The hold itself, inside a caller's ledger write (a case agreement uses it)."""
    _lock_source(ctx.session, from_account)
    blocks = _take_blocks(ctx.session, account_id=from_account, product=product,
                          quantity=quantity, project_id=project_id)
    record = Hold(account_id=from_account, product=product, quantity=quantity,
                  purpose=purpose, status="pending")
    ctx.session.add(record)
    ctx.session.flush()
    serials = _move(ctx, blocks, to_account=from_account, state="escrow", hold_id=record.id)
    return {"id": record.id, "product": product, "quantity": quantity,
            "from_account": from_account, "purpose": purpose, "status": "pending",
            "serials": serials}


def _pending_hold(session: Session, hold_id: int) -> Hold:
    record = session.scalar(
        select(Hold).where(Hold.id == hold_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if record is None:
        raise UnknownHold(f"托管 {hold_id} 不存在", f"hold {hold_id} does not exist")
    if record.status != "pending":
        raise InvalidTransition(f"托管 {hold_id} 已{record.status}",
                                f"hold {hold_id} is already {record.status}")
    return record


def settle(
    session: Session,
    *,
    hold_id: int,
    to_account: int,
    actor: str,
    quantity: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Second phase: deliver held units (all, or `quantity` of them) to `to_account`."""
    if quantity is not None:
        _check_quantity(quantity)
    request = {"hold_id": hold_id, "to_account": to_account, "quantity": quantity}

    def action(ctx: WriteContext) -> dict[str, Any]:
        record = _pending_hold(ctx.session, hold_id)
        _check_destination(_lock_accounts(ctx.session, record.account_id, to_account)[to_account])
        amount = record.quantity if quantity is None else quantity
        blocks = _take_blocks(ctx.session, account_id=record.account_id, product=record.product,
                              quantity=amount, state="escrow", hold_id=record.id)
        serials = _move(ctx, blocks, to_account=to_account, state="held")
        record.quantity -= amount
        if record.quantity == 0:
            record.status = "settled"
        record.settled_to = to_account
        return {"id": record.id, "product": record.product, "quantity": amount,
                "to_account": to_account, "status": record.status,
                "remaining": record.quantity, "serials": serials}

    return run_write(session, kind="settle", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def release(
    session: Session,
    *,
    hold_id: int,
    actor: str,
    quantity: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Second phase, the other way: give held units (all, or `quantity`) back to the holder."""
    if quantity is not None:
        _check_quantity(quantity)
    request = {"hold_id": hold_id, "quantity": quantity}

    def action(ctx: WriteContext) -> dict[str, Any]:
        record = _pending_hold(ctx.session, hold_id)
        _lock_accounts(ctx.session, record.account_id)
        amount = record.quantity if quantity is None else quantity
        blocks = _take_blocks(ctx.session, account_id=record.account_id, product=record.product,
                              quantity=amount, state="escrow", hold_id=record.id)
        serials = _move(ctx, blocks, to_account=record.account_id, state="held")
        record.quantity -= amount
        if record.quantity == 0:
            record.status = "released"
        return {"id": record.id, "product": record.product, "quantity": amount,
                "to_account": record.account_id, "status": record.status,
                "remaining": record.quantity, "serials": serials}

    return run_write(session, kind="release", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def balance(session: Session, account_id: int) -> dict[str, dict[str, str]]:
    """Per product: units held and in escrow (and retired/cancelled for those accounts)."""
    account = get_account(session, account_id)
    rows = session.execute(
        select(Issuance.product, UnitBlock.state,
               func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
        .join(Issuance, Issuance.id == UnitBlock.issuance_id)
        .where(UnitBlock.account_id == account.id)
        .group_by(Issuance.product, UnitBlock.state)
    ).all()
    totals: dict[str, dict[str, int]] = {}
    for product, state, amount in rows:
        totals.setdefault(product, {"held": 0, "escrow": 0})[state] = int(amount)
    return {
        product: {state: format_quantity(product, amount) for state, amount in states.items()}
        for product, states in sorted(totals.items())
    }


def find_serial(session: Session, serial: str) -> list[dict[str, Any]]:
    """Who holds the units of this serial (or range), and in what state."""
    wanted = parse_serial(serial)
    issuances = session.scalars(
        select(Issuance)
        .where(Issuance.product == wanted.product,
               Issuance.serial_start <= wanted.end, Issuance.serial_end >= wanted.start)
        .order_by(Issuance.serial_start)
    ).all()
    if not issuances:
        raise InvalidSerial(f"序列号 {serial} 未发行", f"serial {serial} has not been issued")
    namer = SerialNamer(session)
    found: list[dict[str, Any]] = []
    for issuance in issuances:
        product, region, project_id, vintage = namer.facts(issuance.id)
        if (region, project_id, vintage) != (wanted.region, wanted.project_id, wanted.vintage):
            raise InvalidSerial(
                f"序列号 {serial} 与登记的项目、地区或年份不符",
                f"serial {serial} does not match the registered project, region or vintage",
            )
        blocks = session.scalars(
            select(UnitBlock)
            .where(UnitBlock.issuance_id == issuance.id,
                   UnitBlock.serial_start <= wanted.end, UnitBlock.serial_end >= wanted.start)
            .order_by(UnitBlock.serial_start)
        ).all()
        for block in blocks:
            start, end = max(block.serial_start, wanted.start), min(block.serial_end, wanted.end)
            found.append({
                "serial": namer.name(issuance.id, start, end),
                "block_serial": namer.name(issuance.id, block.serial_start, block.serial_end),
                "account_id": block.account_id,
                "state": block.state,
                "product": product,
                "quantity": format_quantity(product, end - start + 1),
                "issuance_id": issuance.id,
                "project_id": project_id,
                "vintage": vintage,
                "hold_id": block.hold_id,
                "retirement_id": block.retirement_id,
                "cancellation_id": block.cancellation_id,
            })
    return found
